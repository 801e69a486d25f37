"""The task registry: `TaskSpec` (what a task is and how to read it), `TASKS`, `load_task`."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from polybench.registry import Registry
from polybench.settings import Option, Setting, listed_options, validate_options
from polybench.tasks import _data, _noise, _text

logger = logging.getLogger(__name__)

COMMON_OPTIONS = (
    Option("data_seed", int, 0, "seed of the split, subsample, long-tail and label-noise draws"),
    Option(
        "subsample",
        float,
        None,
        "fraction (0, 1] of every split, stratified; a number > 1 is a training-set size and "
        "val / test shrink by the same fraction",
        low=1e-9,
    ),
    Option(
        "imbalance",
        float,
        None,
        "make the training split long-tailed: ratio of the largest to the smallest class "
        "(exponential profile; val / test untouched)",
        low=1.0,
    ),
    Option(
        "label_noise",
        _noise.LabelNoise,
        None,
        "flip this share of every training class's labels: symmetric (to any other class) or "
        "asymmetric (class c to c + 1 mod C); a bare number is a symmetric rate; val / test "
        "stay clean",
    ),
    Option(
        "val_fraction",
        float,
        0.1,
        "share of the training data held out for validation",
        low=0.0,
        high=0.9,
    ),
)
TEST_FRACTION = Option(
    "test_fraction",
    float,
    0.15,
    "share held out for test (tasks without an official split)",
    low=0.0,
    high=0.9,
)
TEXT_OPTIONS = (
    Option(
        "tokenizer",
        str,
        "auto",
        "auto (CJK per character, other words whole), char or word",
        choices=_text.TOKENIZERS,
    ),
    Option(
        "max_length", int, 128, "longest token sequence kept (pairs: both sides and <sep>)", low=2
    ),
    Option("min_freq", int, 1, "tokens seen fewer times in the training split become <unk>", low=1),
    Option("max_vocab", int, 50_000, "largest vocabulary, specials included", low=4),
)


@dataclass(frozen=True)
class TaskSpec:
    """A task users pick by name.

    `read(options)` returns the raw `Source` given the task's own options (`options`, e.g. a
    root folder); `official_split` says whether the source comes with its own test part.
    `defaults` are training settings that reach good accuracy on this task.
    """

    name: str
    kind: str
    summary: str
    read: Callable[[Mapping[str, Any]], _data.Source]
    defaults: _data.TrainDefaults
    options: tuple[Setting, ...] = ()
    official_split: bool = False
    text_defaults: Mapping[str, Any] | None = None
    val_fraction: float = 0.1

    @property
    def all_options(self) -> tuple[Setting, ...]:
        """Every option the task accepts: its own, the common ones and the text ones."""
        common = tuple(
            replace(o, default=self.val_fraction) if o.name == "val_fraction" else o
            for o in COMMON_OPTIONS
        )
        extra = () if self.official_split else (TEST_FRACTION,)
        text = ()
        if self.kind == "text":
            overrides = self.text_defaults or {}
            text = tuple(replace(o, default=overrides.get(o.name, o.default)) for o in TEXT_OPTIONS)
        return self.options + common + extra + text


TASKS: Registry[TaskSpec] = Registry("task", plugins="task", sort=True)


def register(spec: TaskSpec) -> TaskSpec:
    """Add a task to `TASKS` (one definition plus this call adds a task)."""
    return TASKS.add(spec.name, spec)


def get_task_spec(name: str) -> TaskSpec:
    """The registered task `name`; ValueError with the closest names when unknown."""
    return TASKS.lookup(name)


def validate_task_options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The task's options with defaults filled in; ValueError naming task, option and value."""
    spec = get_task_spec(name)
    return validate_options(f"task {name!r}", spec.all_options, options)


def load_task(name: str, **options: Any) -> _data.TaskData:
    """Load task `name` with its train / validation / test splits.

    >>> task = load_task("digits", subsample=0.5)
    >>> task.num_classes, task.input_shape
    (10, (1, 8, 8))

    Results are cached per process and options: the tensors are shared, treat them as
    read-only.
    """
    clean = validate_task_options(name, options)
    return _load(name, tuple(sorted(clean.items())))


