"""What the search runs say about each loss's hyperparameters: sensitivity and importances."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from polybench.stats._runs import complete_runs
from polybench.vocab import ACCURACY, PARAM_PREFIX, SEARCH

if TYPE_CHECKING:
    import optuna

logger = logging.getLogger(__name__)

MIN_DISTINCT_VALUES = 3


def search_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The complete search runs of a runs frame."""
    return complete_runs(runs, SEARCH)


def sensitivity(runs: pd.DataFrame, metric: str = ACCURACY.val_column) -> pd.DataFrame:
    """Score against each hyperparameter: one row per complete search run and parameter it set.

    Columns: task, loss, param (name without the `param_` prefix), value, score, run_id.
    Ready to plot score against epsilon or gamma per loss.
    """
    runs = search_runs(runs)
    params = [c for c in runs.columns if c.startswith(PARAM_PREFIX)]
    long = runs.melt(
        id_vars=["task", "loss", "run_id", metric], value_vars=params, var_name="param"
    ).dropna(subset=["value", metric])
    long["param"] = long["param"].str.removeprefix(PARAM_PREFIX)
    long = long.rename(columns={metric: "score"})
    long = long[["task", "loss", "param", "value", "score", "run_id"]]
    long = long.astype({"value": "float64", "score": "float64"})
    return long.sort_values(["task", "loss", "param", "value", "run_id"]).reset_index(drop=True)


SENSITIVITY_COLUMNS = [
    "task",
    "loss",
    "param",
    "n_runs",
    "n_values",
    "value_min",
    "value_max",
    "best_value",
    "best_score",
    "score_min",
    "score_max",
    "score_spread",
    "spearman_rho",
    "spearman_p",
    "note",
]


def sensitivity_summary(
    runs: pd.DataFrame, metric: str = ACCURACY.val_column, higher_is_better: bool = True
) -> pd.DataFrame:
    """How much the score moves with each hyperparameter, per task, loss and parameter.

    Columns: task, loss, param, n_runs, n_values (distinct values tried), value_min, value_max,
    best_value (value of the best-scoring run), best_score, score_min, score_max, score_spread
    (max - min score), spearman_rho and spearman_p (rank correlation of score with the value;
    needs >= 3 distinct values and a score that varies, otherwise NaN with a note).
    """
    rows = []
    for (task, loss, param), group in sensitivity(runs, metric).groupby(
        ["task", "loss", "param"], sort=True
    ):
        value, score = group["value"].to_numpy(), group["score"].to_numpy()
        best = int(np.argmax(score) if higher_is_better else np.argmin(score))
        row = {
            "task": task,
            "loss": loss,
            "param": param,
            "n_runs": len(group),
            "n_values": int(np.unique(value).size),
            "value_min": value.min(),
            "value_max": value.max(),
            "best_value": value[best],
            "best_score": score[best],
            "score_min": score.min(),
            "score_max": score.max(),
            "score_spread": score.max() - score.min(),
            "spearman_rho": np.nan,
            "spearman_p": np.nan,
            "note": None,
        }
        if row["n_values"] < MIN_DISTINCT_VALUES:
            row["note"] = (
                f"only {row['n_values']} distinct value(s) of {param}: no correlation "
                f"(needs >= {MIN_DISTINCT_VALUES})"
            )
        elif row["score_spread"] == 0:
            row["note"] = "the score is the same for every value: no correlation"
        else:
            result = scipy_stats.spearmanr(value, score)
            row["spearman_rho"], row["spearman_p"] = float(result.statistic), float(result.pvalue)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS)
    return frame.astype({"n_runs": "int64", "n_values": "int64"})


def param_importances(study: optuna.Study, seed: int = 0) -> tuple[pd.DataFrame, str | None]:
    """Optuna's fANOVA parameter importances of one study, with a note when there are none.

    Returns (frame with columns param, importance (sums to 1, largest first), note). Needs at
    least 2 complete trials that set a parameter; otherwise the frame is empty and the note
    says why. Seeded, so the same trials give the same importances.
    """
    import optuna

    empty = pd.DataFrame({"param": pd.Series(dtype="str"), "importance": pd.Series(dtype=float)})
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < 2:
        return empty, f"only {len(complete)} complete trial(s): importances need >= 2"
    if not any(t.params for t in complete):
        return empty, "no trial set a hyperparameter: nothing to rank"
    target = None
    if len(study.directions) > 1:
        target = lambda trial: trial.values[0]  # noqa: E731  (first objective: the score)
    try:
        importances = optuna.importance.get_param_importances(
            study,
            evaluator=optuna.importance.FanovaImportanceEvaluator(seed=seed),
            target=target,
        )
    except (ValueError, RuntimeError) as error:
        logger.info("no importances for %s: %s", study.study_name, error)
        return empty, f"Optuna could not compute importances: {error}"
    frame = pd.DataFrame(
        {"param": list(importances), "importance": [float(v) for v in importances.values()]}
    )
    if frame.empty:
        return empty, "the parameters never varied across complete trials: nothing to rank"
    return frame, None
