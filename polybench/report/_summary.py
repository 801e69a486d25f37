"""The summary table: one row per task and loss, from the runs frame (pure, no database)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd

from polybench import stats

SUMMARY_COLUMNS = [
    "task",
    "loss",
    "metric",
    "best_params",
    "n_trials",
    "val_score",
    "n_seeds",
    "test_mean",
    "test_std",
    "ci_low",
    "ci_high",
    "t_low",
    "t_high",
    "delta",
    "delta_ci_low",
    "delta_ci_high",
    "t_test",
    "p_value",
    "p_holm",
    "hedges_g",
    "train_throughput",
    "train_throughput_low",
    "train_throughput_high",
    "throughput_p",
    "throughput_note",
    "eval_throughput",
    "loss_cost_ratio",
    "loss_cost_low",
    "loss_cost_high",
    "rank",
    "note",
]


def summarize(
    runs: pd.DataFrame,
    metric: str = "accuracy",
    baseline: str = stats.BASELINE,
    *,
    confidence: float = stats.CONFIDENCE,
    resamples: int = stats.BOOTSTRAP_RESAMPLES,
    seed: int = stats.BOOTSTRAP_SEED,
    loss_costs: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The summary of a study's runs frame: one row per task and loss (see `SUMMARY_COLUMNS`).

    - best_params: the params of the confirm runs (JSON), else of the best search run;
      val_score: that best search run's validation score (mean confirm validation score when
      there was no search); n_trials: complete search runs.
    - n_seeds, test_mean, test_std, ci_low/ci_high (percentile bootstrap over seeds),
      t_low/t_high (t-interval): the test metric over the complete confirm runs.
    - delta (loss - baseline) with delta_ci_low/high (bootstrap), t_test ("paired t" or
      "Welch t"), p_value (raw, two-sided), p_holm (Holm over the losses of the task), hedges_g.
    - train/eval_throughput: mean samples/s of the confirm runs (search runs if none);
      train_throughput_low/high: its t-interval over those runs; throughput_p: Welch's t-test
      against the baseline's runs; throughput_note: "within noise of <baseline>" (p >= 0.05),
      or "faster than" / "slower than" it.
    - loss_cost_ratio, loss_cost_low/high: forward + backward time of the loss against
      cross-entropy on the task's batch shape (median and quartiles over interleaved rounds,
      from `loss_costs`, the store's `loss_costs()` frame); NaN when not measured.
    - rank: 1 = best test_mean within the task; note: why a number is missing, in words.

    `attrs` carries metric, baseline, ci_method and confidence.
    """
    spec = stats.get_metric(metric)
    val, test = spec.val_column, spec.test_column
    confirm, search = stats.confirm_runs(runs), stats.search_runs(runs)
    by_seed = stats.seed_summary(
        runs, [test], confidence=confidence, resamples=resamples, seed=seed
    ).set_index(["task", "loss"])
    versus = stats.compare_to_baseline(
        runs, baseline, [test], confidence=confidence, resamples=resamples, seed=seed
    ).set_index(["task", "loss"])
    rows = []
    for (task, loss), group in runs.groupby(["task", "loss"], sort=True):
        confirmed = confirm[(confirm["task"] == task) & (confirm["loss"] == loss)]
        searched = search[(search["task"] == task) & (search["loss"] == loss)]
        searched = searched.dropna(subset=[val])
        row: dict = {"task": task, "loss": loss, "metric": spec.name}
        row["n_trials"] = len(searched)
        notes = []
        if len(searched):
            best = searched[val].idxmax() if spec.higher_is_better else searched[val].idxmin()
            row["val_score"] = searched.loc[best, val]
            row["best_params"] = searched.loc[best, "params"]
        elif len(confirmed):
            row["val_score"] = confirmed[val].mean()
        if len(confirmed):
            row["best_params"] = confirmed["params"].iloc[0]
        timed = confirmed if len(confirmed) else searched
        row["train_throughput"] = timed["train_throughput"].mean() if len(timed) else np.nan
        row["eval_throughput"] = timed["eval_throughput"].mean() if len(timed) else np.nan
        row |= _throughput_interval(timed, confidence)
        row |= _loss_cost(loss_costs, task, loss)
        if (task, loss) in by_seed.index:
            seeds = by_seed.loc[(task, loss)]
            row |= {
                "n_seeds": seeds["n_seeds"],
                "test_mean": seeds["mean"],
                "test_std": seeds["std"],
                "ci_low": seeds["ci_low"],
                "ci_high": seeds["ci_high"],
                "t_low": seeds["t_low"],
                "t_high": seeds["t_high"],
            }
        else:
            row["n_seeds"] = 0
            notes.append("no complete confirm runs")
        compare_note = None
        if (task, loss) in versus.index:
            compared = versus.loc[(task, loss)]
            for column in ["delta", "delta_ci_low", "delta_ci_high", "t_test", "p_value"]:
                row[column] = compared[column]
            row["p_holm"], row["hedges_g"] = compared["p_holm"], compared["hedges_g"]
            if isinstance(compared["note"], str) and row["n_seeds"]:
                compare_note = compared["note"]
        elif loss == baseline:
            row["delta"] = 0.0 if row["n_seeds"] else np.nan
            notes.append("baseline")
        if compare_note:
            notes.append(compare_note)
        elif row["n_seeds"] and isinstance(by_seed.loc[(task, loss), "note"], str):
            notes.append(by_seed.loc[(task, loss), "note"])
        failed = int((group["state"] == "failed").sum())
        if failed:
            notes.append(f"{failed} failed run(s) not counted")
        row["note"] = "; ".join(notes) or None
        rows.append(row)
    frame = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    _compare_throughput(frame, runs, confirm, search, baseline)
    frame["rank"] = frame.groupby("task")["test_mean"].rank(
        ascending=not spec.higher_is_better, method="average"
    )
    frame = frame.astype({"n_trials": "int64", "n_seeds": "int64"})
    for column in ("task", "loss", "metric", "best_params", "t_test", "throughput_note", "note"):
        # text as object holding str or None, like the store's frames (pandas 2 and 3 alike)
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    frame.attrs |= {
        "metric": spec.name,
        "baseline": baseline,
        "confidence": confidence,
        "ci_method": stats.bootstrap_description(confidence, resamples, seed),
    }
    return frame


