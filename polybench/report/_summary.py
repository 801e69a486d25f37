"""The summary table: one row per task and loss, from the runs frame (pure, no database).

Each row carries the numbers of `polybench.stats.compare_to_baseline` for that loss and the
verdict in words (`verdict_text`); `verdicts` turns the rows of each task into one sentence
whose headline agrees with those verdicts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from polybench import stats
from polybench.vocab import ACCURACY, COMPLETE, CONFIRM, FAILED, SEARCH, TRAIN_THROUGHPUT

# What a row takes from `stats.compare_to_baseline` (its bootstrap interval, t statistic and
# degrees of freedom stay there).
_COMPARED = [
    column
    for column in stats.COMPARISON_COLUMNS[
        stats.COMPARISON_COLUMNS.index("delta") : stats.COMPARISON_COLUMNS.index("verdict") + 1
    ]
    if column not in ("delta_boot_low", "delta_boot_high", "statistic", "df")
]
_FROM_COMPARISON = ["n_pairs", *_COMPARED, "failures"]
LEDGER_IN_SUMMARY = ["search_complete", "search_pruned", "search_failed"]
LEDGER_IN_SUMMARY += ["epochs_trained", "compute_seconds"]
SUMMARY_COLUMNS = [
    "task",
    "loss",
    "metric",
    "metric_role",
    "best_params",
    "n_trials",
    "val_score",
    "n_seeds",
    "n_failed",
    "test_mean",
    "test_std",
    "ci_low",
    "ci_high",
    "boot_low",
    "boot_high",
    "n_pairs",
    *_COMPARED,
    "verdict_text",
    "failures",
    "seed_scores",
    TRAIN_THROUGHPUT,
    "train_throughput_low",
    "train_throughput_high",
    "throughput_p",
    "throughput_note",
    "eval_throughput",
    "loss_cost_ratio",
    "loss_cost_low",
    "loss_cost_high",
    *LEDGER_IN_SUMMARY,
    "rank",
    "note",
]
_TEXT_COLUMNS = [
    "task",
    "loss",
    "metric",
    "metric_role",
    "best_params",
    "t_test",
    "verdict",
    "verdict_text",
    "failures",
    "seed_scores",
    "throughput_note",
    "note",
]


def summarize(
    runs: pd.DataFrame,
    metric: str = ACCURACY.name,
    baseline: str = stats.BASELINE,
    *,
    confidence: float = stats.CONFIDENCE,
    alpha: float = stats.ALPHA,
    margin: float | None = None,
    primary_metric: str | None = None,
    objective: str | None = None,
    resamples: int = stats.BOOTSTRAP_RESAMPLES,
    seed: int = stats.BOOTSTRAP_SEED,
    loss_costs: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The summary of a study's runs frame: one row per task and loss (see `SUMMARY_COLUMNS`).

    - metric_role: "primary" when `metric` is the study's own (`primary_metric`, default
      `metric`), else "exploratory" (chosen after the fact; no confirmatory claim).
    - best_params: the params of the current confirm group (JSON; `stats.confirm_groups`,
      chosen by the search `objective`), else of the best search run (`stats.best_search_runs`,
      the run the runner confirmed); val_score: that run's validation score on `metric`;
      n_trials: complete search runs.
    - n_seeds, n_failed: completed and failed confirm runs of the current group; test_mean,
      test_std, ci_low/ci_high (Student t, the headline), boot_low/boot_high (percentile
      bootstrap); seed_scores: JSON {seed: score} of the completed seeds.
    - n_pairs, delta (mean paired difference to the baseline), delta_ci_low/high (paired t),
      sd_diff, t_test, p_value, p_holm, d_z, g_av, alpha_holm, mde (80% power), margin, tost_p,
      verdict (better / worse / equivalent / inconclusive), failures: as
      `stats.compare_to_baseline`; verdict_text: the verdict in one sentence.
    - train/eval_throughput: mean samples/s of the confirm runs (search runs if none);
      train_throughput_low/high: its t-interval over those runs; throughput_p: Welch's t-test
      against the baseline's runs; throughput_note: "within noise of <baseline>" (p >= 0.05),
      or "faster than" / "slower than" it.
    - loss_cost_ratio, loss_cost_low/high: forward + backward time of the loss against
      cross-entropy on the task's batch shape (median and quartiles over interleaved rounds,
      from `loss_costs`, the store's `loss_costs()` frame); NaN when not measured.
    - search_complete/pruned/failed, epochs_trained, compute_seconds: the budget ledger
      (`polybench.stats.budget_ledger`): what the loss's result cost, search and confirm runs.
    - rank: 1 = best test_mean within the task; note: what is missing or left out, in words.

    `attrs` carries metric, primary_metric, exploratory, baseline, alpha, margin, confidence,
    ci_method and boot_method.
    """
    spec = stats.get_metric(metric)
    primary = stats.get_metric(primary_metric or metric).name
    objective = objective or stats.get_metric(primary).val_column
    evidence = _Evidence.of(
        runs, spec, baseline, objective, confidence, alpha, margin, resamples, seed
    )
    role = "primary" if spec.name == primary else "exploratory"
    rows = [
        _summary_row(evidence, task, loss, group, role, loss_costs)
        for (task, loss), group in runs.groupby(["task", "loss"], sort=True)
    ]
    frame = _summary_frame(rows, runs, evidence, alpha)
    frame.attrs |= {
        "metric": spec.name,
        "primary_metric": primary,
        "exploratory": role == "exploratory",
        "baseline": baseline,
        "alpha": alpha,
        "margin": margin,
        "confidence": confidence,
        "ci_method": stats.interval_description(confidence),
        "boot_method": stats.bootstrap_description(confidence, resamples, seed),
    }
    return frame


