"""Which loss is best across tasks: average ranks, Friedman test, Nemenyi post-hoc (Demšar 2006).

Following J. Demšar, "Statistical Comparisons of Classifiers over Multiple Data Sets", JMLR 7
(2006): rank the losses within each task (1 = best, ties share the average rank), average the
ranks over tasks, test "all losses are equivalent" with Friedman's chi-square (tie-corrected, as
scipy does) and the Iman–Davenport F that Demšar recommends, then compare every pair with the
Nemenyi test: two losses differ when their average ranks differ by more than the critical
difference `CD = q_alpha * sqrt(k (k + 1) / (6 N))`, with `q_alpha` the studentized range
quantile for k groups and infinite degrees of freedom divided by sqrt(2) (Demšar's Table 5a).

A Friedman test needs at least 2 tasks and 3 losses with a score on every task; with fewer the
result carries a note and NaN instead of a statistic. Demšar warns that the chi-square and F
approximations are rough below about 10 tasks, and the F is infinite when every task ranks the
losses the same way. In both cases the p-value that decides is the exact permutation p of the
Friedman statistic: each task's ranks permuted independently, all (k!)^N assignments counted
(Monte Carlo with a fixed RNG seed when there are too many). The Nemenyi post-hoc runs only when
that test rejects, and the note says when its critical difference exceeds k - 1, the largest
possible gap of average ranks (then no pair can ever differ with this many tasks).

`wilcoxon_vs_baseline` adds Demšar's other recommendation for a control: a Wilcoxon
signed-rank test of each loss against the baseline over the tasks (scipy, exact for small N),
Holm-adjusted over the losses.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

MIN_TASKS = 2
MIN_LOSSES = 3
FEW_TASKS = 10
EXACT_MAX_STATES = 200_000
PERMUTATION_DRAWS = 20_000
PERMUTATION_SEED = 0


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


def friedman_permutation_p(
    ranks: np.ndarray,
    *,
    max_states: int = EXACT_MAX_STATES,
    draws: int = PERMUTATION_DRAWS,
    seed: int = PERMUTATION_SEED,
) -> tuple[float, str]:
    """P(S >= S_observed) when each task's ranks are permuted independently and uniformly.

    S = sum over losses of the squared rank sums, which orders the Friedman statistic the same
    way (ties stay within their task, so the tie correction is fixed). Exact, by convolving the
    tasks' permutation distributions over rank-sum vectors (sorted: the distribution is
    symmetric in the losses), while the number of distinct vectors stays below `max_states`;
    Monte Carlo with `draws` draws from RNG seed `seed` otherwise. Returns (p, method).
    """
    doubled = np.rint(np.asarray(ranks, np.float64) * 2).astype(np.int64)  # ties are .5
    n, k = doubled.shape
    observed = int(np.sum(doubled.sum(axis=0) ** 2))
    distribution: dict[tuple[int, ...], float] = {(0,) * k: 1.0}
    for row in doubled:
        orders = sorted(set(itertools.permutations(row.tolist())))
        weight = 1.0 / len(orders)
        following: dict[tuple[int, ...], float] = defaultdict(float)
        for state, probability in distribution.items():
            for order in orders:
                key = tuple(sorted(a + b for a, b in zip(state, order, strict=True)))
                following[key] += probability * weight
        if len(following) > max_states:
            break
        distribution = following
    else:
        p = sum(pr for state, pr in distribution.items() if sum(v * v for v in state) >= observed)
        return float(min(1.0, p)), "exact permutation"
    rng = np.random.default_rng(seed)
    shuffled = rng.permuted(np.broadcast_to(doubled, (draws, n, k)), axis=2)
    statistics = np.sum(shuffled.sum(axis=1) ** 2, axis=1)
    p = (1 + int(np.sum(statistics >= observed))) / (draws + 1)
    return float(p), f"Monte Carlo permutation ({draws:,} draws, RNG seed {seed})"


@dataclass(frozen=True, eq=False)
class FriedmanResult:
    """Average ranks over tasks, the Friedman test and the Nemenyi post-hoc comparison.

    `average_ranks` is sorted best first. `pairwise` has one row per pair of losses: loss_a,
    loss_b, rank_a, rank_b, rank_difference, p_nemenyi, significant (|difference| > CD).
    Numbers that could not be computed are NaN and `note` says why.

    `iman_davenport_p` is the p-value that decides; `p_method` says how it was computed
    ("F distribution", or an exact / Monte Carlo permutation p when there are fewer than 10
    tasks or F is infinite). `nemenyi_applied` is False (and `pairwise` empty) unless that
    p is below alpha.
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
    p_method: str = "F distribution"
    nemenyi_applied: bool = False

    @property
    def rejected(self) -> bool:
        """Whether the test of "all losses are equivalent" rejects at `alpha`."""
        return bool(np.isfinite(self.iman_davenport_p) and self.iman_davenport_p < self.alpha)


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
    chi2, p, f, p_f = friedman_from_ranks(ranks.to_numpy())
    method = "F distribution"
    if np.isnan(chi2):
        notes.append("every loss ties on every task: no Friedman test")
    elif n < FEW_TASKS or not np.isfinite(f):
        p_f, method = friedman_permutation_p(ranks.to_numpy())
        why = f"only {n} tasks" if n < FEW_TASKS else "F is infinite (identical rankings)"
        notes.append(f"{why}: p is the {method} p of the Friedman statistic")
    cd = nemenyi_critical_difference(k, n, alpha)
    applied = bool(np.isfinite(p_f) and p_f < alpha)
    rows = []
    if applied:
        se = np.sqrt(k * (k + 1) / (6 * n))
        for i, a in enumerate(losses):
            for b in losses[i + 1 :]:
                diff = float(average[b] - average[a])
                p_pair = scipy_stats.studentized_range.sf(abs(diff) / se * np.sqrt(2), k, np.inf)
                rows.append([a, b, average[a], average[b], diff, float(p_pair), abs(diff) > cd])
    elif np.isfinite(p_f):
        notes.append(f"the Friedman test does not reject at alpha={alpha}: no Nemenyi post-hoc")
    if cd > k - 1:
        notes.append(
            f"the Nemenyi critical difference {cd:.2f} exceeds {k - 1}, the largest possible "
            f"gap of average ranks: no pair can differ with {n} tasks"
        )
    pairwise = pd.DataFrame(rows, columns=PAIRWISE_COLUMNS)
    if not rows:
        pairwise = pairwise.astype({"significant": bool})
    return FriedmanResult(
        tasks, losses, average, chi2, p, f, p_f, cd, alpha, pairwise, "; ".join(notes) or None,
        method, applied,
    )  # fmt: skip


