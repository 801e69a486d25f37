"""What a task yields (`TaskData`, `Split`), and how raw examples become its splits.

A loader reads a `Source`: raw examples with labels, either in one part ("all", split here,
stratified by class) or with official parts ("train", "test" and maybe "val"). `split_source`,
then `image_splits` / `text_splits` apply, in this order and all fixed by `data_seed`:

1. splitting: "all" -> train / val / test, stratified; "train" + "test" -> val split off train;
2. `subsample`: a stratified fraction of every split (a number > 1 is a training-set size, and
   val / test shrink by the same fraction);
3. `imbalance`: the training split becomes long-tailed with an exponential class profile,
   n_c = n_max * ratio ** (-c / (C - 1)) for class index c (Cui et al. 2019; Cao et al. 2019),
   so class 0 is the largest and class C-1 is `ratio` times smaller; val and test are untouched;
4. tensors: images scaled to [0, 1] and normalized per channel with the training split's mean and
   std; texts tokenized with a vocabulary built from the training split only;
5. `label_noise`: some training labels flipped (`polybench.tasks._noise`), on a random stream of
   its own, so the examples are those of the clean task with the same `data_seed`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import numpy as np
import torch

from polybench.tasks import _text


@dataclass(frozen=True, eq=False)
class Split:
    """One split: `x` (N, C, H, W) float32 images or (N, L) int64 token ids; `y` (N,) int64."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def class_counts(self, num_classes: int) -> list[int]:
        """Examples per class, (num_classes,)."""
        return torch.bincount(self.y, minlength=num_classes).tolist()


@dataclass(frozen=True)
class TrainDefaults:
    """Training settings that suit a task; `fit`, the CLI and the runner use them when unset."""

    model: str
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float = 1e-4
    optimizer: str = "adamw"
    schedule: str = "cosine"


@dataclass(frozen=True, eq=False)
class TaskData:
    """A loaded task. Images: `input_shape` (C, H, W). Text: `vocab_size`, `pad_index` and the
    `vocabulary` (id -> token). With `label_noise`, `train.y` holds the noisy labels the model
    trains on and `clean_train_y` (N,) the true ones (None without noise). Tensors are shared
    between calls with the same options (cached): treat them as read-only."""

    name: str
    kind: str
    num_classes: int
    class_names: tuple[str, ...]
    train: Split
    val: Split
    test: Split
    defaults: TrainDefaults
    input_shape: tuple[int, int, int] | None = None
    vocab_size: int | None = None
    pad_index: int | None = None
    vocabulary: tuple[str, ...] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    clean_train_y: torch.Tensor | None = None

    def plain_options(self) -> dict[str, Any]:
        """The task's options (defaults filled in) as JSON values: paths as strings, label noise
        as {rate, kind}. This is the condition a run trained under."""
        plain = {}
        for name, value in self.options.items():
            if hasattr(value, "to_dict"):
                value = value.to_dict()
            elif isinstance(value, PurePath):
                value = str(value)
            plain[name] = value
        return plain

    def describe(self) -> str:
        """One line: sizes of the splits and the input."""
        shape = (
            f"images {'x'.join(map(str, self.input_shape))}"
            if self.input_shape
            else f"text, vocabulary {self.vocab_size}, length {self.train.x.shape[1]}"
        )
        return (
            f"{self.name}: {self.num_classes} classes, {shape}; train {len(self.train)}, "
            f"val {len(self.val)}, test {len(self.test)}"
        )


@dataclass(frozen=True)
class RawPart:
    """Raw examples of one part. Images: `examples` (N, C, H, W) array; text: a list of
    strings, or of (first, second) pairs. `labels` (N,) class indices."""

    examples: Any
    labels: np.ndarray


@dataclass(frozen=True)
class Source:
    """What a loader read: parts named "all", or "train" and "test" (and maybe "val").
    `image_scale` divides raw pixel values into [0, 1]. `corpus_key` identifies the text corpus
    for the tokenization cache (None: do not cache)."""

    kind: str
    class_names: tuple[str, ...]
    parts: Mapping[str, RawPart]
    image_scale: float = 1.0
    corpus_key: tuple | None = None


def stratified_split(
    labels: np.ndarray, fractions: tuple[float, ...], rng: np.random.Generator
) -> list[np.ndarray]:
    """Indices split per class into len(fractions) + 1 parts; part i takes round(f_i * n_c)
    examples of each class c and the last part the rest. Returns sorted index arrays."""
    parts: list[list[np.ndarray]] = [[] for _ in range(len(fractions) + 1)]
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        start = 0
        for i, fraction in enumerate(fractions):
            take = round(fraction * len(members))
            parts[i].append(members[start : start + take])
            start += take
        parts[-1].append(members[start:])
    return [np.sort(np.concatenate(p)) if p else np.zeros(0, dtype=np.int64) for p in parts]


def stratified_subsample(labels: np.ndarray, fraction: float, rng: np.random.Generator):
    """Sorted indices of a stratified `fraction` of `labels`, at least one per present class."""
    if fraction >= 1.0:
        return np.arange(len(labels))
    chosen = []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        chosen.append(members[: max(1, round(fraction * len(members)))])
    return np.sort(np.concatenate(chosen))


