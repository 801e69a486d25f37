"""Mean, spread and confidence interval of a metric over the seeds of the confirm runs.

The headline interval is the Student t-interval, `mean ± t(n-1) * sd / sqrt(n)`: it keeps its
95% coverage at 3 seeds (the simulation in tests/test_stats.py measures it on normal and skewed
data). The percentile bootstrap over seeds (10,000 resamples from a fixed RNG seed) stays in the
frames as `boot_low` / `boot_high`, but it covers only about 76% of the time at 3 seeds, so no
verdict rests on it. With one seed there is no interval, and the output says so in `note`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from polybench.stats._metrics import TEST_METRICS
from polybench.stats._runs import complete_runs
from polybench.vocab import CONFIRM, DEFAULT_METRIC

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
MIN_SEEDS = 2
"""Fewest seeds for any interval or test; below it the output carries a note instead."""
RECOMMENDED_SEEDS = 3
"""Fewer seeds than this still give numbers, with a note that they are rough."""


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval and the method that produced it."""

    low: float
    high: float
    method: str


def bootstrap_description(
    confidence: float = CONFIDENCE,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> str:
    """The words reports print next to a bootstrap interval."""
    return (
        f"{confidence:.0%} percentile bootstrap over seeds "
        f"({resamples:,} resamples, RNG seed {seed})"
    )


def interval_description(confidence: float = CONFIDENCE) -> str:
    """The words reports print next to the headline (t) interval."""
    return f"{confidence:.0%} Student t-interval over seeds (paired over seeds for Δ)"


def _as_values(values: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).ravel()
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what} must be finite numbers; got {array.tolist()}")
    return array


def _check_n(array: np.ndarray, what: str) -> None:
    if array.size < MIN_SEEDS:
        raise ValueError(
            f"{what} needs at least {MIN_SEEDS} seeds for an interval; got n={array.size}"
        )


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """Student t-interval of the mean: `mean ± t(n-1) * sd / sqrt(n)`; needs n >= 2."""
    x = _as_values(values, "values")
    _check_n(x, "t_interval")
    half = scipy_stats.t.ppf(0.5 + confidence / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
    return Interval(float(x.mean() - half), float(x.mean() + half), "t")


def bootstrap_interval(
    values: Sequence[float],
    confidence: float = CONFIDENCE,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> Interval:
    """Percentile bootstrap interval of the mean over seeds; deterministic for a given seed.

    Each resample draws n values with replacement; the interval is the (1-c)/2 and (1+c)/2
    quantiles of the resampled means. Needs n >= 2.
    """
    x = _as_values(values, "values")
    _check_n(x, "bootstrap_interval")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
    return _percentile(means, confidence)


def bootstrap_difference_interval(
    values: Sequence[float],
    baseline: Sequence[float],
    *,
    paired: bool,
    confidence: float = CONFIDENCE,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> Interval:
    """Percentile bootstrap interval of `mean(values) - mean(baseline)`.

    Paired: resample seeds, keeping each seed's two runs together (values[i] pairs with
    baseline[i]). Unpaired: resample each group on its own.
    """
    a = _as_values(values, "values")
    b = _as_values(baseline, "baseline")
    _check_n(a, "bootstrap_difference_interval")
    _check_n(b, "bootstrap_difference_interval (baseline)")
    rng = np.random.default_rng(seed)
    if paired:
        if a.size != b.size:
            raise ValueError(f"paired samples need equal sizes; got {a.size} and {b.size}")
        diffs = (a - b)[rng.integers(0, a.size, size=(resamples, a.size))].mean(axis=1)
    else:
        mean_a = a[rng.integers(0, a.size, size=(resamples, a.size))].mean(axis=1)
        mean_b = b[rng.integers(0, b.size, size=(resamples, b.size))].mean(axis=1)
        diffs = mean_a - mean_b
    return _percentile(diffs, confidence)


def _percentile(resampled: np.ndarray, confidence: float) -> Interval:
    low, high = np.quantile(resampled, [0.5 - confidence / 2, 0.5 + confidence / 2])
    return Interval(float(low), float(high), "percentile bootstrap")


def seed_note(n: int, what: str = "") -> str | None:
    """The plain-words note for n seeds, or None when n is enough."""
    if n < MIN_SEEDS:
        return f"too few seeds (n={n}){what}: no interval or test"
    if n < RECOMMENDED_SEEDS:
        return f"only {n} seeds{what}: intervals are rough"
    return None


def confirm_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The complete confirm runs of a runs frame (other phases and states dropped)."""
    return complete_runs(runs, CONFIRM)


def seed_summary(
    runs: pd.DataFrame,
    metrics: Sequence[str] = TEST_METRICS,
    *,
    confidence: float = CONFIDENCE,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    objective: str | None = None,
) -> pd.DataFrame:
    """Per task, loss and metric: seeds, mean, sd and both intervals of the complete confirm runs.

    Only the current confirm group of each (task, loss) counts (`confirm_groups`, chosen by
    `objective`, default the first metric's validation column).

    Columns: task, loss, metric, n_seeds, mean, std, ci_low, ci_high (Student t-interval, the
    headline), boot_low, boot_high (percentile bootstrap), note. `attrs["ci_method"]` and
    `attrs["boot_method"]` say which interval is which.
    """
    from polybench.stats._groups import current_confirm_group
    from polybench.stats._metrics import get_metric, objective_higher_is_better

    objective = objective or (get_metric(metrics[0]) if metrics else DEFAULT_METRIC).val_column
    runs = current_confirm_group(runs, objective, objective_higher_is_better(objective))
    rows = []
    for (task, loss), group in confirm_runs(runs).groupby(["task", "loss"], sort=True):
        for metric in metrics:
            values = group[metric].dropna().to_numpy(dtype=np.float64)
            if values.size == 0:
                continue
            row = {
                "task": task,
                "loss": loss,
                "metric": metric,
                "n_seeds": values.size,
                "mean": float(values.mean()),
                "std": float(values.std(ddof=1)) if values.size > 1 else np.nan,
                "ci_low": np.nan,
                "ci_high": np.nan,
                "boot_low": np.nan,
                "boot_high": np.nan,
                "note": seed_note(values.size),
            }
            if values.size >= MIN_SEEDS:
                boot = bootstrap_interval(values, confidence, resamples, seed)
                t = t_interval(values, confidence)
                row.update(ci_low=t.low, ci_high=t.high, boot_low=boot.low, boot_high=boot.high)
            rows.append(row)
    columns = ["task", "loss", "metric", "n_seeds", "mean", "std"]
    columns += ["ci_low", "ci_high", "boot_low", "boot_high", "note"]
    frame = pd.DataFrame(rows, columns=columns)
    frame.attrs["ci_method"] = interval_description(confidence)
    frame.attrs["boot_method"] = bootstrap_description(confidence, resamples, seed)
    return frame
