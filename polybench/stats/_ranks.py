"""Which loss is best across tasks: average ranks, Friedman test, Nemenyi post-hoc (Demšar 2006).

Following J. Demšar, "Statistical Comparisons of Classifiers over Multiple Data Sets", JMLR 7
(2006): rank the losses within each task (1 = best, ties share the average rank), average the
ranks over tasks, test "all losses are equivalent" with Friedman's chi-square (tie-corrected, as
scipy does) and the Iman–Davenport F that Demšar recommends, then compare every pair with the
Nemenyi test: two losses differ when their average ranks differ by more than the critical
difference `CD = q_alpha * sqrt(k (k + 1) / (6 N))`, with `q_alpha` the studentized range
quantile for k groups and infinite degrees of freedom divided by sqrt(2) (Demšar's Table 5a).

A Friedman test needs at least 2 tasks and 3 losses with a score on every task; with fewer the
result carries a note and NaN instead of a statistic. Demšar warns that the chi-square
approximation is rough below about 10 tasks; the note says so as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

MIN_TASKS = 2
MIN_LOSSES = 3
FEW_TASKS = 10


def rank_losses(scores: pd.DataFrame, higher_is_better: bool = True) -> pd.DataFrame:
    """Rank the columns (losses) within each row (task): 1 = best, ties get the average rank."""
    signed = -scores if higher_is_better else scores
    ranks = np.apply_along_axis(scipy_stats.rankdata, 1, signed.to_numpy(np.float64))
    return pd.DataFrame(ranks, index=scores.index, columns=scores.columns)


def nemenyi_q(k: int, alpha: float = 0.05) -> float:
    """Nemenyi's q_alpha for k methods: studentized range quantile (df = inf) / sqrt(2)."""
    if k < 2:
        raise ValueError(f"the Nemenyi test compares k >= 2 methods; got k={k}")
    return float(scipy_stats.studentized_range.ppf(1 - alpha, k, np.inf) / np.sqrt(2))


def nemenyi_critical_difference(k: int, n_tasks: int, alpha: float = 0.05) -> float:
    """The smallest difference of average ranks that is significant: q_a sqrt(k(k+1)/(6N))."""
    return nemenyi_q(k, alpha) * float(np.sqrt(k * (k + 1) / (6 * n_tasks)))


def friedman_from_ranks(ranks: np.ndarray) -> tuple[float, float, float, float]:
    """Friedman chi-square (tie-corrected) and Iman–Davenport F from a (tasks, losses) rank matrix.

    Returns (chi2, p, F, p_F): `chi2 = 12 N / (k (k+1)) * (sum_j R_j² - k (k+1)² / 4) / c` with
    `c = 1 - sum(t³ - t) / (N k (k² - 1))` over tie groups t, and
    `F = (N - 1) chi2 / (N (k - 1) - chi2)` on (k-1, (k-1)(N-1)) degrees of freedom.
    """
    n, k = ranks.shape
    mean_ranks = ranks.mean(axis=0)
    chi2 = 12 * n / (k * (k + 1)) * (np.sum(mean_ranks**2) - k * (k + 1) ** 2 / 4)
    ties = sum(
        np.sum(counts**3 - counts)
        for counts in (np.unique(row, return_counts=True)[1] for row in ranks)
    )
    correction = 1 - ties / (n * k * (k**2 - 1))
    if correction <= 0:  # every task ties every loss: the statistic is undefined
        return np.nan, np.nan, np.nan, np.nan
    chi2 = chi2 / correction
    p = float(scipy_stats.chi2.sf(chi2, k - 1))
    denominator = n * (k - 1) - chi2
    f = (n - 1) * chi2 / denominator if denominator > 0 else np.inf
    p_f = float(scipy_stats.f.sf(f, k - 1, (k - 1) * (n - 1))) if np.isfinite(f) else 0.0
    return float(chi2), p, float(f), p_f


@dataclass(frozen=True, eq=False)
class FriedmanResult:
    """Average ranks over tasks, the Friedman test and the Nemenyi post-hoc comparison.

    `average_ranks` is sorted best first. `pairwise` has one row per pair of losses: loss_a,
    loss_b, rank_a, rank_b, rank_difference, p_nemenyi, significant (|difference| > CD).
    Numbers that could not be computed are NaN and `note` says why.
    """

    tasks: tuple[str, ...]
    losses: tuple[str, ...]
    average_ranks: pd.Series
    statistic: float
    p_value: float
    iman_davenport: float
    iman_davenport_p: float
    critical_difference: float
    alpha: float
    pairwise: pd.DataFrame = field(repr=False)
    note: str | None


PAIRWISE_COLUMNS = [
    "loss_a",
    "loss_b",
    "rank_a",
    "rank_b",
    "rank_difference",
    "p_nemenyi",
    "significant",
]


def friedman(
    scores: pd.DataFrame, higher_is_better: bool = True, alpha: float = 0.05
) -> FriedmanResult:
    """Friedman test and Nemenyi post-hoc over a (tasks x losses) frame of mean scores.

    Losses without a score on every task are left out (the note names them).
    """
    notes = []
    missing = [str(c) for c in scores.columns if scores[c].isna().any()]
    if missing:
        notes.append(f"left out for missing tasks: {', '.join(missing)}")
    complete = scores.drop(columns=missing)
    n, k = complete.shape
    ranks = rank_losses(complete, higher_is_better) if n and k else complete
    average = ranks.mean(axis=0).sort_values(kind="stable")
    average.name = "average_rank"
    tasks = tuple(str(t) for t in complete.index)
    losses = tuple(str(c) for c in average.index)
    if n < MIN_TASKS or k < MIN_LOSSES:
        notes.append(
            f"too few tasks or losses (tasks={n}, losses={k}; a Friedman test needs "
            f">= {MIN_TASKS} tasks and >= {MIN_LOSSES} losses)"
        )
        return FriedmanResult(
            tasks, losses, average, np.nan, np.nan, np.nan, np.nan, np.nan, alpha,
            pd.DataFrame(columns=PAIRWISE_COLUMNS), "; ".join(notes),
        )  # fmt: skip
    if n < FEW_TASKS:
        notes.append(f"only {n} tasks: the chi-square approximation is rough below {FEW_TASKS}")
    chi2, p, f, p_f = friedman_from_ranks(ranks.to_numpy())
    if np.isnan(chi2):
        notes.append("every loss ties on every task: no Friedman test")
    cd = nemenyi_critical_difference(k, n, alpha)
    se = np.sqrt(k * (k + 1) / (6 * n))
    rows = []
    for i, a in enumerate(losses):
        for b in losses[i + 1 :]:
            diff = float(average[b] - average[a])
            p_pair = scipy_stats.studentized_range.sf(abs(diff) / se * np.sqrt(2), k, np.inf)
            rows.append([a, b, average[a], average[b], diff, float(p_pair), abs(diff) > cd])
    pairwise = pd.DataFrame(rows, columns=PAIRWISE_COLUMNS)
    return FriedmanResult(
        tasks, losses, average, chi2, p, f, p_f, cd, alpha, pairwise, "; ".join(notes) or None
    )
