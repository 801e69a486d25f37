"""The metrics polybench stores per run, and which direction is better for each."""

from __future__ import annotations

from polybench.errors import UnknownName, suggest
from polybench.vocab import METRICS, TEST_COLUMNS, TEST_PREFIX, VAL_PREFIX, Metric, higher_is_better

__all__ = ["METRICS", "TEST_METRICS", "Metric", "get_metric", "objective_higher_is_better"]

TEST_METRICS: tuple[str, ...] = TEST_COLUMNS


def get_metric(name: str) -> Metric:
    """The metric called `name` (`accuracy`, or with a `val_`/`test_` prefix).

    Raises ValueError naming the allowed metrics and the closest match.
    """
    bare = name.removeprefix(VAL_PREFIX).removeprefix(TEST_PREFIX)
    if bare in METRICS:
        return METRICS[bare]
    raise UnknownName("metric", name, METRICS, suggest(bare, METRICS))


objective_higher_is_better = higher_is_better
