"""What each loss's result cost, and how fast its search finds a good setting.

- `budget_ledger`: per task and loss, the search trials by outcome (complete, pruned, failed),
  the epochs trained and the compute seconds spent, for the search and the confirm phase.
- `expected_best` / `expected_best_curve`: the expected best validation score after k trials
  (Dodge et al., "Show Your Work", EMNLP 2019), computed from the search trials already run.
  With the n scores sorted v_(1) <= ... <= v_(n) and k trials drawn with replacement,
  P(max = v_(i)) = (i / n)^k - ((i - 1) / n)^k, so E[max_k] = sum_i v_(i) w_i and its spread
  is the standard deviation under the same weights. A loss whose curve rises early is easy to
  tune; one that keeps rising needs more trials than it got.
- `search_spread`: with `search.repeats` > 1, how much of the spread between confirm runs
  comes from the search itself: the SD of the repeats' mean test scores against the SD of the
  confirm seeds within a repeat (Bouthillier et al., MLSys 2021).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from polybench.vocab import ACCURACY, COMPLETE, CONFIRM, FAILED, FINISHED_STATES, PRUNED, SEARCH

LEDGER_COLUMNS = [
    "task",
    "loss",
    "search_complete",
    "search_pruned",
    "search_failed",
    "search_epochs",
    "search_seconds",
    "confirm_runs",
    "confirm_epochs",
    "confirm_seconds",
    "epochs_trained",
    "compute_seconds",
]
EXPECTED_BEST_COLUMNS = ["task", "loss", "k", "n_trials", "expected_best", "spread"]
SEARCH_SPREAD_COLUMNS = [
    "task",
    "loss",
    "repeats",
    "n_runs",
    "sd_between_repeats",
    "sd_within_repeats",
    "search_share",
]
_REPEAT = re.compile(r"/repeat(\d+)(?:/confirm)?$")


def search_repeat(optuna_study: object) -> int:
    """The search repeat a run belongs to, from its Optuna study name (`.../repeat2/confirm`
    is repeat 2; a name without `/repeat<r>` is repeat 0)."""
    match = _REPEAT.search(str(optuna_study or ""))
    return int(match.group(1)) if match else 0


def search_spread(runs: pd.DataFrame, metric: str = ACCURACY.test_column) -> pd.DataFrame:
    """How much of the confirm runs' spread comes from the search, per task and loss.

    Only pairs whose complete confirm runs come from at least 2 search repeats get a row.
    `sd_between_repeats`: SD of the repeats' mean `metric`; `sd_within_repeats`: pooled SD of
    the seeds within a repeat; `search_share` = between variance / (between + within).
    """
    confirm = runs[(runs["phase"] == CONFIRM) & (runs["state"] == COMPLETE)] if len(runs) else runs
    rows = []
    for (task, loss), group in confirm.groupby(["task", "loss"], sort=True):
        values = group.assign(repeat=group["optuna_study"].map(search_repeat)).dropna(
            subset=[metric]
        )
        by_repeat = values.groupby("repeat")[metric]
        if by_repeat.ngroups < 2:
            continue
        between = float(by_repeat.mean().var(ddof=1))
        within = float(by_repeat.var(ddof=1).dropna().mean()) if len(values) else float("nan")
        total = between + within
        rows.append(
            {
                "task": task,
                "loss": loss,
                "repeats": int(by_repeat.ngroups),
                "n_runs": len(values),
                "sd_between_repeats": float(np.sqrt(between)),
                "sd_within_repeats": float(np.sqrt(within)),
                "search_share": between / total if total > 0 else float("nan"),
            }
        )
    return pd.DataFrame(rows, columns=SEARCH_SPREAD_COLUMNS)


def budget_ledger(runs: pd.DataFrame) -> pd.DataFrame:
    """What each (task, loss) spent: one row each, columns `LEDGER_COLUMNS`.

    Counts are finished runs (running ones are not counted yet); epochs are the epochs each run
    trained (`epochs_done`: a pruned run counts the epochs it reached); seconds are run wall
    times (a run killed before it finished has none). `epochs_trained` and `compute_seconds`
    add the search and confirm phases.
    """
    rows = []
    finished = runs[runs["state"].isin(FINISHED_STATES)] if len(runs) else runs
    for (task, loss), group in finished.groupby(["task", "loss"], sort=True):
        search = group[group["phase"] == SEARCH]
        confirm = group[group["phase"] == CONFIRM]
        row = {
            "task": task,
            "loss": loss,
            "search_complete": int((search["state"] == COMPLETE).sum()),
            "search_pruned": int((search["state"] == PRUNED).sum()),
            "search_failed": int((search["state"] == FAILED).sum()),
            "search_epochs": int(search["epochs_done"].sum()),
            "search_seconds": float(search["wall_time"].fillna(0).sum()),
            "confirm_runs": len(confirm),
            "confirm_epochs": int(confirm["epochs_done"].sum()),
            "confirm_seconds": float(confirm["wall_time"].fillna(0).sum()),
        }
        row["epochs_trained"] = row["search_epochs"] + row["confirm_epochs"]
        row["compute_seconds"] = row["search_seconds"] + row["confirm_seconds"]
        rows.append(row)
    frame = pd.DataFrame(rows, columns=LEDGER_COLUMNS)
    counts = [c for c in LEDGER_COLUMNS if not c.endswith("seconds") and c not in ("task", "loss")]
    return frame.astype(dict.fromkeys(counts, "int64") | {"task": object, "loss": object})


def expected_best(
    scores: Sequence[float] | np.ndarray, k: int, higher_is_better: bool = True
) -> tuple[float, float]:
    """(expected best score, its standard deviation) after `k` trials drawn with replacement
    from the observed `scores` (Dodge et al. 2019). `higher_is_better=False` gives the
    expected minimum (ECE, loss). NaN for no scores."""
    values = np.asarray(scores, dtype=float)
    values = values[np.isfinite(values)]
    if not len(values) or k < 1:
        return float("nan"), float("nan")
    sign = 1.0 if higher_is_better else -1.0
    ordered = np.sort(sign * values)
    n = len(ordered)
    i = np.arange(1, n + 1)
    weights = (i / n) ** k - ((i - 1) / n) ** k
    mean = float(weights @ ordered)
    variance = max(float(weights @ (ordered - mean) ** 2), 0.0)
    return sign * mean, float(np.sqrt(variance))


def budget_points(n: int) -> list[int]:
    """k = 1, 2, 4, 8, ... up to `n`, and `n` itself."""
    points, k = [], 1
    while k < n:
        points.append(k)
        k *= 2
    return [*points, n] if n >= 1 else []


def expected_best_curve(
    runs: pd.DataFrame,
    metric: str = ACCURACY.val_column,
    higher_is_better: bool = True,
    ks: Iterable[int] | None = None,
) -> pd.DataFrame:
    """The expected best `metric` after k search trials, per task and loss.

    Uses the complete search runs (a pruned trial has no final score). `ks` defaults to
    1, 2, 4, ... up to the pair's number of complete trials. Columns `EXPECTED_BEST_COLUMNS`:
    `expected_best` and `spread` (its standard deviation over draws of k trials).
    """
    keep = (runs["phase"] == SEARCH) & (runs["state"] == COMPLETE) if len(runs) else []
    search = runs[keep] if len(runs) else runs
    rows = []
    for (task, loss), group in search.groupby(["task", "loss"], sort=True):
        scores = group[metric].dropna().to_numpy(dtype=float)
        if not len(scores):
            continue
        for k in list(ks) if ks is not None else budget_points(len(scores)):
            mean, spread = expected_best(scores, int(k), higher_is_better)
            rows.append(
                {
                    "task": task,
                    "loss": loss,
                    "k": int(k),
                    "n_trials": len(scores),
                    "expected_best": mean,
                    "spread": spread,
                }
            )
    frame = pd.DataFrame(rows, columns=EXPECTED_BEST_COLUMNS)
    return frame.astype({"k": "int64", "n_trials": "int64", "task": object, "loss": object})