def _timed_runs(runs: pd.DataFrame) -> pd.Series:
    values = runs.loc[runs["state"] == "complete", "train_throughput"]
    return values.dropna()


def _throughput_interval(timed: pd.DataFrame, confidence: float) -> dict[str, float]:
    values = _timed_runs(timed)
    if len(values) < 2:
        return {"train_throughput_low": np.nan, "train_throughput_high": np.nan}
    interval = stats.t_interval(values.to_numpy(), confidence)
    return {"train_throughput_low": interval.low, "train_throughput_high": interval.high}


def _loss_cost(loss_costs: pd.DataFrame | None, task: str, loss: str) -> dict[str, float]:
    empty = {"loss_cost_ratio": np.nan, "loss_cost_low": np.nan, "loss_cost_high": np.nan}
    if loss_costs is None or loss_costs.empty:
        return empty
    match = loss_costs[(loss_costs["task"] == task) & (loss_costs["loss"] == loss)]
    if match.empty:
        return empty
    first = match.iloc[0]
    return {
        "loss_cost_ratio": float(first["ratio"]),
        "loss_cost_low": float(first["ratio_low"]),
        "loss_cost_high": float(first["ratio_high"]),
    }


def _compare_throughput(
    frame: pd.DataFrame,
    runs: pd.DataFrame,
    confirm: pd.DataFrame,
    search: pd.DataFrame,
    baseline: str,
    alpha: float = 0.05,
) -> None:
    """Fill throughput_p and throughput_note: each loss's training throughput against the
    baseline's (the same runs the means use), by Welch's t-test."""
    frame["throughput_p"] = np.nan
    frame["throughput_note"] = None
    for index, row in frame.iterrows():
        if row["loss"] == baseline:
            continue

        def timed(loss: str, task: str = row["task"]) -> pd.Series:
            chosen = confirm[(confirm["task"] == task) & (confirm["loss"] == loss)]
            if chosen.empty:
                chosen = search[(search["task"] == task) & (search["loss"] == loss)]
            return _timed_runs(chosen)

        mine, theirs = timed(row["loss"]), timed(baseline)
        if len(mine) < 2 or len(theirs) < 2:
            continue
        if mine.std(ddof=1) == 0 and theirs.std(ddof=1) == 0:
            continue
        p = stats.welch_t_test(mine.to_numpy(), theirs.to_numpy()).p_value
        frame.loc[index, "throughput_p"] = p
        if p >= alpha:
            note = f"within noise of {baseline} (Welch p={format_p(p)})"
        elif mine.mean() > theirs.mean():
            note = f"faster than {baseline} (Welch p={format_p(p)})"
        else:
            note = f"slower than {baseline} (Welch p={format_p(p)})"
        frame.loc[index, "throughput_note"] = note


