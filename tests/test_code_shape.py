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


def _body_lines(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from a function's first statement after its docstring to its end."""
    body = function.body
    has_docstring = (
        len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
    )
    first = body[1] if has_docstring else body[0]
    assert function.end_lineno is not None
    return function.end_lineno - first.lineno + 1


def test_no_function_in_the_hot_paths_is_longer_than_a_screen():
    """Training, the runner, the report and the CLI are where changes land most: each function
    fits in a head (at most 60 lines of code below its docstring)."""
    long = [
        f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} ({_body_lines(node)} lines)"
        for part in ("train.py", "runner", "report", "cli")
        for path in _modules(part)
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _body_lines(node) > 60
    ]
    assert long == []


def test_no_name_says_the_same_thing_twice():
    """`pair.task.task` reads as a riddle: an attribute named like the object that holds it
    means two different things share one name (a study file's entry and the registered name
    it picks). Each name says what it is: `pair.task_entry.task`."""
    stutters = [
        f"{path.relative_to(PACKAGE.parent)}:{node.lineno} .{node.value.attr}.{node.attr}"
        for path in _modules()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Attribute)
        and node.attr == node.value.attr
    ]
    assert stutters == []


def test_the_study_file_checks_build_no_unknown_name_message_themselves():
    """'unknown X; allowed: ...; Did you mean' comes from `errors.UnknownName` (its fields and
    its one rendering), so the loader and the checks cannot drift from the rest of polybench.
    The one exception names a choice's values as a list (`'sume' is not one of [...]`)."""
    calls = [
        f"{path.relative_to(PACKAGE.parent)} {function.name}"
        for path in _modules("config")
        for function in ast.walk(ast.parse(path.read_text()))
        if isinstance(function, ast.FunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", None)) in {"did_you_mean", "hint"}
    ]
    assert calls == ["polybench/config/_checks.py _range_problems"]


def _docstrings(tree: ast.Module) -> set[int]:
    """ids of the string constants that are docstrings (of the module, classes and functions)."""
    holders = [tree] + [
        node
        for node in ast.walk(tree)
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
    ]
    return {
        id(holder.body[0].value)
        for holder in holders
        if holder.body
        and isinstance(holder.body[0], ast.Expr)
        and isinstance(holder.body[0].value, ast.Constant)
    }


def test_no_layer_spells_a_metric_a_run_state_or_the_baseline_as_a_literal():
    """Metric names, run states and the baseline loss live in `polybench.vocab`; elsewhere a
    string constant with one of those values is a copy that can drift. Docstrings are prose.
    The losses layer defines `cross_entropy` itself (its registered name), and one message uses
    the English word "failed"."""
    from polybench import vocab

    metrics = [*vocab.METRICS.values(), vocab.LOSS]
    words = {vocab.BASELINE_LOSS, vocab.RUNNING, vocab.COMPLETE, vocab.PRUNED, vocab.FAILED}
    words |= {vocab.TRAIN_LOSS, vocab.TRAIN_THROUGHPUT}
    for metric in metrics:
        words |= {metric.name, metric.val_column, metric.test_column}
    words.discard(vocab.LOSS.name)  # "loss" is also every run's loss-name column
    allowed = {
        ("losses/functional.py", vocab.BASELINE_LOSS),
        ("losses/_softmax.py", vocab.BASELINE_LOSS),
        ("losses/_modules.py", vocab.BASELINE_LOSS),
        ("stats/_baseline.py", vocab.FAILED),  # "diverged" or "failed", a verb in a sentence
    }
    found = []
    for path in _modules():
        where = path.relative_to(PACKAGE).as_posix()
        if where == "vocab.py":
            continue
        tree = ast.parse(path.read_text())
        prose = _docstrings(tree)
        found += [
            f"{where}:{node.lineno} {node.value!r}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value in words
            and id(node) not in prose
            and (where, node.value) not in allowed
        ]
    assert found == []
