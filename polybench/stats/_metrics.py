"""The metrics polybench stores per run, and which direction is better for each."""

from __future__ import annotations

import difflib

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
    close = difflib.get_close_matches(bare, list(METRICS), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"Unknown metric {name!r}; expected one of {', '.join(METRICS)}.{hint}")


objective_higher_is_better = higher_is_better