@dataclass(frozen=True)
class _Evidence:
    """What the rows of one summary are read from: the runs split by phase and confirm group,
    the per-seed statistics and the comparisons with the baseline."""

    spec: stats.Metric
    baseline: str
    confidence: float
    best: pd.DataFrame  # stats.best_search_runs, indexed by (task, loss)
    groups: pd.DataFrame  # stats.confirm_groups
    confirm_all: pd.DataFrame  # confirm runs of the current group, any state
    confirm: pd.DataFrame  # complete confirm runs of the current group
    search: pd.DataFrame
    by_seed: pd.DataFrame  # stats.seed_summary, indexed by (task, loss)
    versus: pd.DataFrame  # stats.compare_to_baseline, indexed by (task, loss)

    @classmethod
    def of(
        cls,
        runs: pd.DataFrame,
        spec: stats.Metric,
        baseline: str,
        objective: str,
        confidence: float,
        alpha: float,
        margin: float | None,
        resamples: int,
        seed: int,
    ) -> _Evidence:
        higher = stats.objective_higher_is_better(objective)
        test = spec.test_column
        current = stats.current_confirm_group(runs, objective, higher)
        by_seed = stats.seed_summary(
            current, [test], confidence=confidence, resamples=resamples, seed=seed,
            objective=objective,
        )  # fmt: skip
        versus = stats.compare_to_baseline(
            current, baseline, [test], confidence=confidence, alpha=alpha, margin=margin,
            objective=objective, resamples=resamples, seed=seed,
        )  # fmt: skip
        return cls(
            spec=spec,
            baseline=baseline,
            confidence=confidence,
            best=stats.best_search_runs(runs, objective, higher),
            groups=stats.confirm_groups(runs, objective, higher),
            confirm_all=current[current["phase"] == CONFIRM] if "phase" in current else current,
            confirm=stats.confirm_runs(current),
            search=stats.search_runs(runs),
            by_seed=by_seed.set_index(["task", "loss"]),
            versus=versus.set_index(["task", "loss"]),
        )

    def fails_more(self) -> set[tuple[str, str]]:
        """The (task, loss) pairs that failed on a larger share of seeds than the baseline."""
        versus = self.versus
        rate = versus["n_failed"] / (versus["n_failed"] + versus["n_seeds"]).clip(lower=1)
        base_total = (versus["n_failed_baseline"] + versus["n_baseline"]).clip(lower=1)
        return set(versus.index[rate > versus["n_failed_baseline"] / base_total])