def load_raw_splits(name: str, **options: Any) -> dict[str, tuple[Any, np.ndarray]]:
    """The examples of each split before tensors: {"train" | "val" | "test": (examples,
    labels)}, the same examples and labels `load_task` gives for the same options (texts as
    strings or (first, second) pairs, images as an (N, C, H, W) array of raw pixels), so that
    other libraries (a scikit-learn baseline) see exactly polybench's split.

    >>> raw = load_raw_splits("review_sentiment_zh", subsample=0.1)
    >>> texts, labels = raw["train"]
    """
    clean = validate_task_options(name, options)
    spec = TASKS[name]
    source = _read(name, _own_key(spec, clean))
    chosen = _split(source, clean)
    raw = {}
    for split, (part, indices) in chosen.items():
        taken = _data.take(source.parts[part], indices)
        raw[split] = (taken.examples, taken.labels.astype(np.int64))
    noise = clean["label_noise"]
    if noise is not None and noise.rate > 0:
        examples, labels = raw["train"]
        noisy = _noise.flip_labels(labels, len(source.class_names), noise, clean["data_seed"])
        raw["train"] = (examples, noisy)
    return raw


def _own_key(spec: TaskSpec, clean: Mapping[str, Any]) -> tuple:
    own = {o.name for o in spec.options}
    return tuple(sorted((k, v) for k, v in clean.items() if k in own))


def _split(source: _data.Source, clean: Mapping[str, Any]) -> dict[str, tuple[str, np.ndarray]]:
    """The indices of each split (train / val / test) in `source`'s parts, by the options."""
    return _data.split_source(
        source,
        data_seed=clean["data_seed"],
        val_fraction=clean["val_fraction"],
        test_fraction=clean.get("test_fraction", 0.0),
        subsample=clean["subsample"],
        imbalance=clean["imbalance"],
    )


@functools.lru_cache(maxsize=4)
def _read(name: str, own_key: tuple) -> _data.Source:
    start = time.perf_counter()
    source = TASKS[name].read(dict(own_key))
    logger.debug("read task %s in %.2f s", name, time.perf_counter() - start)
    return source


@functools.lru_cache(maxsize=4)
def _corpus(name: str, own_key: tuple, tokenizer: str) -> _text.Corpus:
    source = _read(name, own_key)
    return _text.build_corpus({part: raw.examples for part, raw in source.parts.items()}, tokenizer)


@functools.lru_cache(maxsize=8)
def _load(name: str, key: tuple) -> _data.TaskData:
    spec = TASKS[name]
    clean = dict(key)
    own_key = _own_key(spec, clean)
    source = _read(name, own_key)
    chosen = _split(source, clean)
    for split, (_, indices) in chosen.items():
        if len(indices) == 0:
            raise ValueError(
                f"task {name!r}: the {split} split is empty with options {dict(key)}; "
                "raise subsample or the split fractions."
            )
    common = {
        "name": name,
        "kind": spec.kind,
        "num_classes": len(source.class_names),
        "class_names": source.class_names,
        "defaults": spec.defaults,
        "options": clean,
    }
    if spec.kind == "image":
        splits, shape = _data.image_splits(source, chosen)
        return _data.TaskData(
            **common,
            **_with_label_noise(name, splits, clean, len(source.class_names)),
            input_shape=shape,
        )
    corpus = _corpus(name, own_key, clean["tokenizer"])
    splits, vocabulary = _data.text_splits(
        source,
        chosen,
        corpus,
        max_length=clean["max_length"],
        min_freq=clean["min_freq"],
        max_vocab=clean["max_vocab"],
    )
    return _data.TaskData(
        **common,
        **_with_label_noise(name, splits, clean, len(source.class_names)),
        vocab_size=len(vocabulary.tokens),
        pad_index=_text.PAD_INDEX,
        vocabulary=vocabulary.tokens,
    )


def _with_label_noise(
    name: str, splits: dict[str, _data.Split], clean: Mapping[str, Any], num_classes: int
) -> dict[str, Any]:
    """The splits, with the training labels flipped when `label_noise` is set (the clean ones
    kept as `clean_train_y`); validation and test are never touched."""
    noise = clean["label_noise"]
    if noise is None or noise.rate == 0:
        return dict(splits)
    train = splits["train"]
    try:
        noisy = _noise.flip_labels(train.y.numpy(), num_classes, noise, clean["data_seed"])
    except ValueError as error:
        raise ValueError(f"task {name!r} option {error}") from None
    return {
        **splits,
        "train": _data.Split(x=train.x, y=torch.from_numpy(noisy)),
        "clean_train_y": train.y,
    }


def clear_cache() -> None:
    """Forget cached sources, corpora and tasks (e.g. after files on disk changed)."""
    _read.cache_clear()
    _corpus.cache_clear()
    _load.cache_clear()


def describe_tasks() -> list[dict[str, Any]]:
    """Every registered task as plain values: name, kind, summary, defaults, options."""
    from dataclasses import asdict

    from polybench.plugins import load_entry_points

    load_entry_points("task")
    return [
        {
            "name": spec.name,
            "kind": spec.kind,
            "summary": spec.summary,
            "official_split": spec.official_split,
            "defaults": asdict(spec.defaults),
            "options": listed_options(spec.all_options),
        }
        for spec in TASKS.values()
    ]
