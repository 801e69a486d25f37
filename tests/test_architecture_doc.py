"""docs/architecture.md stays true: every module, class or function it names in backticks
(`polybench.x.y`) exists, every layer of the package is on the page, and its links resolve."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import polybench

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"


def _named() -> list[str]:
    return sorted(set(re.findall(r"`(polybench(?:\.\w+)*)`", DOC.read_text(encoding="utf-8"))))


def _resolve(dotted: str) -> object:
    """The object a dotted name names: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            found = getattr(found, attribute)  # AttributeError: the doc names a stale object
        return found
    raise ModuleNotFoundError(dotted)


@pytest.mark.parametrize("dotted", _named())
def test_every_name_in_the_architecture_doc_exists(dotted):
    assert _resolve(dotted) is not None


def test_the_doc_names_enough_and_every_public_subpackage():
    named = _named()
    assert len(named) >= 30
    public = {
        f"polybench.{module.name}"
        for module in pkgutil.iter_modules(polybench.__path__)
        if not module.name.startswith("_")
    }
    assert public <= set(named), f"layers missing from docs/architecture.md: {public - set(named)}"


def test_stale_names_are_caught():
    with pytest.raises(AttributeError):
        _resolve("polybench.tasks._data.assemble")


def test_links_resolve():
    for target in re.findall(r"\]\(([^)#]+)\)", DOC.read_text(encoding="utf-8")):
        assert (DOC.parent / target).exists(), target
