"""Image models: a small CNN for 8x8 to 32x32 inputs and a ResNet-18 adapted to 32x32."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from polybench.models._registry import DROPOUT, ModelSpec, register
from polybench.tasks import Option, TaskData


def _conv_block(c_in: int, c_out: int, pool: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return layers


class SmallCNN(nn.Module):
    """Three conv-BN-ReLU stages (width, 2 width, 4 width) with 2x2 max pooling after the first
    two while the side is at least 4, global average pooling, dropout and a linear classifier.

    images: (N, C, H, W) -> logits: (N, num_classes). About 0.1 M parameters at width 32."""

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        num_classes: int,
        width: int = 32,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        side, channels = image_size, in_channels
        for i, out in enumerate((width, 2 * width, 4 * width)):
            pool = i < 2 and side >= 4
            layers += _conv_block(channels, out, pool)
            side, channels = (side // 2 if pool else side), out
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(channels, num_classes),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


def resnet18_32(in_channels: int, num_classes: int) -> nn.Module:
    """torchvision's ResNet-18 for 32x32 inputs (as in the CIFAR literature): a 3x3 stride-1
    first convolution and no max pooling, so the last stage still sees 4x4 feature maps."""
    from torchvision.models import resnet18

    model = resnet18(num_classes=num_classes)
    model.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return model


def _image_shape(task: TaskData) -> tuple[int, int, int]:
    assert task.input_shape is not None, "image tasks carry input_shape"
    return task.input_shape


def _build_small_cnn(task: TaskData, options: Mapping[str, Any]) -> nn.Module:
    channels, height, width = _image_shape(task)
    return SmallCNN(
        channels, min(height, width), task.num_classes, options["width"], options["dropout"]
    )


def _build_resnet18(task: TaskData, options: Mapping[str, Any]) -> nn.Module:
    return resnet18_32(_image_shape(task)[0], task.num_classes)


register(
    ModelSpec(
        name="small_cnn",
        kind="image",
        summary="3-stage CNN with BatchNorm for 8x8 to 32x32 images (~0.1 M parameters)",
        build=_build_small_cnn,
        options=(
            Option("width", int, 32, "channels of the first stage (then 2x, 4x)", low=1),
            DROPOUT,
        ),
    )
)
register(
    ModelSpec(
        name="resnet18",
        kind="image",
        summary="torchvision ResNet-18 adapted to 32x32 inputs (3x3 stem, no max pool; 11 M)",
        build=_build_resnet18,
    )
)
