"""Is a loss better than the cross-entropy baseline? Difference, interval, test, effect size.

For each task and metric, every loss is compared with the baseline over the seeds of the
confirm runs:

- the difference of means (`delta = loss - baseline`) with a percentile bootstrap interval
  (and the matching t-interval);
- a two-sided t-test: the paired form when both losses ran on exactly the same seeds (the runner
  confirms every loss on the same seeds, so seed i of one loss pairs with seed i of the other),
  otherwise Welch's unequal-variance test;
- the effect size as Hedges' g (Cohen's d with the pooled standard deviation, times the
  small-sample correction `1 - 3 / (4 (n1 + n2) - 9)`), the same formula for paired and unpaired
  designs so effect sizes compare across tasks;
- the raw p-value and the Holm-adjusted p-value over the losses compared within a task and
  metric (Holm's step-down method controls the family-wise error rate).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from polybench.stats._metrics import TEST_METRICS
from polybench.stats._seeds import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    CONFIDENCE,
    MIN_SEEDS,
    RECOMMENDED_SEEDS,
    Interval,
    bootstrap_description,
    bootstrap_difference_interval,
    confirm_runs,
)

BASELINE = "cross_entropy"


@dataclass(frozen=True)
class TTest:
    """A two-sided t-test of `mean(a) - mean(b)` with the t-interval of that difference."""

    name: str  # "paired t" or "Welch t"
    statistic: float
    df: float
    p_value: float
    interval: Interval


@dataclass(frozen=True)
class Comparison:
    """One loss against the baseline on one metric; NaN where `note` says why there is none."""

    n: int
    n_baseline: int
    mean: float
    mean_baseline: float
    delta: float
    delta_interval: Interval | None
    test: TTest | None
    hedges_g: float
    note: str | None


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
    df = (va + vb) ** 2 / (va**2 / (x.size - 1) + vb**2 / (y.size - 1))
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
    half = scipy_stats.t.ppf(0.5 + confidence / 2, df) * se
    interval = Interval(float(delta - half), float(delta + half), "t")
    if se == 0:
        return TTest(name, np.nan, float(df), np.nan, interval)
    statistic = delta / se
    p_value = 2 * scipy_stats.t.sf(abs(statistic), df)
    return TTest(name, float(statistic), float(df), float(p_value), interval)


def hedges_g(a: Sequence[float], b: Sequence[float]) -> float:
    """Hedges' g of a against b: pooled-sd Cohen's d times `1 - 3 / (4 (n_a + n_b) - 9)`.

    NaN when there are fewer than two values in a group or both groups have zero spread.
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


def _pairs_by_seed(
    values: np.ndarray, seeds: np.ndarray | None, base: np.ndarray, base_seeds: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray] | None:
    """Both groups reordered by seed when they ran on exactly the same distinct seeds."""
    if seeds is None or base_seeds is None or values.size != base.size:
        return None
    if len(set(seeds.tolist())) != seeds.size or set(seeds.tolist()) != set(base_seeds.tolist()):
        return None
    return values[np.argsort(seeds, kind="stable")], base[np.argsort(base_seeds, kind="stable")]