def long_tail_counts(counts: list[int], ratio: float) -> list[int]:
    """Per-class sizes of an exponential long tail: n_c = floor(n_max * ratio ** (-c / (C-1)))
    with n_max the smallest available class size, so every class can supply its share."""
    num_classes = len(counts)
    n_max = min(counts)
    if num_classes == 1:
        return [n_max]
    return [
        max(1, int(n_max * ratio ** (-c / (num_classes - 1)) + 1e-9)) for c in range(num_classes)
    ]


def long_tail(labels: np.ndarray, num_classes: int, ratio: float, rng: np.random.Generator):
    """Sorted indices of a long-tailed subset of `labels` (see `long_tail_counts`)."""
    counts = np.bincount(labels, minlength=num_classes).tolist()
    present = [c for c in range(num_classes) if counts[c] > 0]
    targets = long_tail_counts([counts[c] for c in present], ratio)
    chosen = [
        rng.permutation(np.flatnonzero(labels == c))[:n]
        for c, n in zip(present, targets, strict=True)
    ]
    return np.sort(np.concatenate(chosen))


def take(part: RawPart, indices: np.ndarray) -> RawPart:
    """The examples and labels of `part` at `indices`."""
    if isinstance(part.examples, np.ndarray):
        examples = part.examples[indices]
    else:
        examples = [part.examples[i] for i in indices]
    return RawPart(examples=examples, labels=part.labels[indices])


def split_source(
    source: Source,
    *,
    data_seed: int,
    val_fraction: float,
    test_fraction: float,
    subsample: float | None,
    imbalance: float | None,
) -> dict[str, tuple[str, np.ndarray]]:
    """For each of train / val / test: (source part name, indices into that part)."""
    rng = np.random.default_rng(data_seed)
    parts = source.parts
    if "all" in parts:
        labels = parts["all"].labels
        val, test, train = stratified_split(labels, (val_fraction, test_fraction), rng)
        chosen = {"train": ("all", train), "val": ("all", val), "test": ("all", test)}
    else:
        test = ("test", np.arange(len(parts["test"].labels)))
        if "val" in parts:
            chosen = {
                "train": ("train", np.arange(len(parts["train"].labels))),
                "val": ("val", np.arange(len(parts["val"].labels))),
                "test": test,
            }
        else:
            val, train = stratified_split(parts["train"].labels, (val_fraction,), rng)
            chosen = {"train": ("train", train), "val": ("train", val), "test": test}
    if subsample is not None:
        train_size = len(chosen["train"][1])
        fraction = subsample if subsample <= 1.0 else min(1.0, subsample / max(train_size, 1))
        for name, (part, indices) in chosen.items():
            keep = stratified_subsample(parts[part].labels[indices], fraction, rng)
            chosen[name] = (part, indices[keep])
    if imbalance is not None:
        part, indices = chosen["train"]
        keep = long_tail(parts[part].labels[indices], len(source.class_names), imbalance, rng)
        chosen["train"] = (part, indices[keep])
    return chosen


def image_splits(
    source: Source, chosen: Mapping[str, tuple[str, np.ndarray]]
) -> tuple[dict[str, Split], tuple[int, int, int]]:
    """Images as float32 tensors normalized with the training split's per-channel mean/std."""
    tensors = {}
    for name, (part, indices) in chosen.items():
        raw = take(source.parts[part], indices)
        x = torch.from_numpy(np.ascontiguousarray(raw.examples)).float()
        x.div_(source.image_scale)
        tensors[name] = (x, torch.from_numpy(raw.labels.astype(np.int64)))
    train_x = tensors["train"][0]
    mean = train_x.mean(dim=(0, 2, 3), keepdim=True)
    std = train_x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    splits = {name: Split(x=(x - mean) / std, y=y) for name, (x, y) in tensors.items()}
    return splits, tuple(train_x.shape[1:])


def text_splits(
    source: Source,
    chosen: Mapping[str, tuple[str, np.ndarray]],
    corpus: _text.Corpus,
    *,
    max_length: int,
    min_freq: int,
    max_vocab: int | None,
) -> tuple[dict[str, Split], _text.Vocabulary]:
    """Token-id tensors of (N, L) int64; the vocabulary comes from the training split only.
    `corpus` is the tokenized source (cached by the caller)."""
    train_part, train_rows = chosen["train"]
    vocabulary = _text.build_vocabulary(corpus, train_part, train_rows, min_freq, max_vocab)
    rows = {}
    for name, (part, indices) in chosen.items():
        first, second = corpus.parts[part]
        rows[name] = _text.encode(
            vocabulary,
            [first[i] for i in indices],
            [second[i] for i in indices] if second is not None else None,
            max_length,
        )
    # one width for every split (the longest row, at least 1), so models see one shape
    width = max([len(row) for split_rows in rows.values() for row in split_rows] + [1])
    splits = {}
    for name, (part, indices) in chosen.items():
        labels = source.parts[part].labels[indices].astype(np.int64)
        x = torch.from_numpy(_text.pad(rows[name], width))
        splits[name] = Split(x=x, y=torch.from_numpy(labels))
    return splits, vocabulary
