"""What every tab of the dashboard is drawn from: the chosen study, task and metric."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import pandas as pd

from polybench.stats import get_metric


@dataclass(frozen=True, eq=False)
class View:
    """The sidebar's choices plus the study's runs (all tasks, phases and states).

    `metric` is a bare metric name (`accuracy`); `val_column` and `test_column` are the columns
    of the runs frame that hold it.
    """

    storage: str
    study: str
    task: str
    metric: str
    runs: pd.DataFrame
    compare: str | None = None  # another study to show next to this one (Overview)

    @cached_property
    def task_runs(self) -> pd.DataFrame:
        """All runs of the chosen task."""
        return self.runs[self.runs["task"] == self.task]

    @property
    def val_column(self) -> str:
        return get_metric(self.metric).val_column

    @property
    def test_column(self) -> str:
        return get_metric(self.metric).test_column

    @property
    def higher_is_better(self) -> bool:
        return get_metric(self.metric).higher_is_better
