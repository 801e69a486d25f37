"""Errors that carry what was wrong as fields, and the one "did you mean" helper.

A layer raises `UnknownName` or `InvalidValue` with the facts (what kind of thing, the name or
value given, what is allowed, the closest valid names); a caller that adds context (the study
file loader adds the file, line and key) reads those fields instead of parsing the message. Both
are ValueErrors, so `except ValueError` keeps working. A leaf module: it imports nothing from
polybench.

>>> suggest("medain", ["median", "hyperband", "none"])
('median',)
>>> str(UnknownName("sampler", "tpee", ["tpe", "random"]))
"Unknown sampler 'tpee'; allowed: tpe, random. Did you mean 'tpe'?"
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any


def suggest(name: object, allowed: Iterable[object], *, n: int = 3) -> tuple[str, ...]:
    """The (at most `n`) allowed names closest to `name`, best first; () when none is close."""
    names = [str(a) for a in allowed]
    return tuple(difflib.get_close_matches(str(name), names, n=n, cutoff=0.5))


def did_you_mean(name: object, allowed: Iterable[object], *, n: int = 3) -> str:
    """`" Did you mean 'a', 'b'?"` naming the allowed names closest to `name`, or ''."""
    return hint(suggest(name, allowed, n=n))


def hint(suggestions: Sequence[str]) -> str:
    """`" Did you mean 'a', 'b'?"` for `suggestions`, or '' when there are none."""
    return f" Did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""


class UnknownName(ValueError):
    """`name` is not one of the `allowed` names of its `kind` (a loss, a task option, ...).

    `owner` is the thing the name belongs to (`"task 'digits'"` for a task option), or None for
    a top-level name; `suggestions` are the closest allowed names.
    """

    def __init__(
        self,
        kind: str,
        name: object,
        allowed: Iterable[object],
        suggestions: Sequence[str] | None = None,
        *,
        owner: str | None = None,
    ) -> None:
        self.kind = kind
        self.name = name
        self.allowed = tuple(str(a) for a in allowed)
        self.suggestions = (
            suggest(name, self.allowed) if suggestions is None else tuple(suggestions)
        )
        self.owner = owner
        super().__init__(self.render())

    def render(
        self,
        *,
        also: str = "",
        unknown: str = "Unknown",
        head: str | None = None,
        allowed_as: str = "allowed",
    ) -> str:
        """The message; `also` adds a clause after the allowed names (`a task entry also
        takes: ...`); `unknown` is the first word without an owner (lower case mid-line).
        `head` replaces the opening clause and `allowed_as` the word before the allowed names,
        where a place says why the name is refused (`cannot tune 'momentum'; the shared tune
        space allows: ...`)."""
        if head is None:
            head = (
                f"{self.owner} has no {self.kind} {self.name!r}"
                if self.owner
                else f"{unknown} {self.kind} {self.name!r}"
            )
        allowed = ", ".join(self.allowed) or "(none)"
        return f"{head}; {allowed_as}: {allowed}{also}.{hint(self.suggestions)}"

    def __str__(self) -> str:
        return self.render()


class InvalidValue(ValueError):
    """`value` given for `name` (an option of `owner`, when set) is not what `expected`
    describes, or not one of `allowed` (then `suggestions` are the closest)."""

    def __init__(
        self,
        name: str,
        value: Any,
        expected: str = "",
        *,
        owner: str | None = None,
        detail: str = "",
        allowed: Iterable[object] = (),
    ) -> None:
        self.name = name
        self.value = value
        self.expected = expected
        self.owner = owner
        self.detail = detail
        self.allowed = tuple(str(a) for a in allowed)
        self.suggestions = suggest(value, self.allowed) if self.allowed else ()
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.owner} option {self.name!r}" if self.owner else repr(self.name)
        if self.allowed:
            allowed = ", ".join(self.allowed)
            return f"{where} got {self.value!r}; allowed: {allowed}.{hint(self.suggestions)}"
        return f"{where} got {self.value!r}{self.detail}; expected {self.expected}."
