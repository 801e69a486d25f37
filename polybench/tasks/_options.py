"""Declared, typed options for things users pick by name (tasks, models).

A task or model declares its options once as `Option`s; `validate_options` checks what a user
gave against them and fails with a message that names the owner, the option, the value, what is
allowed and the closest valid names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polybench.errors import InvalidValue, UnknownName


@dataclass(frozen=True)
class Option:
    """One option of a task or model.

    `type` is one of bool, int, float, str, Path, or a structured type: a class with a
    `parse(value)` classmethod (raising ValueError that says what is wrong) and a `SHAPE` string
    for listings, such as `LabelNoise`. `choices` limits a str option; `low` / `high` bound a
    number (inclusive, None = unbounded); `required` options have no default. `nullable` allows
    None (the default `None` means "not set").
    """

    name: str
    type: type
    default: Any = None
    help: str = ""
    choices: tuple[str, ...] | None = None
    low: float | None = None
    high: float | None = None
    required: bool = False
    nullable: bool = True

    def describe(self) -> str:
        """A short human description: `name: type = default` plus its range or choices."""
        kind = self.type.__name__ if self.type is not Path else "path"
        if hasattr(self.type, "parse"):
            kind = self.type.SHAPE
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


def _coerce(owner: str, option: Option, value: Any) -> Any:
    where = f"{owner} option {option.name!r}"
    if value is None:
        if option.nullable and not option.required:
            return None
        raise ValueError(f"{where} must be given (got None); expected {option.describe()}.")
    kind = option.type
    if hasattr(kind, "parse"):
        try:
            return kind.parse(value)
        except ValueError as error:
            raise ValueError(f"{where} {error}") from None
    try:
        if kind is bool:
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered not in {"true", "false", "1", "0", "yes", "no"}:
                    raise ValueError(value)
                value = lowered in {"true", "1", "yes"}
            elif not isinstance(value, (bool, int)):
                raise TypeError(value)
            value = bool(value)
        elif kind is int:
            if isinstance(value, bool):
                raise TypeError(value)
            number = float(value)
            if not number.is_integer():
                raise ValueError(value)
            value = int(number)
        elif kind is float:
            if isinstance(value, bool):
                raise TypeError(value)
            value = float(value)
        elif kind is Path:
            value = Path(value).expanduser()
        elif kind is str and not isinstance(value, str):
            raise TypeError(value)
    except (TypeError, ValueError):
        raise InvalidValue(
            option.name,
            value,
            option.describe(),
            owner=owner,
            detail=f" ({type(value).__name__})",
        ) from None
    if option.choices is not None and value not in option.choices:
        raise InvalidValue(option.name, value, owner=owner, allowed=option.choices)
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if is_number and (
        (option.low is not None and value < option.low)
        or (option.high is not None and value > option.high)
    ):
        raise InvalidValue(option.name, value, option.describe(), owner=owner)
    return value


def validate_options(
    owner: str, declared: Sequence[Option], given: Mapping[str, Any]
) -> dict[str, Any]:
    """Check `given` against `declared`; return every declared option, defaults filled in.

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
            clean[option.name] = _coerce(owner, option, given[option.name])
        elif option.required:
            raise ValueError(f"{owner} needs option {option.name!r} ({option.describe()}).")
        else:
            clean[option.name] = option.default
    return clean
