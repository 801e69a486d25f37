"""Properties of polybench's own source that keep it safe to change, checked on its syntax tree."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "polybench"


def _modules(*parts: str) -> list[Path]:
    root = PACKAGE.joinpath(*parts)
    return [root] if root.suffix == ".py" else sorted(root.rglob("*.py"))


def test_optunas_private_trial_fields_are_never_read():
    """Trial numbers and user attributes carry the runner's bookkeeping: Optuna's internal ids
    and system attributes change between its versions."""
    private = {"_trial_id", "system_attrs"}
    found = [
        f"{path.relative_to(PACKAGE.parent)}:{node.lineno} .{node.attr}"
        for path in _modules()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr in private
    ]
    assert found == []
