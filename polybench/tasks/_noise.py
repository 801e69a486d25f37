"""Label noise on the training split: the `label_noise` option every task takes.

Training with noisy labels is where the choice of loss matters most (robust losses such as
focal or Poly-1 with a negative epsilon are proposed for it), so it is a task condition like
`imbalance`. Two kinds, as in the noisy-label literature:

- `symmetric`: a flipped example gets one of the other C - 1 classes, uniformly at random
  (never its own);
- `asymmetric` (class-dependent, Patrini et al. 2017, "Making Deep Neural Networks Robust to
  Label Noise: a Loss Correction Approach", CVPR): every flipped example of class c gets the one
  fixed class (c + 1) mod C, the "pair flip" that Han et al. 2018 use for any number of classes.

Exactly round(rate * n_c) examples of each class c of the training split are flipped, so the
flipped share equals `rate` to within one example per class. The draw is seeded by `data_seed`
on a stream of its own: a noisy task holds the same examples as the clean task with the same
`data_seed`, only some training labels differ. Validation and test labels stay clean (the common
protocol: model selection on clean labels, accuracy on clean labels).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from polybench.errors import did_you_mean

NOISE_KINDS = ("symmetric", "asymmetric")
# second entropy word of the noise stream: the split, subsample and long tail use data_seed alone
_NOISE_STREAM = 0x4E015E


@dataclass(frozen=True)
class LabelNoise:
    """`rate` in [0, 1): the share of each training class whose label is flipped; `kind`
    symmetric or asymmetric. In a study file: `label_noise: {rate: 0.4, kind: symmetric}`, or
    a bare rate (`label_noise: 0.4`, symmetric)."""

    rate: float
    kind: str = "symmetric"

    SHAPE = "{rate: float in [0, 1), kind: symmetric | asymmetric}"

    @classmethod
    def parse(cls, value: Any) -> LabelNoise:
        """A `LabelNoise` from a mapping {rate, kind}, a bare rate, or a `LabelNoise`.
        ValueError saying which key is wrong and what is allowed."""
        if isinstance(value, LabelNoise):
            value = {"rate": value.rate, "kind": value.kind}
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            value = {"rate": value}
        if not isinstance(value, Mapping):
            raise ValueError(
                f"got {value!r} ({type(value).__name__}); expected a mapping {cls.SHAPE} "
                "or a bare rate."
            )
        unknown = sorted(set(value) - {"rate", "kind"})
        if unknown:
            raise ValueError(
                f"has no key {unknown[0]!r}; expected {cls.SHAPE}."
                + did_you_mean(unknown[0], ("rate", "kind"))
            )
        if "rate" not in value:
            raise ValueError(f"needs a rate; expected {cls.SHAPE}.")
        rate = value["rate"]
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"rate got {rate!r}; expected a number in [0, 1).")
        kind = value.get("kind", "symmetric")
        if kind not in NOISE_KINDS:
            raise ValueError(
                f"kind got {kind!r}; allowed: {', '.join(NOISE_KINDS)}."
                + did_you_mean(kind, NOISE_KINDS)
            )
        if kind == "asymmetric" and rate >= 0.5:
            raise ValueError(
                f"rate got {rate!r} with kind asymmetric; expected a rate below 0.5 (at 0.5 "
                "and above the flipped class outnumbers the true one)."
            )
        return cls(rate=float(rate), kind=str(kind))

    def to_dict(self) -> dict[str, Any]:
        """{"rate": ..., "kind": ...}: the form a study file uses."""
        return {"rate": self.rate, "kind": self.kind}


def asymmetric_targets(num_classes: int) -> np.ndarray:
    """The class each class flips to under asymmetric noise: c -> (c + 1) mod C. No class maps
    to itself (for C >= 2) and every class is the target of exactly one other."""
    return (np.arange(num_classes) + 1) % num_classes


def flip_labels(
    labels: np.ndarray, num_classes: int, noise: LabelNoise, data_seed: int
) -> np.ndarray:
    """A noisy copy of `labels` (N,): round(rate * n_c) examples of each class c flipped.

    The same labels, noise and `data_seed` give the same flips. `labels` is not modified.
    """
    noisy = np.array(labels, dtype=np.int64, copy=True)
    if noise.rate == 0 or len(noisy) == 0:
        return noisy
    if num_classes < 2:
        raise ValueError("'label_noise' needs a task with at least two classes.")
    if noise.kind == "symmetric" and noise.rate >= (num_classes - 1) / num_classes:
        raise ValueError(
            f"'label_noise' rate {noise.rate:g} (symmetric) with {num_classes} classes leaves "
            f"the true label no more likely than any other; expected a rate below "
            f"{(num_classes - 1) / num_classes:g}."
        )
    rng = np.random.default_rng([data_seed, _NOISE_STREAM])
    targets = asymmetric_targets(num_classes)
    for c in range(num_classes):
        members = np.flatnonzero(labels == c)
        flipped = rng.permutation(members)[: round(noise.rate * len(members))]
        if noise.kind == "asymmetric":
            noisy[flipped] = targets[c]
        else:
            # one of the other C - 1 classes: draw from 0..C-2 and skip over c
            other = rng.integers(0, num_classes - 1, size=len(flipped))
            noisy[flipped] = other + (other >= c)
    return noisy
