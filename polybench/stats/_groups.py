"""Confirm runs grouped by the parameters they confirmed, so a top-up never pools two settings.

The runner confirms the best search setting of each (task, loss) over the confirm seeds. When a
resumed study's extra search trials change that best setting, the next confirm runs use the new
parameters. Their runs form a new *confirm group*: same task, loss and stored `params`. The
statistics use one group per (task, loss), the *current* one:

1. the group whose params equal those of the best search run (`best_search_runs`: the run
   the runner marked as it picked the confirm parameters, else the best by the search
   objective, ties to the earliest run), when there is one;
2. otherwise the group of the newest confirm run (a baseline added only for the confirm phase
   has no search runs).

Older groups stay in the database and are listed by `confirm_groups`, so reports can say they
exist. The group is derived from the stored params: no schema change is needed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from polybench.stats._search import search_runs
from polybench.vocab import ACCURACY, COMPLETE, CONFIRM, FAILED, higher_is_better

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


def best_search_runs(
    runs: pd.DataFrame,
    objective: str = ACCURACY.val_column,
    higher: bool | None = None,
    *,
    stored: bool = True,
) -> pd.DataFrame:
    """The best search run of each (task, loss): its row of `runs`, indexed by (task, loss).

    The one rule that the runner (whose confirm runs train this run's parameters), the report
    and the dashboard share: the complete search run with the best `objective` value, ties to
    the earliest run. The runner stores its pick (`best_search`); with `stored` (the readers'
    default) a stored pick wins, so a report made while a top-up search runs still names the
    run that was confirmed. `higher` (is better) defaults to the objective's direction
    (`vocab.higher_is_better`).
    """
    higher = higher_is_better(objective) if higher is None else higher
    search = search_runs(runs)
    if objective not in search or search.empty:
        return search.iloc[0:0].set_index(["task", "loss"])
    search = search.dropna(subset=[objective])
    if "run_id" in search:
        search = search.sort_values("run_id", kind="stable")
    best = []
    for _, group in search.groupby(["task", "loss"], sort=True):
        if stored and "best_search" in group and group["best_search"].any():
            group = group[group["best_search"].astype(bool)]
        values = group[objective].to_numpy(np.float64)
        best.append(group.iloc[int(np.argmax(values) if higher else np.argmin(values))])
    columns = list(search.columns)
    return pd.DataFrame(best, columns=columns).set_index(["task", "loss"])


def _best_search_params(runs: pd.DataFrame, objective: str, higher_is_better: bool) -> dict:
    if "params" not in runs:
        return {}
    best = best_search_runs(runs, objective, higher_is_better)
    return dict(zip(best.index, best["params"], strict=True))


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
