"""Plain-function forms of every registered loss, for users who want no module.

Each function validates its hyperparameters against the same declarations as the module of the
same name (`polybench.losses.LOSSES[name].hyperparams`) and computes the same value:
`functional.poly1_cross_entropy(z, y, epsilon=2.0) == build_loss("poly1_cross_entropy",
epsilon=2.0)(z, y)`. Shapes: logits `(N, C)` or `(N, C, d1, ...)`; target `(N, d1, ...)` class
indices or float `(N, C, d1, ...)` (one-hot, soft, multi-hot for the sigmoid family).

PolyLoss: Leng et al., "PolyLoss: A Polynomial Expansion Perspective of Classification Loss
Functions", ICLR 2022 (eps = 2 on ImageNet, eps = -1 with focal loss for detection, eps >= -1).
Focal loss: Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from polybench.losses._registry import LOSSES
from polybench.settings import clean_params

Tensor = torch.Tensor
ClassValues = Tensor | Sequence[float] | None

__all__ = [
    "cross_entropy",
    "focal",
    "poly1_cross_entropy",
    "poly1_focal",
    "poly1_sigmoid_focal",
    "polyn_cross_entropy",
    "seed_focal",
    "seed_poly1_focal",
    "sigmoid_focal",
]


def _compute(loss: str, logits: Tensor, target: Tensor, **params: Any) -> Tensor:
    """Check `params` against `loss`'s declarations, then compute it exactly as its module does.

    Each public function below passes its own arguments (`**locals()`), so its signature is the
    only place it lists them.
    """
    spec = LOSSES[loss]
    cleaned = clean_params(loss, spec.hyperparams, params)
    return spec.compute(logits, target, loss=loss, **cleaned)


def cross_entropy(
    logits: Tensor,
    target: Tensor,
    *,
    label_smoothing: float = 0.0,
    weight: ClassValues = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Cross-entropy; the same value and gradient as `torch.nn.functional.cross_entropy`."""
    return _compute("cross_entropy", **locals())


def poly1_cross_entropy(
    logits: Tensor,
    target: Tensor,
    epsilon: float = 1.0,
    *,
    label_smoothing: float = 0.0,
    weight: ClassValues = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Poly-1 cross-entropy `CE + eps * (1 - p_t)`; eps = 0 is cross-entropy."""
    return _compute("poly1_cross_entropy", **locals())


def polyn_cross_entropy(
    logits: Tensor,
    target: Tensor,
    epsilons: Sequence[float] = (1.0,),
    *,
    label_smoothing: float = 0.0,
    weight: ClassValues = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Poly-N cross-entropy `CE + sum_{j=1..N} eps_j (1 - p_t)^j`."""
    return _compute("polyn_cross_entropy", **locals())


def focal(
    logits: Tensor,
    target: Tensor,
    gamma: float = 2.0,
    *,
    alpha: ClassValues = None,
    label_smoothing: float = 0.0,
    weight: ClassValues = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Softmax focal loss `-alpha_t (1 - p_t)^gamma log p_t`; gamma = 0, alpha None is CE."""
    return _compute("focal", **locals())


def poly1_focal(
    logits: Tensor,
    target: Tensor,
    epsilon: float = 1.0,
    gamma: float = 2.0,
    *,
    alpha: ClassValues = None,
    label_smoothing: float = 0.0,
    weight: ClassValues = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Softmax Poly-1 focal loss `focal + eps * (1 - p_t)^(gamma + 1)`."""
    return _compute("poly1_focal", **locals())


def sigmoid_focal(
    logits: Tensor,
    target: Tensor,
    gamma: float = 2.0,
    *,
    alpha: float | None = 0.25,
    weight: ClassValues = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Sigmoid focal loss summed over classes (`torchvision.ops.sigmoid_focal_loss(...).sum(1)`)."""
    return _compute("sigmoid_focal", **locals())


def poly1_sigmoid_focal(
    logits: Tensor,
    target: Tensor,
    epsilon: float = 1.0,
    gamma: float = 2.0,
    *,
    alpha: float | None = 0.25,
    weight: ClassValues = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """The paper's Poly-1 focal loss: sigmoid focal + `sum_c eps * (1 - s_t)^(gamma + 1)`."""
    return _compute("poly1_sigmoid_focal", **locals())


def seed_focal(
    logits: Tensor,
    target: Tensor,
    gamma: float = 2.0,
    *,
    alpha: float = 0.25,
    weight: ClassValues = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """The blog's softmax focal loss (alpha for class 0, 1 - alpha for every other class)."""
    return _compute("seed_focal", **locals())


def seed_poly1_focal(
    logits: Tensor,
    target: Tensor,
    epsilon: float = 1.0,
    gamma: float = 2.0,
    *,
    alpha: float = 0.25,
    weight: ClassValues = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """The blog's Poly-1 focal: `seed_focal + eps * mean_c (1 - s_t)^(gamma + 1)` (sigmoid)."""
    return _compute("seed_poly1_focal", **locals())
