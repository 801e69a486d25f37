"""Selecting runs from a runs frame (the store's `runs()` columns), shared by the statistics."""

from __future__ import annotations

import pandas as pd

from polybench.vocab import COMPLETE


def complete_runs(runs: pd.DataFrame, phase: str) -> pd.DataFrame:
    """The complete runs of `phase` in a runs frame; a frame without a `phase` or `state`
    column is taken as of that phase or complete."""
    keep = pd.Series(True, index=runs.index)
    if "phase" in runs:
        keep &= runs["phase"] == phase
    if "state" in runs:
        keep &= runs["state"] == COMPLETE
    return runs[keep]