WILCOXON_COLUMNS = [
    "loss",
    "baseline",
    "n_tasks",
    "wins",
    "ties",
    "defeats",
    "statistic",
    "p_value",
    "p_holm",
    "note",
]


def wilcoxon_vs_baseline(
    scores: pd.DataFrame, baseline: str, higher_is_better: bool = True
) -> pd.DataFrame:
    """Wilcoxon signed-rank test of each loss against `baseline` over the tasks, Holm-adjusted.

    `scores` is a (tasks x losses) frame of mean scores. Tasks where either score is missing
    are left out; zero differences are dropped (scipy's default `zero_method="wilcox"`); the
    p-value is exact for small N (scipy's `method="auto"`). Columns: loss, baseline, n_tasks,
    wins / ties / defeats (tasks where the loss is better / equal / worse), statistic,
    p_value, p_holm, note.
    """
    from polybench.stats._baseline import holm

    rows = []
    if baseline not in scores:
        return pd.DataFrame(columns=WILCOXON_COLUMNS)
    for loss in scores.columns:
        if loss == baseline:
            continue
        pair = scores[[loss, baseline]].dropna()
        diff = pair[loss].to_numpy(np.float64) - pair[baseline].to_numpy(np.float64)
        if not higher_is_better:
            diff = -diff
        row = {"loss": loss, "baseline": baseline, "n_tasks": len(pair)}
        row |= {"wins": int((diff > 0).sum()), "ties": int((diff == 0).sum())}
        row |= {"defeats": int((diff < 0).sum())}
        if np.count_nonzero(diff) < 1:
            row["note"] = "no task where the scores differ: no test"
        else:
            result = scipy_stats.wilcoxon(diff)
            row |= {"statistic": float(result.statistic), "p_value": float(result.pvalue)}
            if len(pair) < 6:
                row["note"] = (
                    f"only {len(pair)} tasks: the smallest possible p is "
                    f"{2 / 2 ** np.count_nonzero(diff):.3g}"
                )
        rows.append(row)
    frame = pd.DataFrame(rows, columns=WILCOXON_COLUMNS)
    frame["p_holm"] = holm(frame["p_value"].to_numpy(np.float64)) if len(frame) else []
    frame["note"] = frame["note"].astype(object).where(frame["note"].notna(), None)
    return frame
