"""Hyperparameter declarations: the one place where each loss's knobs, defaults and ranges live.

The loss classes, `validate_params`, the study runner's search space and `polybench losses` all
read these declarations; nothing else repeats a default or a range.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import torch

from polybench.errors import UnknownName

Kind = Literal["float", "int", "choice", "floats"]


@dataclass(frozen=True)
class HyperParam:
    """One hyperparameter of a loss.

    `low`/`high` bound the valid values (None = unbounded; for `kind="floats"` every element);
    `search_low`/`search_high` are the default search range of a `tunable` parameter (the study
    runner suggests `trial.suggest_float(name, search_low, search_high, log=log)`).
    `optional` parameters accept None, meaning "off" (e.g. no class weights); for the sigmoid
    focal `alpha`, `disabled_below=0` also maps negative values to None as torchvision does.
    """

    name: str
    default: Any
    low: float | None = None
    high: float | None = None
    tunable: bool = False
    log: bool = False
    help: str = ""
    kind: Kind = "float"
    choices: tuple[str, ...] = ()
    optional: bool = False
    disabled_below: float | None = None
    search_low: float | None = None
    search_high: float | None = None

    def allowed(self) -> str:
        """Human-readable description of the valid values (used in errors and the CLI)."""
        if self.kind == "choice":
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        elif self.kind == "int":
            text = "an integer"
        elif self.kind == "floats":
            text = "a non-empty list of finite numbers" + _range_text(self.low, self.high, " ")
        else:
            text = "a finite number" + _range_text(self.low, self.high, " ")
        if self.optional:
            text = "None or " + text
        if self.disabled_below is not None:
            text += f" (a value < {_fmt(self.disabled_below)} means None)"
        return text

    def range_text(self) -> str:
        """The valid range as an interval, e.g. `[-1, inf)`; '' where no interval applies."""
        if self.kind in ("choice", "int"):
            return ", ".join(self.choices) if self.kind == "choice" else "integer"
        low = "-inf" if self.low is None else _fmt(self.low)
        high = "inf" if self.high is None else _fmt(self.high)
        return (
            ("(" if self.low is None else "[")
            + f"{low}, {high}"
            + (")" if self.high is None else "]")
        )

    def clean(self, loss: str, value: Any) -> Any:
        """Return `value` in canonical form (float, int, str, list of floats or 1-D tensor).

        Raises:
            ValueError: naming the loss, this parameter, the value and what is allowed.
        """
        if value is None:
            if self.optional:
                return None
            self._reject(loss, value)
        if self.kind == "choice":
            if not isinstance(value, str) or value not in self.choices:
                self._reject(loss, value)
            return value
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                self._reject(loss, value)
            return int(value)
        if self.kind == "floats":
            return self._clean_floats(loss, value)
        number = _as_number(value)
        if number is None:
            self._reject(loss, value)
        if self.disabled_below is not None and number < self.disabled_below:
            return None
        if not self._in_range(number):
            self._reject(loss, value)
        return number

    def _clean_floats(self, loss: str, value: Any) -> list[float] | torch.Tensor:
        if isinstance(value, torch.Tensor):
            if value.dim() != 1 or value.numel() == 0 or not value.is_floating_point():
                self._reject(loss, value)
            # Content checks need the values; on an accelerator they would force a sync, and
            # tensors there come from code, not from a study file, so only CPU tensors are read.
            if value.device.type == "cpu" and not all(self._in_range(v) for v in value.tolist()):
                self._reject(loss, value)
            return value.detach()
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            try:  # numpy arrays and other array-likes
                value = list(value)
            except TypeError:
                self._reject(loss, value)
        numbers = [_as_number(v) for v in value]
        if not numbers or any(n is None or not self._in_range(n) for n in numbers):
            self._reject(loss, value)
        return [float(n) for n in numbers]  # type: ignore[arg-type]

    def _in_range(self, number: float) -> bool:
        if not math.isfinite(number):
            return False
        if self.low is not None and number < self.low:
            return False
        return not (self.high is not None and number > self.high)

    def _reject(self, loss: str, value: Any) -> None:
        raise ValueError(
            f"Loss '{loss}': invalid value {_show(value)} for parameter '{self.name}'; "
            f"allowed: {self.allowed()}."
        )


def clean_params(
    loss: str, hyperparams: Sequence[HyperParam], params: dict[str, Any]
) -> dict[str, Any]:
    """Check `params` against `hyperparams`; return the given keys in canonical form.

    Raises:
        ValueError: for an unknown parameter name (with the closest names) or an invalid value.
    """
    by_name = {hp.name: hp for hp in hyperparams}
    cleaned: dict[str, Any] = {}
    for key, value in params.items():
        if key not in by_name:
            raise UnknownName("parameter", key, by_name, owner=f"Loss '{loss}'")
        cleaned[key] = by_name[key].clean(loss, value)
    return cleaned


def _as_number(value: Any) -> float | None:
    if isinstance(value, torch.Tensor):
        if value.dim() != 0 or value.dtype == torch.bool:
            return None
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return float(value)


def _range_text(low: float | None, high: float | None, prefix: str) -> str:
    if low is not None and high is not None:
        return f"{prefix}in [{_fmt(low)}, {_fmt(high)}]"
    if low is not None:
        return f"{prefix}>= {_fmt(low)}"
    if high is not None:
        return f"{prefix}<= {_fmt(high)}"
    return ""


def _fmt(number: float) -> str:
    return f"{number:g}"


def _show(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"tensor(shape={tuple(value.shape)}, dtype={value.dtype})"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# The shared declarations. Losses list the ones they take; a loss-specific default or range is a
# `replace(...)` of one of these, never a second definition.

EPSILON = HyperParam(
    "epsilon",
    1.0,
    low=-1.0,
    tunable=True,
    search_low=-1.0,
    search_high=10.0,
    help="Poly-1 coefficient of the leading polynomial term; 0 is the base loss. The paper used "
    "2 on ImageNet and -1 with focal loss for detection; >= -1 keeps the loss monotone.",
)
EPSILONS = HyperParam(
    "epsilons",
    (1.0,),
    kind="floats",
    help="Poly-N coefficients eps_1..eps_N of (1 - p_t)^j; eps_j = -1/j for all j leaves only "
    "the tail of the cross-entropy series.",
)
GAMMA = HyperParam(
    "gamma",
    2.0,
    low=0.0,
    tunable=True,
    search_low=0.0,
    search_high=5.0,
    help="Focusing exponent of (1 - p_t)^gamma; 0 removes the modulation.",
)
CLASS_ALPHA = HyperParam(
    "alpha",
    None,
    low=0.0,
    kind="floats",
    optional=True,
    help="Per-class focal weights alpha_c (one per class); None means 1 for every class.",
)
SIGMOID_ALPHA = HyperParam(
    "alpha",
    0.25,
    low=0.0,
    high=1.0,
    tunable=True,
    optional=True,
    disabled_below=0.0,
    search_low=0.05,
    search_high=0.95,
    help="Weight of positives, 1 - alpha of negatives (RetinaNet); None or < 0 disables.",
)
SEED_ALPHA = HyperParam(
    "alpha",
    0.25,
    low=0.0,
    high=1.0,
    tunable=True,
    search_low=0.05,
    search_high=0.95,
    help="alpha for class 0 ('background'), 1 - alpha for every other class (the blog's focal).",
)
LABEL_SMOOTHING = HyperParam(
    "label_smoothing",
    0.0,
    low=0.0,
    high=1.0,
    tunable=True,
    search_low=0.0,
    search_high=0.3,
    help="Mix the target with the uniform distribution, as F.cross_entropy; 0 is off.",
)
LABEL_SMOOTHING_FIXED = replace(LABEL_SMOOTHING, tunable=False, search_low=None, search_high=None)
WEIGHT = HyperParam(
    "weight",
    None,
    low=0.0,
    kind="floats",
    optional=True,
    help="Per-class weights (C,); multiply the whole per-sample loss (Poly term included). "
    "None means 1 for every class.",
)
SIGMOID_WEIGHT = replace(
    WEIGHT,
    help="Per-class weights (C,); weight[c] scales class c's binary term, as in "
    "binary_cross_entropy_with_logits. None means 1 for every class.",
)
IGNORE_INDEX = HyperParam(
    "ignore_index",
    -100,
    kind="int",
    help="Index targets equal to this are ignored (no loss, no gradient, not counted by mean).",
)
REDUCTION = HyperParam(
    "reduction",
    "mean",
    kind="choice",
    choices=("none", "mean", "sum"),
    help="'none': per-sample losses; 'sum'; 'mean': sum / summed weights of non-ignored items.",
)