def ranking(summary: pd.DataFrame, alpha: float = 0.05) -> stats.FriedmanResult:
    """Average ranks, Friedman test and Nemenyi post-hoc over the tasks of a summary table."""
    spec = stats.get_metric(summary.attrs.get("metric", "accuracy"))
    scores = summary.pivot_table(index="task", columns="loss", values="test_mean", dropna=False)
    scores = scores.dropna(how="all")
    return stats.friedman(scores, higher_is_better=spec.higher_is_better, alpha=alpha)


def verdicts(summary: pd.DataFrame, alpha: float = 0.05) -> list[str]:
    """One sentence per task: which loss is best, by how much over the baseline, beyond noise?

    "Beyond noise" means the Holm-adjusted p-value of the difference is below `alpha`.
    """
    metric = summary.attrs.get("metric", "accuracy")
    baseline = summary.attrs.get("baseline", stats.BASELINE)
    if summary.empty:
        study = f"study {summary.attrs['study']!r}" if "study" in summary.attrs else "this study"
        return [f"No runs stored for {study} yet: `polybench run STUDY.yaml` writes them."]
    lines = []
    for task, rows in summary.groupby("task", sort=True):
        ranked = rows.dropna(subset=["test_mean"])
        if ranked.empty:
            lines.append(f"{task}: no complete confirm runs yet, so no test {metric} to compare.")
            continue
        # among equals the baseline comes first, so a tie is compared with the baseline
        order = ranked.assign(other=ranked["loss"] != baseline)
        ranked = order.sort_values(["rank", "other", "loss"]).drop(columns="other")
        best = ranked.iloc[0]
        tied = ranked.loc[ranked["rank"] == best["rank"], "loss"].tolist()
        verb = f"{' and '.join(tied)} tie for best" if len(tied) > 1 else f"best is {best['loss']}"
        head = f"{task}: {verb} (test {metric} {_mean_ci(best)})"
        if best["loss"] == baseline:
            runner_up = ranked.iloc[1:2]
            if runner_up.empty:
                lines.append(f"{head}; no other loss to compare with.")
                continue
            other = runner_up.iloc[0]
            next_loss = other["loss"] if len(tied) > 1 else f"the next, {other['loss']},"
            lines.append(f"{head}; {next_loss} differs by {_delta(other)}: {_noise(other, alpha)}.")
        elif pd.isna(best["delta"]):
            reason = best["note"] if isinstance(best["note"], str) else f"no {baseline} runs"
            lines.append(f"{head}; {reason}.")
        else:
            lines.append(f"{head}, {_delta(best)} over {baseline}: {_noise(best, alpha)}.")
    return lines


def _mean_ci(row: pd.Series) -> str:
    if pd.isna(row["ci_low"]):
        return f"{row['test_mean']:.4f}, n={row['n_seeds']}"
    return f"{row['test_mean']:.4f} [{row['ci_low']:.4f}, {row['ci_high']:.4f}]"


def _delta(row: pd.Series) -> str:
    if pd.isna(row["delta_ci_low"]):
        return f"{row['delta']:+.4f}"
    return f"{row['delta']:+.4f} [{row['delta_ci_low']:+.4f}, {row['delta_ci_high']:+.4f}]"


def _noise(row: pd.Series, alpha: float) -> str:
    if pd.isna(row["p_holm"]):
        # notes read "<reason>: no interval or test"; the verdict needs only the reason
        reason = row["note"].split(": no ")[0] if isinstance(row["note"], str) else "no p-value"
        return f"cannot tell whether it beats noise ({reason})"
    p = f"{row['t_test']} {_p_is(row['p_value'])}, Holm {_p_is(row['p_holm'])}"
    if row["p_holm"] < alpha:
        return f"beats noise ({p} < {alpha})"
    return f"within noise ({p} >= {alpha})"


def _p_is(p: float) -> str:
    text = format_p(p)
    return f"p{text}" if text.startswith("<") else f"p={text}"


def format_p(p: float) -> str:
    """A p-value for people: 3 significant digits, `<0.001` below a thousandth."""
    if pd.isna(p):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.3g}"


def format_params(params: str | None) -> str:
    """`{"epsilon": 1.0, "gamma": 2}` as `epsilon=1, gamma=2` (params are stored as JSON)."""
    if not isinstance(params, str) or not params:
        return ""
    try:
        values = json.loads(params)
    except json.JSONDecodeError:
        return params
    if not isinstance(values, dict):
        return params
    return ", ".join(f"{k}={_short(v)}" for k, v in values.items())


def _short(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, Sequence) and not isinstance(value, str):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return str(value)
