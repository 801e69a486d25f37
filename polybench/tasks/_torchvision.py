"""Image tasks read through torchvision's data set classes, from a local root or downloaded.

Expected layouts under `root` (what torchvision writes when it downloads):
`cifar-10-batches-py/`, `cifar-100-python/`, `MNIST/raw/`, `FashionMNIST/raw/`. `image_folder`
reads torchvision's ImageFolder layout (`root/<class name>/<image file>`).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from polybench.settings import Option
from polybench.tasks._data import RawPart, Source, TrainDefaults
from polybench.tasks._registry import TaskSpec, register

ROOT = Option("root", Path, Path("data"), "folder holding the data set (torchvision's layout)")
DOWNLOAD = Option("download", bool, False, "download into root when missing (needs a network)")


def _local_cifar(base: type) -> type:
    """torchvision's CIFAR class with an existence check in place of the md5 check of files
    that are already there (torchvision still verifies checksums of what it downloads), so
    files in CIFAR's format but of any content load, and 170 MB are not hashed on every load."""

    class LocalCIFAR(base):
        def _check_integrity(self) -> bool:
            folder = os.path.join(self.root, self.base_folder)
            names = [n for n, _ in self.train_list + self.test_list]
            return all(os.path.isfile(os.path.join(folder, n)) for n in names)

        def _load_meta(self) -> None:
            path = os.path.join(self.root, self.base_folder, self.meta["filename"])
            if not os.path.isfile(path):
                raise RuntimeError(f"Dataset metadata file not found: {path}")
            with open(path, "rb") as handle:
                data = pickle.load(handle, encoding="latin1")
            self.classes = data[self.meta["key"]]
            self.class_to_idx = {name: i for i, name in enumerate(self.classes)}

    LocalCIFAR.__name__ = f"Local{base.__name__}"
    return LocalCIFAR


def _open(task: str, factory, root: Path, download: bool, where: str):
    try:
        return factory(root=str(root), train=True, download=download), factory(
            root=str(root), train=False, download=download
        )
    except RuntimeError as error:
        raise FileNotFoundError(
            f"task {task!r}: no usable data under {root / where} ({error}). Put the data set "
            f"there in torchvision's layout, set the task option root=<folder>, or set "
            f"download=true on a machine with a network."
        ) from None


def _reader(task: str, dataset_name: str, where: str, channels_last: bool):
    def read(options: Mapping[str, Any]) -> Source:
        import torchvision.datasets as tvd

        base = getattr(tvd, dataset_name)
        factory = _local_cifar(base) if dataset_name.startswith("CIFAR") else base
        train, test = _open(task, factory, options["root"], options["download"], where)
        parts = {}
        for name, dataset in (("train", train), ("test", test)):
            data = np.asarray(dataset.data)
            images = data.transpose(0, 3, 1, 2) if channels_last else data[:, None]
            parts[name] = RawPart(images, np.asarray(dataset.targets, dtype=np.int64))
        return Source(
            kind="image",
            class_names=tuple(str(c) for c in train.classes),
            parts=parts,
            image_scale=255.0,
        )

    read.__doc__ = f"Train and test parts of torchvision's {dataset_name} under `root`."
    return read


def read_image_folder(options: Mapping[str, Any]) -> Source:
    """Images of an ImageFolder tree (`root/<class>/<file>`), resized to image_size x
    image_size, with 1 (grayscale) or 3 channels; `test_root` / `val_root` are optional
    official parts with the same class folders."""
    import torch
    import torchvision.datasets as tvd
    import torchvision.transforms.v2 as tv

    size, channels = options["image_size"], options["channels"]
    transform = tv.Compose(
        [tv.Grayscale() if channels == 1 else tv.RGB(), tv.PILToTensor(), tv.Resize((size, size))]
    )
    roots = {"all": options["root"]}
    if options["test_root"] is not None:
        roots = {"train": options["root"], "test": options["test_root"]}
        if options["val_root"] is not None:
            roots["val"] = options["val_root"]
    elif options["val_root"] is not None:
        raise ValueError("task 'image_folder': val_root needs test_root as well.")
    parts, classes = {}, None
    for name, root in roots.items():
        if not Path(root).is_dir():
            raise FileNotFoundError(f"task 'image_folder': {name} folder {root} does not exist.")
        try:
            dataset = tvd.ImageFolder(str(root), transform=transform)
        except (FileNotFoundError, RuntimeError) as error:
            raise FileNotFoundError(f"task 'image_folder': {root}: {error}") from None
        if classes is None:
            classes = dataset.classes
        elif dataset.classes != classes:
            raise ValueError(
                f"task 'image_folder': the class folders of {root} ({dataset.classes}) differ "
                f"from those of {options['root']} ({classes})."
            )
        images = torch.stack([image for image, _ in dataset]).numpy()
        parts[name] = RawPart(images, np.asarray(dataset.targets, dtype=np.int64))
    return Source(kind="image", class_names=tuple(classes), parts=parts, image_scale=255.0)


for _name, _dataset, _where, _last, _summary, _defaults in (
    (
        "cifar10",
        "CIFAR10",
        "cifar-10-batches-py",
        True,
        "CIFAR-10 (32x32 colour, 10 classes) via torchvision",
        TrainDefaults("resnet18", 30, 256, 0.1, 5e-4, "sgd", "cosine"),
    ),
    (
        "cifar100",
        "CIFAR100",
        "cifar-100-python",
        True,
        "CIFAR-100 (32x32 colour, 100 classes) via torchvision",
        TrainDefaults("resnet18", 30, 256, 0.1, 5e-4, "sgd", "cosine"),
    ),
    (
        "mnist",
        "MNIST",
        "MNIST/raw",
        False,
        "MNIST (28x28, 10 classes, 60k/10k) via torchvision",
        TrainDefaults("small_cnn", 8, 128, 3e-3),
    ),
    (
        "fashion_mnist",
        "FashionMNIST",
        "FashionMNIST/raw",
        False,
        "Fashion-MNIST (28x28, 10 classes, 60k/10k) via torchvision",
        TrainDefaults("small_cnn", 12, 128, 3e-3),
    ),
):
    register(
        TaskSpec(
            name=_name,
            kind="image",
            summary=_summary,
            read=_reader(_name, _dataset, _where, _last),
            defaults=_defaults,
            options=(ROOT, DOWNLOAD),
            official_split=True,
        )
    )

register(
    TaskSpec(
        name="image_folder",
        kind="image",
        summary="any ImageFolder tree (root/<class>/<image>), resized",
        read=read_image_folder,
        defaults=TrainDefaults("small_cnn", 20, 64, 3e-3),
        options=(
            Option(
                "root",
                Path,
                None,
                "ImageFolder root (all data, or train with test_root)",
                required=True,
            ),
            Option("test_root", Path, None, "optional ImageFolder root of the test part"),
            Option("val_root", Path, None, "optional ImageFolder root of the validation part"),
            Option("image_size", int, 32, "side length images are resized to", low=4),
            Option("channels", int, 3, "1 (grayscale) or 3 (RGB)", low=1, high=3),
        ),
    )
)
