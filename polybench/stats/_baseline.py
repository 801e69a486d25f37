"""Is a loss better than the cross-entropy baseline? Difference, interval, test, power, verdict.

Seeds pair up: the runner confirms every loss on the same seeds (same init and batch order), so
seed i of one loss pairs with seed i of the baseline. For each task and metric, every loss is
compared with the baseline on the paired differences `d_i = loss - baseline` over the seeds
*both* completed (a seed that failed for either is left out of the pairs and counted as a
failure, never silently swapped for an unpaired test):

- `delta` = mean of d; the headline interval is the paired Student t-interval
  `delta ± t(n-1) * s_d / sqrt(n)`; the percentile bootstrap of the same mean is kept beside it;
- the two-sided paired t-test on d, raw and Holm-adjusted over the losses of one task and
  metric (Holm's step-down method controls the family-wise error rate);
- effect sizes: `d_z = mean(d) / sd(d)` (what the paired test sees) and `g_av`, Cohen's d_av
  `mean(d) / sqrt((s_loss² + s_base²) / 2)` times Hedges' `J = 1 - 3 / (4 df - 1)` with
  df = 2 (n - 1) (comparable across designs; Lakens 2013);
- power: the minimum detectable difference at 80% power for the Holm worst-case level
  `alpha / m` (m losses compared in the task), from the observed s_d (`polybench.stats._power`);
- with an equivalence `margin`, TOST: two one-sided paired t-tests of `|delta| < margin`
  (equivalent when the 90% t-interval lies inside ±margin, Schuirmann 1987).

The verdict is one of `better`, `worse` (Holm p < alpha in that direction), `equivalent`
(TOST, only with a margin) or `inconclusive` (everything else). A loss that failed on a larger
share of its confirm seeds than the baseline is never `better`.

`compare` and `compare_to_baseline` take per-seed scores without seeds (or a runs frame
without a seed column) only in notebooks; then the groups cannot pair and Welch's test is
used, named as such in `t_test`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from polybench.stats._groups import current_confirm_group
from polybench.stats._metrics import TEST_METRICS, get_metric, objective_higher_is_better
from polybench.stats._power import POWER, minimum_detectable_difference
from polybench.stats._seeds import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    CONFIDENCE,
    MIN_SEEDS,
    RECOMMENDED_SEEDS,
    Interval,
    bootstrap_description,
    bootstrap_difference_interval,
    interval_description,
)
from polybench.vocab import BASELINE_LOSS, COMPLETE, CONFIRM, DEFAULT_METRIC, FAILED

BASELINE = BASELINE_LOSS
ALPHA = 0.05
VERDICTS = ("better", "worse", "equivalent", "inconclusive")


@dataclass(frozen=True)
class TTest:
    """A two-sided t-test of `mean(a) - mean(b)` with the t-interval of that difference."""

    name: str  # "paired t" or "Welch t"
    statistic: float
    df: float
    p_value: float
    interval: Interval


@dataclass(frozen=True)
class Equivalence:
    """TOST against ±margin: `p_value` is the larger one-sided p; `interval` the 1-2a interval."""

    margin: float
    p_value: float
    interval: Interval
    equivalent: bool


@dataclass(frozen=True)
class Comparison:
    """One loss against the baseline on one metric; NaN where `note` says why there is none.

    `n` and `n_baseline` count the completed seeds of each, `n_pairs` the seeds both
    completed; `delta`, its intervals, the test and `d_z` use the pairs.
    """

    n: int
    n_baseline: int
    n_pairs: int
    mean: float
    mean_baseline: float
    delta: float
    sd_diff: float
    delta_interval: Interval | None
    delta_bootstrap: Interval | None
    test: TTest | None
    d_z: float
    g_av: float
    equivalence: Equivalence | None
    note: str | None
    why_no_test: str | None = None


def welch_t_test(a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE) -> TTest:
    """Welch's t-test (unequal variances) of mean(a) - mean(b); needs n >= 2 in each group.

    `t = (m_a - m_b) / se`, `se = sqrt(s_a²/n_a + s_b²/n_b)`, Welch–Satterthwaite degrees of
    freedom `se⁴ / ((s_a²/n_a)²/(n_a-1) + (s_b²/n_b)²/(n_b-1))`.
    """
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if x.size < MIN_SEEDS or y.size < MIN_SEEDS:
        raise ValueError(f"Welch's t-test needs n >= 2 per group; got {x.size} and {y.size}")
    va, vb = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    se = np.sqrt(va + vb)
    delta = x.mean() - y.mean()
    df = (va + vb) ** 2 / (va**2 / (x.size - 1) + vb**2 / (y.size - 1)) if se > 0 else np.nan
    return _t_result("Welch t", delta, se, df, confidence)


def paired_t_test(a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE) -> TTest:
    """Paired t-test of mean(a - b): a[i] and b[i] share seed i; needs n >= 2 pairs."""
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if x.size != y.size:
        raise ValueError(f"paired t-test needs equal sizes; got {x.size} and {y.size}")
    if x.size < MIN_SEEDS:
        raise ValueError(f"paired t-test needs n >= 2 pairs; got {x.size}")
    d = x - y
    return _t_result("paired t", d.mean(), d.std(ddof=1) / np.sqrt(d.size), d.size - 1, confidence)


def _t_result(name: str, delta: float, se: float, df: float, confidence: float) -> TTest:
    if se == 0:
        interval = Interval(float(delta), float(delta), "t")
        return TTest(name, np.nan, float(df), np.nan, interval)
    half = scipy_stats.t.ppf(0.5 + confidence / 2, df) * se
    interval = Interval(float(delta - half), float(delta + half), "t")
    statistic = delta / se
    p_value = 2 * scipy_stats.t.sf(abs(statistic), df)
    return TTest(name, float(statistic), float(df), float(p_value), interval)


def tost_paired(
    a: Sequence[float], b: Sequence[float], margin: float, alpha: float = ALPHA
) -> Equivalence:
    """Two one-sided paired t-tests of H0: delta <= -margin and H0: delta >= margin.

    Equivalent when both reject at `alpha`, which is the same as the (1 - 2 alpha) paired
    t-interval lying inside (-margin, margin) (Schuirmann 1987).
    """
    if not margin > 0:
        raise ValueError(f"the equivalence margin must be a positive number; got {margin}")
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    if d.size < MIN_SEEDS:
        raise ValueError(f"TOST needs n >= 2 pairs; got {d.size}")
    mean, df = float(d.mean()), d.size - 1
    se = float(d.std(ddof=1) / np.sqrt(d.size))
    if se == 0:
        p = 0.0 if abs(mean) < margin else 1.0
        return Equivalence(margin, p, Interval(mean, mean, "t"), p < alpha)
    p_lower = scipy_stats.t.sf((mean + margin) / se, df)
    p_upper = scipy_stats.t.cdf((mean - margin) / se, df)
    p = float(max(p_lower, p_upper))
    half = scipy_stats.t.ppf(1 - alpha, df) * se
    interval = Interval(mean - half, mean + half, "t")
    return Equivalence(margin, p, interval, p < alpha)


def effect_sizes(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """(d_z, g_av) of paired scores a[i], b[i]; NaN where a standard deviation is zero.

    d_z = mean(a - b) / sd(a - b); g_av = mean(a - b) / sqrt((sd_a² + sd_b²) / 2) times
    Hedges' J = 1 - 3 / (4 df - 1), df = 2 (n - 1) (Lakens 2013; pingouin's paired hedges).
    """
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if x.size < MIN_SEEDS:
        return np.nan, np.nan
    d = x - y
    sd = d.std(ddof=1)
    d_z = float(d.mean() / sd) if sd > 0 else np.nan
    average = np.sqrt((x.var(ddof=1) + y.var(ddof=1)) / 2)
    df = 2 * (x.size - 1)
    g_av = float(d.mean() / average * (1 - 3 / (4 * df - 1))) if average > 0 else np.nan
    return d_z, g_av


def hedges_g(a: Sequence[float], b: Sequence[float]) -> float:
    """Hedges' g of two independent groups: pooled-sd Cohen's d times `1 - 3 / (4 (n_a + n_b) - 9)`.

    For unpaired scores only (paired seeds use `effect_sizes`). NaN with fewer than two values in
    a group or no spread in either.
    """
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if x.size < MIN_SEEDS or y.size < MIN_SEEDS:
        return np.nan
    pooled = ((x.size - 1) * x.var(ddof=1) + (y.size - 1) * y.var(ddof=1)) / (x.size + y.size - 2)
    if pooled == 0:
        return np.nan
    d = (x.mean() - y.mean()) / np.sqrt(pooled)
    return float(d * (1 - 3 / (4 * (x.size + y.size) - 9)))


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values, in the input order; NaN entries stay NaN, uncounted."""
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full_like(p, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = finite.size
    order = finite[np.argsort(p[finite], kind="stable")]
    running = 0.0
    for i, index in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[index]))
        adjusted[index] = running
    return adjusted