def _of(frame: pd.DataFrame, task: str, loss: str) -> pd.DataFrame:
    return frame[(frame["task"] == task) & (frame["loss"] == loss)]


def _summary_row(
    evidence: _Evidence,
    task: str,
    loss: str,
    group: pd.DataFrame,
    role: str,
    loss_costs: pd.DataFrame | None,
) -> dict:
    """One (task, loss) row of the summary; `group` holds all its runs."""
    spec, val, test = evidence.spec, evidence.spec.val_column, evidence.spec.test_column
    confirmed = _of(evidence.confirm, task, loss)
    attempted = _of(evidence.confirm_all, task, loss)
    searched = _of(evidence.search, task, loss).dropna(subset=[val])
    row: dict = {"task": task, "loss": loss, "metric": spec.name, "metric_role": role}
    row["n_trials"] = len(searched)
    row["n_failed"] = int((attempted["state"] == FAILED).sum()) if len(attempted) else 0
    if (task, loss) in evidence.best.index:
        best = evidence.best.loc[(task, loss)]
        row["val_score"], row["best_params"] = best[val], best["params"]
    elif len(confirmed):
        row["val_score"] = confirmed[val].mean()
    if len(attempted):
        row["best_params"] = attempted["params"].iloc[0]
    timed = confirmed if len(confirmed) else searched
    row[TRAIN_THROUGHPUT] = timed[TRAIN_THROUGHPUT].mean() if len(timed) else np.nan
    row["eval_throughput"] = timed["eval_throughput"].mean() if len(timed) else np.nan
    row |= _throughput_interval(timed, evidence.confidence)
    row |= _loss_cost(loss_costs, task, loss)
    scored = confirmed.dropna(subset=[test])
    if len(scored):
        pairs = sorted(zip(scored["seed"].tolist(), scored[test].tolist(), strict=True))
        row["seed_scores"] = json.dumps({str(s): float(v) for s, v in pairs})
    notes = _seed_statistics(row, evidence, task, loss)
    notes += _comparison(row, evidence, task, loss, attempted)
    notes += _group_notes(evidence.groups, task, loss, has_search=len(searched) > 0)
    failed = int(((group["state"] == FAILED) & (group["phase"] == SEARCH)).sum())
    if failed:
        notes.append(f"{failed} failed search run(s) not counted")
    row["note"] = "; ".join(notes) or None
    # why a verdict has no test: the comparison's reason, else the row's first note
    row["_why_no_test"] = row.get("_why_no_test") or (notes[0] if notes else None)
    return row


def _seed_statistics(row: dict, evidence: _Evidence, task: str, loss: str) -> list[str]:
    """Fill the row's per-seed statistics; the notes they call for."""
    if (task, loss) not in evidence.by_seed.index:
        row["n_seeds"] = 0
        return ["no complete confirm runs"]
    seeds = evidence.by_seed.loc[(task, loss)]
    row |= {"n_seeds": seeds["n_seeds"], "test_mean": seeds["mean"]}
    row |= {"test_std": seeds["std"], "ci_low": seeds["ci_low"]}
    row |= {"ci_high": seeds["ci_high"], "boot_low": seeds["boot_low"]}
    row["boot_high"] = seeds["boot_high"]
    return []


