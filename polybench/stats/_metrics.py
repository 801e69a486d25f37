"""The metrics polybench stores per run, and which direction is better for each."""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    """A score stored for every run as `val_<name>` and `test_<name>` columns.

    `higher_is_better` fixes the direction used by ranks, bests and Pareto fronts.
    """

    name: str
    higher_is_better: bool
    help: str

    @property
    def val_column(self) -> str:
        return f"val_{self.name}"

    @property
    def test_column(self) -> str:
        return f"test_{self.name}"


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("accuracy", True, "fraction of correctly classified samples"),
        Metric("macro_f1", True, "F1 score averaged over classes with equal weight"),
        Metric("balanced_accuracy", True, "recall averaged over classes (robust to imbalance)"),
        Metric("ece", False, "expected calibration error (lower is better)"),
    )
}

TEST_METRICS: tuple[str, ...] = tuple(m.test_column for m in METRICS.values())


def get_metric(name: str) -> Metric:
    """The metric called `name` (`accuracy`, or with a `val_`/`test_` prefix).

    Raises ValueError naming the allowed metrics and the closest match.
    """
    bare = name.removeprefix("val_").removeprefix("test_")
    if bare in METRICS:
        return METRICS[bare]
    close = difflib.get_close_matches(bare, list(METRICS), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"Unknown metric {name!r}; expected one of {', '.join(METRICS)}.{hint}")


def objective_higher_is_better(objective: str) -> bool:
    """Whether a search objective column (`val_accuracy`, `val_loss`, ...) is maximised."""
    bare = objective.removeprefix("val_").removeprefix("test_")
    if bare in METRICS:
        return METRICS[bare].higher_is_better
    return bare not in ("loss",)