def _common_seeds(
    values: np.ndarray, seeds: np.ndarray, base: np.ndarray, base_seeds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Both groups restricted to the seeds both completed, in seed order (first run per seed)."""
    mine = dict(zip(seeds.tolist()[::-1], values.tolist()[::-1], strict=True))
    theirs = dict(zip(base_seeds.tolist()[::-1], base.tolist()[::-1], strict=True))
    common = sorted(set(mine) & set(theirs))
    return (
        np.asarray([mine[s] for s in common], np.float64),
        np.asarray([theirs[s] for s in common], np.float64),
    )


def compare(
    values: Sequence[float],
    baseline: Sequence[float],
    *,
    seeds: Sequence[int] | None = None,
    baseline_seeds: Sequence[int] | None = None,
    confidence: float = CONFIDENCE,
    alpha: float = ALPHA,
    margin: float | None = None,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> Comparison:
    """Compare one loss's per-seed scores with the baseline's (see the module docstring).

    With `seeds` and `baseline_seeds`, the scores pair on the seeds both completed; without
    them (notebook use), Welch's test and an unpaired bootstrap are used.
    """
    x, y = np.asarray(values, np.float64), np.asarray(baseline, np.float64)
    base = {
        "n": x.size,
        "n_baseline": y.size,
        "mean": float(x.mean()) if x.size else np.nan,
        "mean_baseline": float(y.mean()) if y.size else np.nan,
    }
    none = {
        "delta_interval": None,
        "delta_bootstrap": None,
        "test": None,
        "d_z": np.nan,
        "g_av": np.nan,
        "equivalence": None,
        "sd_diff": np.nan,
    }
    paired = seeds is not None and baseline_seeds is not None
    if paired:
        x, y = _common_seeds(x, np.asarray(seeds), y, np.asarray(baseline_seeds))
        base["n_pairs"] = x.size
        base["delta"] = float((x - y).mean()) if x.size else np.nan
        if x.size < MIN_SEEDS:
            why = (
                f"too few seeds (n={x.size} completed by both, of {base['n']} and "
                f"{base['n_baseline']})"
            )
            return Comparison(**base, **none, note=f"{why}: no interval or test", why_no_test=why)
    else:
        base["n_pairs"] = 0
        base["delta"] = base["mean"] - base["mean_baseline"]
        if x.size < MIN_SEEDS or y.size < MIN_SEEDS:
            why = f"too few seeds (n={x.size} vs {y.size} for the baseline)"
            return Comparison(**base, **none, note=f"{why}: no interval or test", why_no_test=why)
    test = paired_t_test(x, y, confidence) if paired else welch_t_test(x, y, confidence)
    bootstrap = bootstrap_difference_interval(
        x, y, paired=paired, confidence=confidence, resamples=resamples, seed=seed
    )
    if paired:
        d_z, g_av = effect_sizes(x, y)
        sd_diff = float((x - y).std(ddof=1))
        equivalence = tost_paired(x, y, margin, alpha) if margin else None
    else:
        d_z, g_av, sd_diff, equivalence = np.nan, hedges_g(x, y), np.nan, None
    note = why = None
    if not np.isfinite(test.p_value):
        why = (
            "the same difference on every seed"
            if paired
            else "no spread across seeds in either loss"
        )
        note = f"{why}: no test"
    elif min(x.size, y.size) < RECOMMENDED_SEEDS:
        note = f"only {min(x.size, y.size)} seeds: interval and test are rough"
    return Comparison(
        **base,
        sd_diff=sd_diff,
        delta_interval=test.interval,
        delta_bootstrap=bootstrap,
        test=test,
        d_z=d_z,
        g_av=g_av,
        equivalence=equivalence,
        note=note,
        why_no_test=why,
    )


def failure_text(n_failed: int, n_total: int, seeds: Sequence[int], reasons: Sequence[str]) -> str:
    """`diverged on 2 of 5 seeds (3, 4)`; "failed" unless every reason is a NaN/inf loss."""
    diverged = bool(reasons) and all(
        isinstance(r, str) and ("nan" in r.lower() or "inf" in r.lower() or "diverg" in r.lower())
        for r in reasons
    )
    verb = "diverged" if diverged else "failed"
    listed = ", ".join(str(s) for s in sorted(seeds))
    noun = "seed" if n_total == 1 else "seeds"
    return f"{verb} on {n_failed} of {n_total} {noun} ({listed})"


def verdict_of(
    p_holm: float,
    delta: float,
    higher_is_better: bool,
    alpha: float,
    equivalent: bool = False,
    fails_more: bool = False,
) -> str:
    """better / worse / equivalent / inconclusive from the Holm p, the sign and TOST."""
    if np.isfinite(p_holm) and p_holm < alpha and np.isfinite(delta) and delta != 0:
        improved = delta > 0 if higher_is_better else delta < 0
        if not improved:
            return "worse"
        return "inconclusive" if fails_more else "better"
    if equivalent and not fails_more:
        return "equivalent"
    return "inconclusive"


COMPARISON_COLUMNS = [
    "task",
    "metric",
    "loss",
    "baseline",
    "n_seeds",
    "n_baseline",
    "n_pairs",
    "n_failed",
    "n_failed_baseline",
    "failures",
    "mean",
    "mean_baseline",
    "delta",
    "delta_ci_low",
    "delta_ci_high",
    "delta_boot_low",
    "delta_boot_high",
    "sd_diff",
    "t_test",
    "statistic",
    "df",
    "p_value",
    "p_holm",
    "d_z",
    "g_av",
    "alpha_holm",
    "mde",
    "margin",
    "tost_p",
    "verdict",
    "note",
    "why_no_test",
]
_INTEGER_COLUMNS = ["n_seeds", "n_baseline", "n_pairs", "n_failed", "n_failed_baseline"]


def _seed_scores(group: pd.DataFrame, metric: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(completed seeds with a score, failed runs) of one loss's confirm runs."""
    state = group["state"] if "state" in group else pd.Series(COMPLETE, group.index)
    done = group[(state == COMPLETE) & group[metric].notna()]
    return done, group[state == FAILED]


def compare_to_baseline(
    runs: pd.DataFrame,
    baseline: str = BASELINE,
    metrics: Sequence[str] = TEST_METRICS,
    *,
    confidence: float = CONFIDENCE,
    alpha: float = ALPHA,
    margin: float | None = None,
    power: float = POWER,
    objective: str | None = None,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> pd.DataFrame:
    """Every loss against `baseline`, per task and metric, over the current confirm group.

    Confirm runs of older parameter groups are left out (`polybench.stats.confirm_groups`,
    chosen by `objective`, default the first metric's validation column). Columns:

    - n_seeds / n_baseline: completed seeds; n_pairs: seeds both completed (the test's n);
      n_failed / n_failed_baseline: failed confirm runs; failures: the loss's in words;
    - mean, mean_baseline (all completed seeds of each); delta (mean paired difference),
      delta_ci_low/high (paired t, the headline), delta_boot_low/high (percentile bootstrap);
    - sd_diff, t_test ("paired t"; "Welch t" only without seeds), statistic, df, p_value (raw,
      two-sided), p_holm (Holm over the losses of one task and metric), d_z, g_av;
    - alpha_holm = alpha / m (Holm's strictest level, m tests in the task), mde: the mean
      difference detected with `power` at alpha_holm given sd_diff and n_pairs;
    - margin, tost_p (NaN without a margin); verdict: better / worse / equivalent /
      inconclusive; note: why a number is missing; why_no_test: why there is no test (the
      first part of the note), None when there is one.
    """
    metric_specs = {m: get_metric(m) for m in metrics}
    first = next(iter(metric_specs.values()), DEFAULT_METRIC)
    objective = objective or first.val_column
    runs = current_confirm_group(runs, objective, objective_higher_is_better(objective))
    if "phase" in runs:
        runs = runs[runs["phase"] == CONFIRM]
    has_seeds = "seed" in runs
    rows = []
    for task, task_runs in runs.groupby("task", sort=True):
        base_runs = task_runs[task_runs["loss"] == baseline]
        for metric, spec in metric_specs.items():
            family = []
            base_done, base_failed = _seed_scores(base_runs, metric)
            base_total = len(base_done) + len(base_failed)
            for loss, group in task_runs.groupby("loss", sort=True):
                if loss == baseline:
                    continue
                row = {"task": task, "metric": metric, "loss": loss, "baseline": baseline}
                done, failed = _seed_scores(group, metric)
                total = len(done) + len(failed)
                row |= {"n_failed": len(failed), "n_failed_baseline": len(base_failed)}
                row["margin"] = margin if margin else np.nan
                if len(failed):
                    reasons = (
                        failed["failure_reason"].tolist() if "failure_reason" in failed else []
                    )
                    seeds = failed["seed"].tolist() if has_seeds else []
                    row["failures"] = failure_text(len(failed), total, seeds, reasons)
                rate, base_rate = len(failed) / max(total, 1), len(base_failed) / max(base_total, 1)
                row["_fails_more"] = rate > base_rate
                if base_done.empty:
                    row["note"] = f"no complete {baseline} confirm runs in task {task!r}"
                    row["why_no_test"] = row["note"]
                    row |= {"n_seeds": len(done), "n_baseline": 0, "n_pairs": 0}
                    family.append(row)
                    continue
                result = compare(
                    done[metric].to_numpy(),
                    base_done[metric].to_numpy(),
                    seeds=done["seed"].to_numpy() if has_seeds else None,
                    baseline_seeds=base_done["seed"].to_numpy() if has_seeds else None,
                    confidence=confidence,
                    alpha=alpha,
                    margin=margin,
                    resamples=resamples,
                    seed=seed,
                )
                row |= _comparison_row(result)
                family.append(row)
            adjusted = holm([row.get("p_value", np.nan) for row in family])
            tested = int(np.isfinite(adjusted).sum())
            alpha_holm = alpha / max(tested, 1)
            for row, p in zip(family, adjusted, strict=True):
                row["p_holm"] = p
                row["alpha_holm"] = alpha_holm
                if row.get("n_pairs", 0) >= MIN_SEEDS and np.isfinite(row.get("sd_diff", np.nan)):
                    row["mde"] = minimum_detectable_difference(
                        row["sd_diff"], row["n_pairs"], alpha_holm, power
                    )
                row["verdict"] = verdict_of(
                    p,
                    row.get("delta", np.nan),
                    spec.higher_is_better,
                    alpha,
                    equivalent=np.isfinite(row.get("tost_p", np.nan)) and row["tost_p"] < alpha,
                    fails_more=row.pop("_fails_more"),
                )
            rows += family
    frame = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    frame = frame.astype({column: "int64" for column in _INTEGER_COLUMNS})
    for column in ("failures", "t_test", "note", "why_no_test", "verdict"):
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    frame.attrs |= {
        "ci_method": interval_description(confidence),
        "boot_method": bootstrap_description(confidence, resamples, seed),
        "alpha": alpha,
        "power": power,
        "margin": margin,
    }
    return frame


def _comparison_row(result: Comparison) -> dict:
    row = {
        "n_seeds": result.n,
        "n_baseline": result.n_baseline,
        "n_pairs": result.n_pairs,
        "mean": result.mean,
        "mean_baseline": result.mean_baseline,
        "delta": result.delta,
        "sd_diff": result.sd_diff,
        "d_z": result.d_z,
        "g_av": result.g_av,
        "note": result.note,
        "why_no_test": result.why_no_test,
    }
    if result.delta_interval is not None:
        row |= {"delta_ci_low": result.delta_interval.low}
        row |= {"delta_ci_high": result.delta_interval.high}
    if result.delta_bootstrap is not None:
        row |= {"delta_boot_low": result.delta_bootstrap.low}
        row |= {"delta_boot_high": result.delta_bootstrap.high}
    if result.test is not None:
        row |= {
            "t_test": result.test.name,
            "statistic": result.test.statistic,
            "df": result.test.df,
            "p_value": result.test.p_value,
        }
    if result.equivalence is not None:
        row["tost_p"] = result.equivalence.p_value
    return row
