"""Confirm runs grouped by the parameters they confirmed, so a top-up never pools two settings.

The runner confirms the best search setting of each (task, loss) over the confirm seeds. When a
resumed study's extra search trials change that best setting, the next confirm runs use the new
parameters. Their runs form a new *confirm group*: same task, loss and stored `params`. The
statistics use one group per (task, loss), the *current* one:

1. the group whose params equal those of the best complete search run (by the search
   objective, ties to the earliest run, as the runner picks it), when there is one;
2. otherwise the group of the newest confirm run (a baseline added only for the confirm phase
   has no search runs).

Older groups stay in the database and are listed by `confirm_groups`, so reports can say they
exist. The group is derived from the stored params: no schema change is needed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from polybench.vocab import ACCURACY, COMPLETE, CONFIRM, FAILED, SEARCH

GROUP_COLUMNS = [
    "task",
    "loss",
    "params",
    "n_runs",
    "n_complete",
    "n_failed",
    "first_run_id",
    "current",
    "best_search",
]


def _best_search_params(runs: pd.DataFrame, objective: str, higher_is_better: bool) -> dict:
    search = runs
    if "phase" in runs:
        search = search[search["phase"] == SEARCH]
    if "state" in runs:
        search = search[search["state"] == COMPLETE]
    if objective not in search or "params" not in search:
        return {}
    search = search.dropna(subset=[objective])
    order = "run_id" if "run_id" in search else None
    best = {}
    for key, group in search.groupby(["task", "loss"], sort=True):
        if order:
            group = group.sort_values(order, kind="stable")
        values = group[objective].to_numpy(np.float64)
        index = int(np.argmax(values) if higher_is_better else np.argmin(values))
        best[key] = group["params"].iloc[index]
    return best


def confirm_groups(
    runs: pd.DataFrame, objective: str = ACCURACY.val_column, higher_is_better: bool = True
) -> pd.DataFrame:
    """One row per (task, loss, params) of the confirm runs; `current` marks the group used.

    Columns: task, loss, params (JSON text), n_runs, n_complete, n_failed, first_run_id,
    current (the group the statistics use), best_search (its params are the best search run's).
    """
    if "phase" not in runs or "params" not in runs:
        return pd.DataFrame(columns=GROUP_COLUMNS)
    confirm = runs[runs["phase"] == CONFIRM]
    if confirm.empty:
        return pd.DataFrame(columns=GROUP_COLUMNS)
    best = _best_search_params(runs, objective, higher_is_better)
    order = "run_id" if "run_id" in confirm else None
    rows = []
    for (task, loss), runs_of_pair in confirm.groupby(["task", "loss"], sort=True):
        params_text = runs_of_pair["params"].fillna("{}").astype(str)
        groups = []
        for params, group in runs_of_pair.groupby(params_text, sort=False):
            ids = group[order] if order else pd.Series(group.index)
            state = group["state"] if "state" in group else pd.Series(COMPLETE, group.index)
            groups.append(
                {
                    "task": task,
                    "loss": loss,
                    "params": params,
                    "n_runs": len(group),
                    "n_complete": int((state == COMPLETE).sum()),
                    "n_failed": int((state == FAILED).sum()),
                    "first_run_id": int(ids.min()),
                    "last_run_id": int(ids.max()),
                    "current": False,
                    "best_search": params == best.get((task, loss)),
                }
            )
        chosen = [g for g in groups if g["best_search"]]
        current = chosen[0] if chosen else max(groups, key=lambda g: g["last_run_id"])
        current["current"] = True
        rows += sorted(groups, key=lambda g: g["first_run_id"])
    frame = pd.DataFrame(rows, columns=GROUP_COLUMNS)
    return frame.astype({"current": bool, "best_search": bool})


def current_confirm_group(
    runs: pd.DataFrame, objective: str = ACCURACY.val_column, higher_is_better: bool = True
) -> pd.DataFrame:
    """The runs frame with the confirm runs of older groups removed (other phases kept)."""
    groups = confirm_groups(runs, objective, higher_is_better)
    if groups.empty or bool(groups["current"].all()):
        return runs
    current = groups[groups["current"]]
    keys = set(zip(current["task"], current["loss"], current["params"], strict=True))
    params_text = runs["params"].fillna("{}").astype(str)
    keep = [
        phase != CONFIRM or (task, loss, params) in keys
        for phase, task, loss, params in zip(
            runs["phase"], runs["task"], runs["loss"], params_text, strict=True
        )
    ]
    return runs[np.asarray(keep, dtype=bool)]
