"""`Setting`: the one declaration of something a user sets by name.

A loss declares its hyperparameters, a task or a model its options, each once, as `Setting`s:
the name, the kind of value, the default, the valid range or choices, whether it is searched
(`tunable`, with its search range and log scale) and a line of help. The study-file checks, the
runner's search space, `polybench losses`, `polybench tasks` and `polybench models` all read
these declarations; nothing else repeats a default or a range.

Two checks read them, each keeping the rules its users rely on:

- `clean_params` checks a loss's hyperparameters: numbers must be numbers (no text), and the
  error names the loss (`Loss 'focal': invalid value ...`);
- `validate_options` checks a task's or model's options: text such as `"0.5"` or `"yes"` is
  read as the declared kind, defaults are filled in, and errors are `InvalidValue`s.

`polybench.losses.HyperParam` is this class under the name loss authors know, and
`polybench.tasks.Option(name, type, default, help, ...)` builds one in the order tasks and
models have always used (`Setting.option`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from polybench.errors import InvalidValue, UnknownName

# "float", "int" and "choice" (a str from `choices`) serve losses, tasks and models; "floats" is a
# per-class vector of a loss; "bool", "str" and "path" are options. A structured option's kind is
# a class with a `parse(value)` classmethod (raising ValueError that says what is wrong) and a
# `SHAPE` string for listings, such as `polybench.tasks.LabelNoise`.
Kind = Literal["float", "int", "choice", "floats", "bool", "str", "path"]


@dataclass(frozen=True)
class Setting:
    """One hyperparameter of a loss, or one option of a task or model.

    `low`/`high` bound the valid values (inclusive, None = unbounded; for `kind="floats"` every
    element); `search_low`/`search_high` are the default search range of a `tunable` setting
    (the study runner suggests `trial.suggest_float(name, search_low, search_high, log=log)`).
    `optional` settings accept None, meaning "off" or "not set" (e.g. no class weights); for the
    sigmoid focal `alpha`, `disabled_below=0` also maps negative values to None as torchvision
    does. `required` options have no default: a task or model needs them given.
    """

    name: str
    default: Any = None
    low: float | None = None
    high: float | None = None
    tunable: bool = False
    log: bool = False
    help: str = ""
    kind: Kind | type = "float"
    choices: tuple[str, ...] = ()
    optional: bool = False
    disabled_below: float | None = None
    search_low: float | None = None
    search_high: float | None = None
    required: bool = False

    @classmethod
    def option(
        cls,
        name: str,
        type: type,
        default: Any = None,
        help: str = "",
        choices: Sequence[str] | None = None,
        low: float | None = None,
        high: float | None = None,
        required: bool = False,
        nullable: bool = True,
    ) -> Setting:
        """A task's or model's option, declared by its Python `type` (bool, int, float, str,
        Path or a structured class); None is accepted ("not set") unless `nullable=False`."""
        kind: Kind | type
        if hasattr(type, "parse"):
            kind = type
        elif type is Path:
            kind = "path"
        elif type is str and choices:
            kind = "choice"
        else:
            kind = type.__name__  # type: ignore[assignment]
        return cls(
            name,
            default,
            low=low,
            high=high,
            help=help,
            kind=kind,
            choices=tuple(choices or ()),
            optional=nullable,
            required=required,
        )

    def allowed(self) -> str:
        """Human-readable description of a hyperparameter's valid values (errors, the CLI)."""
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

    def describe(self) -> str:
        """An option's listing: `name: type = default` plus its range or choices."""
        if isinstance(self.kind, str):
            kind = {"path": "path", "choice": "str"}.get(self.kind, self.kind)
        else:
            kind = self.kind.SHAPE  # type: ignore[attr-defined]
        text = f"{self.name}: {kind}"
        if self.required:
            text += " (required)"
        elif self.default is not None:
            text += f" = {self.default}"
        if self.choices:
            text += f" in {{{', '.join(self.choices)}}}"
        if self.low is not None or self.high is not None:
            lo = "-inf" if self.low is None else f"{self.low:g}"
            hi = "inf" if self.high is None else f"{self.high:g}"
            text += f" in [{lo}, {hi}]"
        return text

    def clean(self, loss: str, value: Any) -> Any:
        """A hyperparameter's `value` in canonical form (float, int, str, list of floats or 1-D
        tensor).

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

    def coerce(self, owner: str, value: Any) -> Any:
        """An option's `value` read as its kind (text included), checked against its range.

        Raises:
            ValueError: `InvalidValue` for a value of the wrong kind, range or choice.
        """
        where = f"{owner} option {self.name!r}"
        if value is None:
            if self.optional and not self.required:
                return None
            raise ValueError(f"{where} must be given (got None); expected {self.describe()}.")
        if not isinstance(self.kind, str):
            try:
                return self.kind.parse(value)  # type: ignore[attr-defined]
            except ValueError as error:
                raise ValueError(f"{where} {error}") from None
        try:
            value = _read_as(self.kind, value)
        except (TypeError, ValueError):
            raise InvalidValue(
                self.name,
                value,
                self.describe(),
                owner=owner,
                detail=f" ({type(value).__name__})",
            ) from None
        if self.choices and value not in self.choices:
            raise InvalidValue(self.name, value, owner=owner, allowed=self.choices)
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if is_number and (
            (self.low is not None and value < self.low)
            or (self.high is not None and value > self.high)
        ):
            raise InvalidValue(self.name, value, self.describe(), owner=owner)
        return value

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
    loss: str, hyperparams: Sequence[Setting], params: Mapping[str, Any]
) -> dict[str, Any]:
    """Check a loss's `params` against its `hyperparams`; return the given keys in canonical
    form.

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


def validate_options(
    owner: str, declared: Sequence[Setting], given: Mapping[str, Any]
) -> dict[str, Any]:
    """Check a task's or model's `given` options against `declared`; return every declared
    option, defaults filled in.

    `owner` names the thing in messages, e.g. "task 'digits'". Raises ValueError for unknown
    names, wrong types, out-of-range values and missing required options.
    """
    by_name = {option.name: option for option in declared}
    for name in given:
        if name not in by_name:
            raise UnknownName("option", name, sorted(by_name), owner=owner)
    clean: dict[str, Any] = {}
    for option in declared:
        if option.name in given:
            clean[option.name] = option.coerce(owner, given[option.name])
        elif option.required:
            raise ValueError(f"{owner} needs option {option.name!r} ({option.describe()}).")
        else:
            clean[option.name] = option.default
    return clean


def listed_options(declared: Sequence[Setting]) -> list[dict[str, str]]:
    """Options as `polybench tasks` and `polybench models` list them: name, describe, help."""
    return [{"name": o.name, "describe": o.describe(), "help": o.help} for o in declared]


def _read_as(kind: str, value: Any) -> Any:
    """`value` as an option of `kind`; TypeError or ValueError when it cannot be one."""
    if kind == "bool":
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError(value)
            return lowered in {"true", "1", "yes"}
        if not isinstance(value, (bool, int)):
            raise TypeError(value)
        return bool(value)
    if kind in ("int", "float") and isinstance(value, bool):
        raise TypeError(value)
    if kind == "int":
        number = float(value)
        if not number.is_integer():
            raise ValueError(value)
        return int(number)
    if kind == "float":
        return float(value)
    if kind == "path":
        return Path(value).expanduser()
    if kind in ("str", "choice") and not isinstance(value, str):
        raise TypeError(value)
    return value


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


Option = Setting.option
"""A task's or model's option as a `Setting`, in the order tasks and models declare them:
`Option("width", int, 32, "channels of the first stage", low=1)`."""
