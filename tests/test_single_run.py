"""`stats.single_run_gap`: one run of each of two losses against the blog's gap, checked against
a brute-force count over seed pairs and a Monte Carlo draw from the normal model."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from polybench.stats import single_run_gap


def test_pair_shares_count_every_pair_of_one_seed_of_each():
    baseline = [0.70, 0.71, 0.72, 0.705]
    other = [0.712, 0.70, 0.73]
    gap = 0.0047
    result = single_run_gap(baseline, other, gap)
    pairs = [o - b for b, o in itertools.product(baseline, other)]
    assert result.pairs == 12
    assert result.pairs_ahead == sum(d >= gap for d in pairs) / 12
    assert result.pairs_behind == sum(d <= -gap for d in pairs) / 12
    assert result.pairs_either == sum(abs(d) >= gap for d in pairs) / 12
    assert result.difference == pytest.approx(np.mean(other) - np.mean(baseline))
    assert result.spread == pytest.approx(
        math.sqrt(np.var(baseline, ddof=1) + np.var(other, ddof=1))
    )


def test_normal_probabilities_match_a_simulation_of_one_run_of_each():
    rng = np.random.default_rng(0)
    baseline = rng.normal(0.80, 0.004, 10)
    other = rng.normal(0.802, 0.006, 10)
    result = single_run_gap(baseline, other, 0.0047)
    draws = rng.normal(other.mean(), other.std(ddof=1), 400_000) - rng.normal(
        baseline.mean(), baseline.std(ddof=1), 400_000
    )
    assert result.normal_ahead == pytest.approx((draws >= 0.0047).mean(), abs=0.003)
    assert result.normal_behind == pytest.approx((draws <= -0.0047).mean(), abs=0.003)
    assert result.normal_either == pytest.approx(result.normal_ahead + result.normal_behind)


def test_seeds_that_agree_exactly_give_certainties():
    result = single_run_gap([0.8, 0.8], [0.81, 0.81], 0.0047)
    assert (result.normal_ahead, result.normal_behind, result.pairs_either) == (1.0, 0.0, 1.0)


@pytest.mark.parametrize(
    ("baseline", "other", "gap", "message"),
    [
        ([0.8], [0.8, 0.81], 0.01, "at least 2 finite scores of each loss; got 1 and 2"),
        ([0.8, math.nan], [0.8, 0.81], 0.01, "got 1 and 2"),
        ([0.8, 0.81], [0.8, 0.81], 0.0, "the gap must be a positive number; got 0.0"),
    ],
)
def test_too_few_scores_or_no_gap_is_refused(baseline, other, gap, message):
    with pytest.raises(ValueError, match=message):
        single_run_gap(baseline, other, gap)