def _comparison(
    row: dict, evidence: _Evidence, task: str, loss: str, attempted: pd.DataFrame
) -> list[str]:
    """Fill the row's comparison with the baseline (or the baseline's own failures); the
    notes it calls for."""
    notes = []
    compare_note = None
    if (task, loss) in evidence.versus.index:
        compared = evidence.versus.loc[(task, loss)]
        row |= {column: compared[column] for column in _FROM_COMPARISON}
        if isinstance(compared["note"], str) and row["n_seeds"]:
            compare_note = compared["note"]
            row["_why_no_test"] = compared["why_no_test"]
    elif loss == evidence.baseline:
        row["delta"] = 0.0 if row["n_seeds"] else np.nan
        notes.append("baseline")
        if row["n_failed"]:
            total = row["n_failed"] + row["n_seeds"]
            failed = attempted[attempted["state"] == FAILED]
            row["failures"] = stats.failure_text(
                row["n_failed"], total, failed["seed"].tolist(), failed["failure_reason"].tolist()
            )
    if compare_note:
        notes.append(compare_note)
    elif row["n_seeds"] and isinstance(evidence.by_seed.loc[(task, loss), "note"], str):
        notes.append(evidence.by_seed.loc[(task, loss), "note"])
    return notes


def _summary_frame(
    rows: list[dict], runs: pd.DataFrame, evidence: _Evidence, alpha: float
) -> pd.DataFrame:
    """The rows as the summary frame: the budget ledger, throughput comparisons, ranks,
    verdict sentences and stable dtypes added."""
    baseline, spec = evidence.baseline, evidence.spec
    frame = pd.DataFrame(rows, columns=[*SUMMARY_COLUMNS, "_why_no_test"])
    ledger = stats.budget_ledger(runs).set_index(["task", "loss"])
    if len(frame):
        keys = pd.MultiIndex.from_frame(frame[["task", "loss"]])
        for column in LEDGER_IN_SUMMARY:
            frame[column] = ledger[column].reindex(keys).to_numpy()
    _compare_throughput(frame, runs, evidence.confirm, evidence.search, baseline, alpha)
    frame["rank"] = frame.groupby("task")["test_mean"].rank(
        ascending=not spec.higher_is_better, method="average"
    )
    counts = ["search_complete", "search_pruned", "search_failed", "epochs_trained"]
    frame[counts] = frame[counts].fillna(0)
    frame["compute_seconds"] = frame["compute_seconds"].astype("float64").fillna(0.0)
    frame = frame.astype(dict.fromkeys(counts, "int64"))
    frame = frame.astype({"n_trials": "int64", "n_seeds": "int64", "n_failed": "int64"})
    frame["n_pairs"] = frame["n_pairs"].fillna(frame["n_seeds"].where(frame["loss"] == baseline))
    fails_more = evidence.fails_more()
    frame["verdict_text"] = [
        verdict_sentence(
            row,
            baseline,
            alpha,
            fails_more=(row["task"], row["loss"]) in fails_more,
            why_no_test=row["_why_no_test"] if isinstance(row["_why_no_test"], str) else None,
        )
        for _, row in frame.iterrows()
    ]
    frame = frame.drop(columns="_why_no_test")
    for column in _TEXT_COLUMNS:
        # text as object holding str or None, like the store's frames (pandas 2 and 3 alike)
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame


def _timed_runs(runs: pd.DataFrame) -> pd.Series:
    values = runs.loc[runs["state"] == COMPLETE, TRAIN_THROUGHPUT]
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


def _group_notes(groups: pd.DataFrame, task: str, loss: str, has_search: bool) -> list[str]:
    """Words about older confirm groups of (task, loss), and a current one that is not the best."""
    if groups.empty:
        return []
    mine = groups[(groups["task"] == task) & (groups["loss"] == loss)]
    notes = []
    older = mine[~mine["current"]]
    if len(older):
        settings = "; ".join(format_params(p) or "no params" for p in older["params"])
        notes.append(
            f"{len(older)} older confirm group(s) not counted ({int(older['n_runs'].sum())} "
            f"run(s) with {settings})"
        )
    current = mine[mine["current"]]
    if has_search and len(current) and not bool(current["best_search"].iloc[0]):
        notes.append("the confirm runs are not of the best search setting (confirm it again)")
    return notes


