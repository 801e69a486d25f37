"""One registry type for everything users pick by name: losses, tasks, models, samplers, pruners.

A `Registry` is a dict from name to entry (so `name in LOSSES`, `TASKS[name]` and iteration keep
working) that adds an entry once, refuses a second entry under a taken name, and looks a name up
with the installed plug-ins loaded first, failing with `UnknownName` (the allowed names and the
closest ones) when it is still missing.

>>> colours = Registry("colour")
>>> colours.add("red", "#f00")
'#f00'
>>> colours.lookup("rde")
Traceback (most recent call last):
...
polybench.errors.UnknownName: Unknown colour 'rde'; allowed: red. Did you mean 'red'?
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from polybench.errors import UnknownName

T = TypeVar("T")


class Registry(dict[str, T]):
    """Entries by name. `kind` names them in messages (`loss`, `task`); `plugins` is the
    entry-point kind (`polybench.plugins.ENTRY_POINT_GROUPS`) loaded before an unknown name
    is refused, or None; `sort` lists the allowed names sorted instead of in registry order."""

    def __init__(
        self,
        kind: str,
        *,
        plugins: str | None = None,
        sort: bool = False,
        entries: Mapping[str, T] | None = None,
    ) -> None:
        super().__init__()
        self.kind = kind
        self.plugins = plugins
        self.sort = sort
        for name, entry in (entries or {}).items():
            self.add(name, entry)

    def add(self, name: str, entry: T) -> T:
        """Register `entry` as `name` (the same entry again is a no-op) and return it.

        Raises ValueError when another entry already has the name.
        """
        if self.get(name) is entry:
            return entry
        if name in self:
            raise ValueError(
                f"{self.kind} {name!r} is registered twice ({self[name]!r} and {entry!r})"
            )
        self[name] = entry
        return entry

    def lookup(self, name: str) -> T:
        """The entry registered as `name`, loading installed plug-ins first if it is missing.

        Raises UnknownName with the allowed and the closest names.
        """
        if isinstance(name, str) and name not in self and self.plugins is not None:
            from polybench.plugins import load_entry_points

            load_entry_points(self.plugins)
        if isinstance(name, str) and name in self:
            return self[name]
        raise UnknownName(self.kind, name, self.names())

    def names(self) -> list[str]:
        """The registered names, sorted or in registry order (`sort`)."""
        return sorted(self) if self.sort else list(self)
