"""The DataFrames the store returns: fixed column names, order and dtypes, even when empty.

Text columns are `object` holding `str` or None (the same in pandas 2 and 3), counts are
`int64`, numbers that may be missing are `float64` (NaN) or nullable `Int64`, times are UTC.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from polybench.db._models import ENVIRONMENT_KEYS, METRICS
from polybench.vocab import (
    ACCURACY,
    BALANCED_ACCURACY,
    ECE,
    LOSS,
    MACRO_F1,
    PARAM_PREFIX,
    TRAIN_LOSS,
    TRAIN_THROUGHPUT,
)

if TYPE_CHECKING:
    import pandas as pd

TIME = "datetime64[ns, UTC]"

RUN_COLUMNS: dict[str, str] = {
    "run_id": "int64",
    "study": "object",
    "task": "object",
    "model": "object",
    "loss": "object",
    "params": "object",
    "seed": "int64",
    "init_seed": "Int64",
    "order_seed": "Int64",
    "data_seed": "Int64",
    "phase": "object",
    "state": "object",
    "failure_reason": "object",
    "optuna_study": "object",
    "trial_number": "Int64",
    "best_search": "bool",
    **dict.fromkeys(METRICS, "float64"),
    TRAIN_THROUGHPUT: "float64",
    "eval_throughput": "float64",
    "wall_time": "float64",
    "epochs_done": "int64",
    "host": "object",
    "device": "object",
    "torch_version": "object",
    "threads": "Int64",
    "git_commit": "object",
    "started_at": TIME,
    "finished_at": TIME,
}
"""Columns of `Store.runs()` in order; `param_<name>` float64 columns follow, sorted by name."""

EPOCH_COLUMNS: dict[str, str] = {
    "run_id": "int64",
    "epoch": "int64",
    TRAIN_LOSS: "float64",
    LOSS.val_column: "float64",
    ACCURACY.val_column: "float64",
    "lr": "float64",
    "seconds": "float64",
    TRAIN_THROUGHPUT: "float64",
    MACRO_F1.val_column: "float64",
    BALANCED_ACCURACY.val_column: "float64",
    ECE.val_column: "float64",
}
"""Columns of `Store.epochs()` in order."""

STUDY_COLUMNS: dict[str, str] = {
    "study": "object",
    "created_at": TIME,
    "polybench_version": "object",
    "config_text": "object",
    "runs": "int64",
}
"""Columns of `Store.studies()` in order."""

LOSS_COST_COLUMNS: dict[str, str] = {
    "study": "object",
    "task": "object",
    "loss": "object",
    "batch_size": "int64",
    "num_classes": "int64",
    "device": "object",
    "ratio": "float64",
    "ratio_low": "float64",
    "ratio_high": "float64",
    "seconds": "float64",
    "rounds": "int64",
    "host": "object",
    "measured_at": TIME,
}
"""Columns of `Store.loss_costs()` in order."""

assert set(ENVIRONMENT_KEYS) <= set(RUN_COLUMNS)


def frame(rows: Sequence[Sequence[Any]], columns: Mapping[str, str]) -> pd.DataFrame:
    """A DataFrame of `rows` (tuples in `columns` order) with exactly the given dtypes."""
    import pandas as pd

    values = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
    data = {}
    for (name, dtype), column in zip(columns.items(), values, strict=True):
        if dtype == TIME:
            times = pd.to_datetime(pd.Series(column, dtype=object), utc=True)
            data[name] = times.astype(TIME)
        elif dtype == "float64":
            data[name] = pd.Series([math.nan if v is None else v for v in column], dtype=dtype)
        else:
            data[name] = pd.Series(list(column), dtype=dtype)
    return pd.DataFrame(data, columns=list(columns))


def add_param_columns(runs: pd.DataFrame, params: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Append one float64 `param_<name>` column per hyperparameter name in `params` (sorted);
    runs without that name, or with a non-numeric value, get NaN."""
    import pandas as pd

    names = sorted({name for run_params in params for name in run_params})
    columns = {
        f"{PARAM_PREFIX}{name}": pd.Series(
            [_as_float(run_params.get(name)) for run_params in params], dtype="float64"
        )
        for name in names
    }
    if not columns:
        return runs
    return pd.concat([runs, pd.DataFrame(columns, index=runs.index)], axis=1)


def _as_float(value: Any) -> float:
    if isinstance(value, bool | int | float):
        return float(value)
    return math.nan