def verdict_sentence(
    row: pd.Series,
    baseline: str,
    alpha: float,
    fails_more: bool = False,
    why_no_test: str | None = None,
) -> str | None:
    """One loss's verdict against the baseline in words, with its power; None for the baseline.

    For example "inconclusive: +0.0005 [-0.0040, +0.0050], not significant (paired t p=0.62,
    Holm p=0.62); with 4 seeds only differences above 0.0081 would be detected (80% power,
    alpha 0.025)". `fails_more`: the loss failed on a larger share of its seeds than the
    baseline, which the sentence says after its failures. `why_no_test`: why the row has no
    p-value (the `why_no_test` of `polybench.stats.compare_to_baseline`).
    """
    if row["loss"] == baseline or not isinstance(row.get("verdict"), str):
        return None
    verdict = row["verdict"]
    if pd.isna(row.get("p_value")):
        reason = why_no_test or f"no {baseline} runs"
        text = f"{verdict}: {_delta(row)} ({reason}, no test)"
    else:
        p = f"{row['t_test']} {_p_is(row['p_value'])}, Holm {_p_is(row['p_holm'])}"
        if verdict in ("better", "worse"):
            text = f"{verdict}: {_delta(row)} ({p} < {alpha:g})"
        elif verdict == "equivalent":
            text = (
                f"equivalent: {_delta(row)}, inside ±{row['margin']:g} "
                f"(TOST {_p_is(row['tost_p'])}; {p})"
            )
        elif np.isfinite(row.get("p_holm", np.nan)) and row["p_holm"] < alpha:
            text = f"inconclusive: {_delta(row)} ({p} < {alpha:g})"
        else:
            text = f"inconclusive: {_delta(row)}, not significant ({p})"
    n = 0 if pd.isna(row.get("n_pairs")) else int(row["n_pairs"])
    if np.isfinite(row.get("mde", np.nan)):
        text += (
            f"; with {n} seeds only differences above {row['mde']:.4f} would be detected "
            f"(80% power, alpha {row['alpha_holm']:.3g})"
        )
    elif n < stats.MIN_SEEDS:
        text += f"; with {n} paired seed(s) no difference can be detected (a test needs 2)"
    if isinstance(row.get("failures"), str):
        text += f"; {row['failures']}"
        if verdict != "worse" and fails_more:
            text += f", more often than {baseline}, so it cannot be called better"
    notes = row["note"].split("; ") if isinstance(row.get("note"), str) else []
    text += "".join(f"; {note}" for note in notes if "confirm group" in note)
    return text


def ranking(summary: pd.DataFrame, alpha: float = 0.05) -> stats.FriedmanResult:
    """Average ranks, Friedman test and Nemenyi post-hoc over the tasks of a summary table."""
    spec = stats.get_metric(summary.attrs.get("metric", ACCURACY.name))
    scores = summary.pivot_table(index="task", columns="loss", values="test_mean", dropna=False)
    scores = scores.dropna(how="all")
    return stats.friedman(scores, higher_is_better=spec.higher_is_better, alpha=alpha)


def seed_scores(summary: pd.DataFrame) -> dict[str, dict[str, list[float]]]:
    """{task: {loss: per-seed scores}} from the `seed_scores` column of a summary."""
    scores: dict[str, dict[str, list[float]]] = {}
    for task, loss, text in summary[["task", "loss", "seed_scores"]].itertuples(index=False):
        if isinstance(text, str):
            scores.setdefault(task, {})[loss] = list(json.loads(text).values())
    return scores


