"""How often one run of each of two losses shows a gap of a given size, from their seed scores.

The reference blog compared cross-entropy and Poly-1 with one run each (AFQMC dev accuracy
0.7388 vs 0.7435, a gap of 0.0047). With several confirm seeds of each loss we can ask what a
single independent run of each would show: its difference `X = other - baseline` has mean `d`
(the difference of the seed means: the study's estimate of the true difference) and variance
`s_b^2 + s_o^2` (each loss's variance between seeds; the two runs are independent, as the
blog's were). `single_run_gap` gives P(X >= gap), P(X <= -gap) and P(|X| >= gap) under a
normal distribution, and, without the normal assumption, the share of all n_b x n_o pairs of
one baseline seed and one other seed whose gap is that large.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

BLOG_BASELINE = 0.7388
"""The reference blog's AFQMC dev accuracy with cross-entropy (one run)."""
BLOG_POLY1 = 0.7435
"""The reference blog's AFQMC dev accuracy with Poly-1 cross-entropy (one run)."""


@dataclass(frozen=True)
class SingleRunGap:
    """One run of each loss against the gap `gap` (see the module docstring).

    `difference` is mean(other) - mean(baseline); `spread` the standard deviation of the
    difference of one run of each; `normal_*` are probabilities under the normal model and
    `pairs_*` the shares of the n_baseline x n_other seed pairs (`pairs`)."""

    gap: float
    n_baseline: int
    n_other: int
    difference: float
    spread: float
    normal_ahead: float
    normal_behind: float
    normal_either: float
    pairs: int
    pairs_ahead: float
    pairs_behind: float
    pairs_either: float


def single_run_gap(
    baseline: Sequence[float], other: Sequence[float], gap: float = BLOG_POLY1 - BLOG_BASELINE
) -> SingleRunGap:
    """How often one run of `other` minus one run of `baseline` is at least `gap` (ahead), at
    most `-gap` (behind), or either, given each loss's scores over its seeds.

    Raises ValueError for fewer than two scores of a loss or a gap that is not positive.
    """
    b = np.asarray([x for x in baseline if math.isfinite(x)], dtype=float)
    o = np.asarray([x for x in other if math.isfinite(x)], dtype=float)
    if len(b) < 2 or len(o) < 2:
        raise ValueError(f"needs at least 2 finite scores of each loss; got {len(b)} and {len(o)}")
    if not gap > 0:
        raise ValueError(f"the gap must be a positive number; got {gap}")
    difference = float(o.mean() - b.mean())
    spread = float(math.sqrt(b.var(ddof=1) + o.var(ddof=1)))
    if spread > 0:
        ahead = float(scipy_stats.norm.sf(gap, loc=difference, scale=spread))
        behind = float(scipy_stats.norm.cdf(-gap, loc=difference, scale=spread))
    else:
        ahead, behind = float(difference >= gap), float(difference <= -gap)
    gaps = o[None, :] - b[:, None]
    return SingleRunGap(
        gap=float(gap),
        n_baseline=len(b),
        n_other=len(o),
        difference=difference,
        spread=spread,
        normal_ahead=ahead,
        normal_behind=behind,
        normal_either=ahead + behind,
        pairs=int(gaps.size),
        pairs_ahead=float((gaps >= gap).mean()),
        pairs_behind=float((gaps <= -gap).mean()),
        pairs_either=float(((gaps >= gap) | (gaps <= -gap)).mean()),
    )