def compare(
    values: Sequence[float],
    baseline: Sequence[float],
    *,
    seeds: Sequence[int] | None = None,
    baseline_seeds: Sequence[int] | None = None,
    confidence: float = CONFIDENCE,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> Comparison:
    """Compare one loss's per-seed scores with the baseline's (see the module docstring).

    With `seeds` and `baseline_seeds` naming the same distinct seeds, the paired test and a
    paired bootstrap are used; otherwise Welch's test and an unpaired bootstrap.
    """
    x, y = np.asarray(values, np.float64), np.asarray(baseline, np.float64)
    delta = float(x.mean() - y.mean()) if x.size and y.size else np.nan
    base = {"n": x.size, "n_baseline": y.size, "delta": delta}
    base |= {"mean": float(x.mean()) if x.size else np.nan}
    base |= {"mean_baseline": float(y.mean()) if y.size else np.nan}
    if x.size < MIN_SEEDS or y.size < MIN_SEEDS:
        note = f"too few seeds (n={x.size} vs {y.size} for the baseline): no interval or test"
        return Comparison(**base, delta_interval=None, test=None, hedges_g=np.nan, note=note)
    pairs = _pairs_by_seed(
        x,
        None if seeds is None else np.asarray(seeds),
        y,
        None if baseline_seeds is None else np.asarray(baseline_seeds),
    )
    if pairs is not None:
        x, y = pairs
        test = paired_t_test(x, y, confidence)
    else:
        test = welch_t_test(x, y, confidence)
    interval = bootstrap_difference_interval(
        x, y, paired=pairs is not None, confidence=confidence, resamples=resamples, seed=seed
    )
    note = None
    if not np.isfinite(test.p_value):
        note = (
            "the same difference on every seed: no test"
            if pairs is not None
            else "no spread across seeds in either loss: no test"
        )
    elif min(x.size, y.size) < RECOMMENDED_SEEDS:
        note = f"only {min(x.size, y.size)} seeds: interval and test are rough"
    return Comparison(
        **base, delta_interval=interval, test=test, hedges_g=hedges_g(x, y), note=note
    )


COMPARISON_COLUMNS = [
    "task",
    "metric",
    "loss",
    "baseline",
    "n_seeds",
    "n_baseline",
    "mean",
    "mean_baseline",
    "delta",
    "delta_ci_low",
    "delta_ci_high",
    "delta_t_low",
    "delta_t_high",
    "t_test",
    "statistic",
    "df",
    "p_value",
    "p_holm",
    "hedges_g",
    "note",
]


def compare_to_baseline(
    runs: pd.DataFrame,
    baseline: str = BASELINE,
    metrics: Sequence[str] = TEST_METRICS,
    *,
    confidence: float = CONFIDENCE,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> pd.DataFrame:
    """Every loss against `baseline`, per task and metric, over the complete confirm runs.

    Columns: task, metric, loss, baseline, n_seeds, n_baseline, mean, mean_baseline, delta
    (loss - baseline), delta_ci_low/high (percentile bootstrap), delta_t_low/high (t), t_test
    ("paired t" or "Welch t"), statistic, df, p_value (raw, two-sided), p_holm (Holm-adjusted
    over the losses of one task and metric), hedges_g, note (why a number is missing).
    """
    rows = []
    runs = confirm_runs(runs)
    for task, task_runs in runs.groupby("task", sort=True):
        base_runs = task_runs[task_runs["loss"] == baseline]
        for metric in metrics:
            family = []
            for loss, group in task_runs.groupby("loss", sort=True):
                if loss == baseline:
                    continue
                row = {"task": task, "metric": metric, "loss": loss, "baseline": baseline}
                if base_runs.empty:
                    row["note"] = f"no complete {baseline} confirm runs in task {task!r}"
                    row |= {"n_seeds": group[metric].notna().sum(), "n_baseline": 0}
                    family.append(row)
                    continue
                a = group[["seed", metric]].dropna(subset=[metric])
                b = base_runs[["seed", metric]].dropna(subset=[metric])
                result = compare(
                    a[metric].to_numpy(),
                    b[metric].to_numpy(),
                    seeds=a["seed"].to_numpy(),
                    baseline_seeds=b["seed"].to_numpy(),
                    confidence=confidence,
                    resamples=resamples,
                    seed=seed,
                )
                row |= _comparison_row(result)
                family.append(row)
            adjusted = holm([row.get("p_value", np.nan) for row in family])
            for row, p in zip(family, adjusted, strict=True):
                row["p_holm"] = p
            rows += family
    frame = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    for column in COMPARISON_COLUMNS[4:6]:
        frame[column] = frame[column].astype("int64")
    frame.attrs["ci_method"] = bootstrap_description(confidence, resamples, seed)
    return frame


def _comparison_row(result: Comparison) -> dict:
    row = {
        "n_seeds": result.n,
        "n_baseline": result.n_baseline,
        "mean": result.mean,
        "mean_baseline": result.mean_baseline,
        "delta": result.delta,
        "hedges_g": result.hedges_g,
        "note": result.note,
    }
    if result.delta_interval is not None:
        row |= {"delta_ci_low": result.delta_interval.low}
        row |= {"delta_ci_high": result.delta_interval.high}
    if result.test is not None:
        row |= {
            "delta_t_low": result.test.interval.low,
            "delta_t_high": result.test.interval.high,
            "t_test": result.test.name,
            "statistic": result.test.statistic,
            "df": result.test.df,
            "p_value": result.test.p_value,
        }
    return row
