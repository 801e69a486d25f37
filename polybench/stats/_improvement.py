"""Across tasks with few seeds: probability of improvement and interquartile mean (rliable).

Following Agarwal et al., "Deep RL at the Edge of the Statistical Precipice" (NeurIPS 2021) and
their `rliable` library:

- probability of improvement P(X > Y): for each task, the Mann–Whitney probability that a seed
  of loss X scores better than a seed of loss Y (ties count 1/2), averaged over the tasks;
- interquartile mean (IQM): the mean of the middle 50% of all (task, seed) normalized scores of
  a loss. Scores are normalized per task to [0, 1] by the lowest and highest confirm score of any
  loss on that task (flipped for lower-is-better metrics, so 1 is always the best run);
- both with a stratified bootstrap interval: seeds are resampled within each task (each loss on
  its own), `resamples` times from a fixed RNG seed, and the percentile interval is reported.

Input: `{task: {loss: per-seed scores}}` of the current confirm group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

IMPROVEMENT_RESAMPLES = 2_000
IMPROVEMENT_SEED = 0

Scores = Mapping[str, Mapping[str, Sequence[float]]]


def _mann_whitney(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """P(x > y) + P(x = y) / 2 over the last two axes' pairs; x: (..., n), y: (..., m)."""
    greater = (x[..., :, None] > y[..., None, :]).mean(axis=(-1, -2))
    equal = (x[..., :, None] == y[..., None, :]).mean(axis=(-1, -2))
    return greater + 0.5 * equal


def probability_of_improvement(
    x_by_task: Sequence[Sequence[float]], y_by_task: Sequence[Sequence[float]]
) -> float:
    """Mean over tasks of P(a seed of X beats a seed of Y), ties counting 1/2 (higher = better)."""
    values = [
        _mann_whitney(np.asarray(x, np.float64), np.asarray(y, np.float64))
        for x, y in zip(x_by_task, y_by_task, strict=True)
    ]
    return float(np.mean(values)) if values else np.nan


def interquartile_mean(values: Sequence[float]) -> float:
    """Mean of the middle 50% of the values (`scipy.stats.trim_mean(values, 0.25)`)."""
    array = np.asarray(values, np.float64).ravel()
    return float(scipy_stats.trim_mean(array, 0.25)) if array.size else np.nan


def _percentile(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    low, high = np.quantile(samples, [0.5 - confidence / 2, 0.5 + confidence / 2])
    return float(low), float(high)


IMPROVEMENT_COLUMNS = ["loss", "baseline", "n_tasks", "probability", "ci_low", "ci_high"]
IQM_COLUMNS = ["loss", "n_tasks", "n_runs", "iqm", "ci_low", "ci_high"]


def improvement_over_baseline(
    scores: Scores,
    baseline: str,
    higher_is_better: bool = True,
    *,
    confidence: float = 0.95,
    resamples: int = IMPROVEMENT_RESAMPLES,
    seed: int = IMPROVEMENT_SEED,
) -> pd.DataFrame:
    """P(loss beats `baseline` on a random task and seed) per loss, with a stratified bootstrap CI.

    Uses the tasks where both have at least one scored seed. Columns: `IMPROVEMENT_COLUMNS`.
    """
    sign = 1.0 if higher_is_better else -1.0
    losses = sorted({loss for by_loss in scores.values() for loss in by_loss} - {baseline})
    rng = np.random.default_rng(seed)
    rows = []
    for loss in losses:
        pairs = [
            (sign * np.asarray(by_loss[loss], np.float64), sign * np.asarray(by_loss[baseline]))
            for _, by_loss in sorted(scores.items())
            if len(by_loss.get(loss, ())) and len(by_loss.get(baseline, ()))
        ]
        row = {"loss": loss, "baseline": baseline, "n_tasks": len(pairs)}
        if pairs:
            row["probability"] = probability_of_improvement(*zip(*pairs, strict=True))
            samples = np.zeros(resamples)
            for x, y in pairs:
                xs = x[rng.integers(0, x.size, size=(resamples, x.size))]
                ys = y[rng.integers(0, y.size, size=(resamples, y.size))]
                samples += _mann_whitney(xs, ys)
            row["ci_low"], row["ci_high"] = _percentile(samples / len(pairs), confidence)
        rows.append(row)
    return pd.DataFrame(rows, columns=IMPROVEMENT_COLUMNS).astype({"n_tasks": "int64"})


def normalized_scores(scores: Scores, higher_is_better: bool = True) -> dict[str, dict]:
    """Scores mapped per task to [0, 1]: (x - worst) / (best - worst) over every loss's seeds.

    A task where every run scored the same maps to 0.5.
    """
    normalized: dict[str, dict] = {}
    for task, by_loss in scores.items():
        arrays = {loss: np.asarray(v, np.float64) for loss, v in by_loss.items() if len(v)}
        if not arrays:
            continue
        pooled = np.concatenate(list(arrays.values()))
        low, high = pooled.min(), pooled.max()
        spread = high - low
        normalized[task] = {
            loss: (
                np.full(v.shape, 0.5)
                if spread == 0
                else (v - low) / spread
                if higher_is_better
                else (high - v) / spread
            )
            for loss, v in arrays.items()
        }
    return normalized


def interquartile_means(
    scores: Scores,
    higher_is_better: bool = True,
    *,
    confidence: float = 0.95,
    resamples: int = IMPROVEMENT_RESAMPLES,
    seed: int = IMPROVEMENT_SEED,
) -> pd.DataFrame:
    """IQM of each loss's normalized scores over all tasks and seeds, stratified bootstrap CI.

    Columns: `IQM_COLUMNS`, best IQM first.
    """
    normalized = normalized_scores(scores, higher_is_better)
    losses = sorted({loss for by_loss in normalized.values() for loss in by_loss})
    rng = np.random.default_rng(seed)
    rows = []
    for loss in losses:
        per_task = [by_loss[loss] for _, by_loss in sorted(normalized.items()) if loss in by_loss]
        pooled = np.concatenate(per_task)
        draws = [v[rng.integers(0, v.size, size=(resamples, v.size))] for v in per_task]
        samples = scipy_stats.trim_mean(np.concatenate(draws, axis=1), 0.25, axis=1)
        low, high = _percentile(samples, confidence)
        rows.append(
            {
                "loss": loss,
                "n_tasks": len(per_task),
                "n_runs": pooled.size,
                "iqm": interquartile_mean(pooled),
                "ci_low": low,
                "ci_high": high,
            }
        )
    frame = pd.DataFrame(rows, columns=IQM_COLUMNS)
    frame = frame.astype({"n_tasks": "int64", "n_runs": "int64"})
    return frame.sort_values("iqm", ascending=False, kind="stable").reset_index(drop=True)