def _headline(task: str, rows: pd.DataFrame, baseline: str, metric: str) -> str:
    """Which loss the verdicts support: the ones better than the baseline, or a tie."""
    better = rows[rows["verdict"] == "better"].sort_values(["rank", "loss"])
    if len(better):
        best = better.iloc[0]
        names = better["loss"].tolist()
        who = names[0] if len(names) == 1 else f"{', '.join(names)} ({len(names)} losses)"
        verb = "beats" if len(names) == 1 else "beat"
        head = f"{task}: {who} {verb} {baseline}"
        if len(names) > 1:
            head += f"; highest mean {best['loss']}"
        return f"{head} (test {metric} {_mean_ci(best)})"
    ranked = rows.dropna(subset=["test_mean"])
    top = ranked[ranked["rank"] == ranked["rank"].min()]
    if len(top) > 1:
        names = " and ".join(sorted(top["loss"], key=lambda name: (name != baseline, name)))
        return f"{task}: {names} tie for best (test {metric} {_mean_ci(top.iloc[0])})"
    if len(ranked) == 1:
        return f"{task}: only {ranked.iloc[0]['loss']} has confirm runs"
    best = top.iloc[0]
    head = f"{task}: no loss beats {baseline}"
    equivalent = rows.loc[rows["verdict"] == "equivalent", "loss"].tolist()
    if equivalent:
        verb = "is" if len(equivalent) == 1 else "are"
        margin = rows["margin"].dropna().iloc[0]
        head += f"; {' and '.join(equivalent)} {verb} equivalent to it within ±{margin:g}"
    return f"{head} (highest mean {best['loss']}, {_mean_ci(best)})"


def verdicts(summary: pd.DataFrame, alpha: float | None = None) -> list[str]:
    """One sentence per task: which loss the evidence says is better than the baseline, and each
    loss's verdict (better / worse / equivalent / inconclusive) with what it could detect.

    With an exploratory metric, the first line says so.
    """
    alpha = summary.attrs.get("alpha", stats.ALPHA) if alpha is None else alpha
    metric = summary.attrs.get("metric", ACCURACY.name)
    baseline = summary.attrs.get("baseline", stats.BASELINE)
    if summary.empty:
        study = f"study {summary.attrs['study']!r}" if "study" in summary.attrs else "this study"
        return [f"No runs stored for {study} yet: `polybench run STUDY.yaml` writes them."]
    lines = []
    if summary.attrs.get("exploratory"):
        lines.append(exploratory_note(summary))
    for task, rows in summary.groupby("task", sort=True):
        if rows["test_mean"].isna().all():
            lines.append(f"{task}: no complete confirm runs yet, so no test {metric} to compare.")
            continue
        head = _headline(task, rows, baseline, metric)
        others = rows[(rows["loss"] != baseline) & rows["test_mean"].notna()]
        if baseline not in set(rows.dropna(subset=["test_mean"])["loss"]):
            lines.append(f"{head}; no complete {baseline} confirm runs to compare with.")
            continue
        if others.empty:
            lines.append(f"{head}; no other loss to compare with.")
            continue
        clauses = [f"{loss} {text}" for loss, text in others[["loss", "verdict_text"]].to_numpy()]
        lines.append(f"{head}. Against {baseline}: " + "; ".join(clauses) + ".")
    return lines


def exploratory_note(summary: pd.DataFrame) -> str:
    """The line every output carries when the reported metric is not the study's own."""
    return (
        f"Exploratory: the study was planned on {summary.attrs.get('primary_metric')}; "
        f"{summary.attrs.get('metric')} was chosen afterwards, so its verdicts are not "
        "confirmatory."
    )


def _mean_ci(row: pd.Series) -> str:
    if pd.isna(row["ci_low"]):
        return f"{row['test_mean']:.4f}, n={row['n_seeds']}"
    return f"{row['test_mean']:.4f} [{row['ci_low']:.4f}, {row['ci_high']:.4f}]"


def _delta(row: pd.Series) -> str:
    if pd.isna(row["delta_ci_low"]):
        return f"{row['delta']:+.4f}"
    return f"{row['delta']:+.4f} [{row['delta_ci_low']:+.4f}, {row['delta_ci_high']:+.4f}]"


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
