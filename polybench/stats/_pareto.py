"""The accuracy-throughput Pareto front: losses no other loss beats on both at once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from polybench.stats._seeds import confirm_runs
from polybench.vocab import ACCURACY, TRAIN_THROUGHPUT


def non_dominated(points: np.ndarray, maximize: Sequence[bool]) -> np.ndarray:
    """Boolean mask of the points (N, D) that no other point dominates.

    A point dominates another when it is at least as good in every objective and strictly
    better in one. Rows with NaN are never on the front; identical points do not dominate
    each other.
    """
    values = np.asarray(points, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != len(maximize):
        raise ValueError(
            f"points must have shape (N, {len(maximize)}) for {len(maximize)} objectives; "
            f"got {values.shape}"
        )
    signed = values * np.where(np.asarray(maximize, dtype=bool), 1.0, -1.0)
    valid = ~np.isnan(signed).any(axis=1)
    front = valid.copy()
    for i in np.flatnonzero(valid):
        others = signed[valid]
        dominated = np.all(others >= signed[i], axis=1) & np.any(others > signed[i], axis=1)
        front[i] = not dominated.any()
    return front


def pareto_front(
    frame: pd.DataFrame,
    objectives: Mapping[str, bool],
    by: Sequence[str] = ("task",),
) -> pd.Series:
    """`on_front` mask for the rows of `frame`, computed within each group of `by` columns.

    `objectives` maps a column to True (maximize) or False (minimize), e.g.
    `{"test_accuracy": True, "train_throughput": True}`.
    """
    missing = [c for c in [*objectives, *by] if c not in frame]
    if missing:
        raise ValueError(f"pareto_front: columns {missing} not in frame {list(frame.columns)}")
    mask = pd.Series(False, index=frame.index, name="on_front")
    groups = frame.groupby(list(by), sort=False) if by else [(None, frame)]
    for _, group in groups:
        values = group[list(objectives)].to_numpy(dtype=np.float64)
        mask[group.index] = non_dominated(values, list(objectives.values()))
    return mask


def accuracy_throughput_front(
    runs: pd.DataFrame,
    metric: str = ACCURACY.test_column,
    throughput: str = TRAIN_THROUGHPUT,
    higher_is_better: bool = True,
) -> pd.DataFrame:
    """Mean score and throughput per task and loss over the complete confirm runs, with the front.

    Columns: task, loss, n_runs, <metric>, <throughput>, on_front.
    """
    grouped = confirm_runs(runs).groupby(["task", "loss"], sort=True)
    means = grouped[[metric, throughput]].mean()
    means.insert(0, "n_runs", grouped.size())
    means = means.reset_index()
    means["on_front"] = pareto_front(means, {metric: higher_is_better, throughput: True})
    return means
