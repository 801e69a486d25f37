"""The statistics behind a verdict, checked the way a reviewer would: simulated coverage and
false-positive rates (fixed RNG seeds), STATS.md's power reference points, and every number
against scipy plus an independent library (statsmodels, pingouin, scikit-posthocs, rliable)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from polybench import stats

REPLICATIONS = 2_000

# ---------------------------------------------------------------------------- coverage

# Each distribution with its true mean. "skewed" is a gamma with shape 4 (skewness 1.0);
# paired differences of skewed scores are the other realistic case (two gammas minus each other
# with a shared seed effect). Heavier skew (exponential, skewness 2) is measured in the closing
# note of issue 10: the t-interval covers about 88% there at n = 3..10.
DISTRIBUTIONS = {
    "normal": (lambda rng, size: rng.normal(0.9, 0.01, size), 0.9),
    "skewed": (lambda rng, size: rng.gamma(4.0, 0.005, size), 0.02),
}


@pytest.mark.parametrize("n", [3, 5, 10])
@pytest.mark.parametrize("distribution", sorted(DISTRIBUTIONS))
def test_headline_interval_of_a_mean_covers_at_least_93_percent(distribution, n):
    draw, truth = DISTRIBUTIONS[distribution]
    rng = np.random.default_rng(10_000 + n)
    samples = draw(rng, (REPLICATIONS, n))
    covered = 0
    for values in samples:
        interval = stats.t_interval(values)
        covered += interval.low <= truth <= interval.high
    assert covered / REPLICATIONS >= 0.93


@pytest.mark.parametrize("n", [3, 5, 10])
@pytest.mark.parametrize("distribution", sorted(DISTRIBUTIONS))
def test_headline_interval_of_a_paired_difference_covers_at_least_93_percent(distribution, n):
    draw, _ = DISTRIBUTIONS[distribution]
    rng = np.random.default_rng(20_000 + n)
    seed_effect = rng.normal(0, 0.01, (REPLICATIONS, n))  # same seed, same init and order
    loss = 0.90 + seed_effect + draw(rng, (REPLICATIONS, n))
    base = 0.90 + seed_effect + draw(rng, (REPLICATIONS, n)) - 0.003
    covered = 0
    for a, b in zip(loss, base, strict=True):
        interval = stats.paired_t_test(a, b).interval
        covered += interval.low <= 0.003 <= interval.high
    assert covered / REPLICATIONS >= 0.93


def test_percentile_bootstrap_over_three_seeds_undercovers_which_is_why_it_is_not_the_headline():
    rng = np.random.default_rng(3)
    samples = rng.normal(0.9, 0.01, (REPLICATIONS, 3))
    resample = rng.integers(0, 3, size=(1_000, 3))
    means = samples[:, resample].mean(axis=2)  # (replications, resamples)
    low, high = np.quantile(means, [0.025, 0.975], axis=1)
    coverage = np.mean((low <= 0.9) & (high >= 0.9))
    assert 0.70 < coverage < 0.82  # the issue measured about 76%


def test_an_all_noise_study_rarely_calls_anything_better_or_worse():
    """Family-wise false-positive rate: 3 losses against the baseline, 3 seeds, no true effect.

    The same functions `compare_to_baseline` uses (paired t, Holm, verdict rules) over 2,000
    simulated studies; tests/test_report.py runs a stored all-noise study end to end.
    """
    rng = np.random.default_rng(42)
    studies, losses, n = REPLICATIONS, 3, 3
    seed_effect = rng.normal(0, 0.01, (studies, 1, n))
    scores = 0.9 + seed_effect + rng.normal(0, 0.005, (studies, losses + 1, n))
    calls = 0
    for study in scores:
        base, others = study[0], study[1:]
        tests = [stats.paired_t_test(other, base) for other in others]
        adjusted = stats.holm([t.p_value for t in tests])
        verdicts = [
            stats.verdict_of(p, (other - base).mean(), True, 0.05)
            for p, other in zip(adjusted, others, strict=True)
        ]
        calls += any(v in ("better", "worse") for v in verdicts)
    assert calls / studies <= 0.06  # Holm keeps the family-wise rate at or below 5%


# ---------------------------------------------------------------------------- power


@pytest.mark.parametrize(("n", "d_z"), [(3, 5.67), (5, 2.29), (10, 1.22)])
def test_detectable_effect_matches_the_reference_points(n, d_z):
    from statsmodels.stats.power import TTestPower

    alpha = 0.05 / 3
    effect = stats.detectable_effect(n, alpha)
    assert effect == pytest.approx(d_z, abs=0.01)
    assert stats.paired_power(effect, n, alpha) == pytest.approx(0.8, abs=1e-9)
    independent = TTestPower().power(effect_size=effect, nobs=n, alpha=alpha)
    if n > 3:  # statsmodels (through scipy's nct) returns NaN this far in the tail at n = 3
        assert independent == pytest.approx(0.8, abs=1e-6)
    # and by simulation: paired differences with mean d_z and sd 1
    rng = np.random.default_rng(n)
    d = rng.normal(effect, 1.0, (20_000, n))
    t = d.mean(axis=1) / (d.std(axis=1, ddof=1) / math.sqrt(n))
    rejected = np.abs(t) > scipy_stats.t.ppf(1 - alpha / 2, n - 1)
    assert rejected.mean() == pytest.approx(0.8, abs=0.01)


def test_seeds_needed_for_half_a_standard_deviation_is_45():
    from statsmodels.stats.power import TTestPower

    alpha = 0.05 / 3
    assert stats.seeds_needed(0.5, alpha) == 45
    assert stats.paired_power(0.5, 44, alpha) < 0.8 <= stats.paired_power(0.5, 45, alpha)
    assert math.ceil(TTestPower().solve_power(effect_size=0.5, alpha=alpha, power=0.8)) == 45
    for effect, n in [(0.3, 7), (1.0, 4), (2.0, 12)]:
        reference = TTestPower().power(effect_size=effect, nobs=n, alpha=0.05)
        assert stats.paired_power(effect, n, 0.05) == pytest.approx(reference, abs=1e-8)
    assert stats.minimum_detectable_difference(0.004, 3, alpha) == pytest.approx(
        0.004 * stats.detectable_effect(3, alpha)
    )
    with pytest.raises(ValueError, match="nonzero"):
        stats.seeds_needed(0.0, alpha)


# ---------------------------------------------------------------------------- effect sizes


def test_effect_sizes_match_pingouin_and_hand_values():
    import pingouin

    a = np.array([0.941, 0.949, 0.944, 0.937])
    b = np.array([0.900, 0.910, 0.905, 0.895])
    d_z, g_av = stats.effect_sizes(a, b)
    assert d_z == pytest.approx(pingouin.compute_effsize(a, b, paired=True, eftype="cohen_dz"))
    assert g_av == pytest.approx(pingouin.compute_effsize(a, b, paired=True, eftype="hedges"))
    d = a - b
    assert d_z == pytest.approx(d.mean() / d.std(ddof=1))
    j = 1 - 3 / (4 * 6 - 1)  # df = 2 (n - 1) = 6
    assert g_av == pytest.approx(d.mean() / np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2) * j)


def test_a_paired_effect_is_not_hidden_by_the_spread_across_seeds():
    """The issue's case: a large paired effect printed as a small pooled-SD g."""
    base = np.array([0.90, 0.92, 0.94])
    loss = base + np.array([0.0040, 0.0041, 0.0039])
    result = stats.compare(loss, base, seeds=[0, 1, 2], baseline_seeds=[0, 1, 2])
    assert result.d_z > 30 and result.test.p_value < 0.001
    assert result.g_av < 0.3  # small next to the spread of scores: a different question


# ---------------------------------------------------------------------------- equivalence


def test_tost_matches_statsmodels_and_pingouin():
    import pingouin
    from statsmodels.stats.weightstats import ttost_paired

    a = np.array([0.912, 0.915, 0.910, 0.913, 0.914])
    b = np.array([0.911, 0.914, 0.912, 0.912, 0.913])
    result = stats.tost_paired(a, b, margin=0.005)
    p_statsmodels, _, _ = ttost_paired(a, b, -0.005, 0.005)
    assert result.p_value == pytest.approx(p_statsmodels, rel=1e-9)
    p_pingouin = pingouin.tost(a, b, bound=0.005, paired=True)["pval"].iloc[0]
    assert result.p_value == pytest.approx(p_pingouin, rel=1e-9)
    assert result.equivalent
    # equivalent exactly when the 90% t-interval lies inside the margin
    d = a - b
    ci = scipy_stats.t.interval(0.90, d.size - 1, loc=d.mean(), scale=scipy_stats.sem(d))
    assert (result.interval.low, result.interval.high) == pytest.approx(ci)
    assert ci[0] > -0.005 and ci[1] < 0.005
    narrow = stats.tost_paired(a, b, margin=0.001)
    assert not narrow.equivalent
    assert narrow.interval.high > 0.001 or narrow.interval.low < -0.001


def test_verdict_rules():
    assert stats.verdict_of(0.01, 0.02, True, 0.05) == "better"
    assert stats.verdict_of(0.01, -0.02, True, 0.05) == "worse"
    assert stats.verdict_of(0.01, -0.02, False, 0.05) == "better"  # lower ECE is better
    assert stats.verdict_of(0.2, 0.001, True, 0.05, equivalent=True) == "equivalent"
    assert stats.verdict_of(0.2, 0.001, True, 0.05) == "inconclusive"
    assert stats.verdict_of(np.nan, np.nan, True, 0.05) == "inconclusive"
    assert stats.verdict_of(0.01, 0.02, True, 0.05, fails_more=True) == "inconclusive"


# ---------------------------------------------------------------------------- failed seeds


def test_failed_seeds_are_counted_and_the_pairs_use_the_seeds_both_completed():
    rows = []
    base = [0.900, 0.910, 0.905, 0.895, 0.902]
    loss = [0.941, 0.949, 0.944, None, None]
    for seed, (b, a) in enumerate(zip(base, loss, strict=True)):
        rows.append({"task": "t", "loss": "cross_entropy", "seed": seed, "phase": "confirm",
                     "state": "complete", "test_accuracy": b, "failure_reason": None})  # fmt: skip
        rows.append(
            {"task": "t", "loss": "focal", "seed": seed, "phase": "confirm",
             "state": "complete" if a is not None else "failed", "test_accuracy": a,
             "failure_reason": None if a is not None else "training loss became nan in epoch 2"}
        )  # fmt: skip
    row = stats.compare_to_baseline(pd.DataFrame(rows), metrics=["test_accuracy"]).iloc[0]
    assert (row["n_seeds"], row["n_baseline"], row["n_pairs"], row["n_failed"]) == (3, 5, 3, 2)
    assert row["failures"] == "diverged on 2 of 5 seeds (3, 4)"
    assert row["t_test"] == "paired t"
    reference = scipy_stats.ttest_rel(loss[:3], base[:3])
    assert row["p_value"] == pytest.approx(reference.pvalue)
    assert row["delta"] == pytest.approx(np.mean(np.subtract(loss[:3], base[:3])))
    assert row["p_holm"] < 0.05 and row["delta"] > 0
    assert row["verdict"] == "inconclusive"  # fails more often than the baseline: not better


# ---------------------------------------------------------------------------- across tasks


def test_friedman_exact_p_with_identical_rankings_is_one_over_k_factorial():
    scores = pd.DataFrame(
        {"a": [0.9, 0.8], "b": [0.85, 0.75], "c": [0.8, 0.7], "d": [0.7, 0.6]}, index=["x", "y"]
    )
    result = stats.friedman(scores)
    assert result.iman_davenport == math.inf
    assert result.iman_davenport_p == pytest.approx(1 / 24)
    # 1/24 < 0.05, so Nemenyi runs, but its critical difference cannot be reached with 2 tasks
    assert result.nemenyi_applied and not result.pairwise["significant"].any()
    assert result.critical_difference > 3
    assert "exceeds 3, the largest possible gap of average ranks: no pair can differ" in result.note


def test_friedman_exact_p_matches_brute_force_enumeration_with_ties():
    scores = pd.DataFrame([[0.9, 0.8, 0.8], [0.7, 0.9, 0.6], [0.9, 0.85, 0.6]], columns=list("abc"))
    ranks = stats.rank_losses(scores).to_numpy()
    observed = np.sum(ranks.sum(axis=0) ** 2)
    rows = [sorted(set(itertools.permutations(r))) for r in ranks]
    counts = [np.sum(np.sum(np.array(c), axis=0) ** 2) >= observed - 1e-9
              for c in itertools.product(*rows)]  # fmt: skip
    p, method = stats.friedman_permutation_p(ranks)
    assert method == "exact permutation" and p == pytest.approx(np.mean(counts))
    monte_carlo, how = stats.friedman_permutation_p(ranks, max_states=1)
    assert how.startswith("Monte Carlo") and monte_carlo == pytest.approx(p, abs=0.02)


def test_nemenyi_p_values_match_scikit_posthocs():
    import scikit_posthocs as sp

    rows = [[0.9, 0.8, 0.7, 0.1] if i % 2 else [0.9, 0.7, 0.8, 0.1] for i in range(10)]
    scores = pd.DataFrame(rows, columns=list("abcd"))
    result = stats.friedman(scores)
    assert result.nemenyi_applied
    reference = sp.posthoc_nemenyi_friedman(scores.to_numpy())
    for row in result.pairwise.itertuples():
        i, j = "abcd".index(row.loss_a), "abcd".index(row.loss_b)
        assert row.p_nemenyi == pytest.approx(reference.iloc[i, j], abs=1e-6)


def test_wilcoxon_per_loss_matches_scipy_and_holm_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(1)
    scores = pd.DataFrame(rng.normal(0.9, 0.02, (8, 4)), columns=["ce", "a", "b", "c"])
    scores["a"] += 0.03
    table = stats.wilcoxon_vs_baseline(scores, "ce").set_index("loss")
    for loss in "abc":
        reference = scipy_stats.wilcoxon(scores[loss], scores["ce"])
        assert table.loc[loss, "p_value"] == pytest.approx(reference.pvalue)
    expected = multipletests(table["p_value"], method="holm")[1]
    np.testing.assert_allclose(table["p_holm"], expected)
    import scikit_posthocs as sp

    long = scores.melt(var_name="loss", value_name="score", ignore_index=False)
    pairwise = sp.posthoc_wilcoxon(long, val_col="score", group_col="loss")
    for loss in "abc":
        assert table.loc[loss, "p_value"] == pytest.approx(pairwise.loc[loss, "ce"])
    assert table.loc["a", "wins"] == 8
    two = stats.wilcoxon_vs_baseline(scores.head(2), "ce").set_index("loss")
    assert two.loc["a", "p_value"] == pytest.approx(0.5)
    assert two.loc["a", "note"] == "only 2 tasks: the smallest possible p is 0.5"


def test_probability_of_improvement_and_iqm_match_rliable():
    from rliable import metrics

    rng = np.random.default_rng(7)
    x = rng.normal(0.91, 0.01, (5, 3))  # runs x tasks, rliable's layout
    y = rng.normal(0.90, 0.01, (5, 3))
    y[:, 0] = x[:, 0]  # one task with identical scores: ties count 1/2
    mine = stats.probability_of_improvement(x.T, y.T)
    assert mine == pytest.approx(metrics.probability_of_improvement(x, y))
    assert stats.interquartile_mean(x) == pytest.approx(metrics.aggregate_iqm(x))
    scores = {f"t{t}": {"a": x[:, t], "ce": y[:, t]} for t in range(3)}
    improvement = stats.improvement_over_baseline(scores, "ce").iloc[0]
    assert improvement["probability"] == pytest.approx(mine)
    assert improvement["ci_low"] <= mine <= improvement["ci_high"]
    normalized = stats.normalized_scores(scores)
    iqm = stats.interquartile_means(scores).set_index("loss")
    pooled = np.column_stack([normalized[f"t{t}"]["a"] for t in range(3)])
    assert iqm.loc["a", "iqm"] == pytest.approx(metrics.aggregate_iqm(pooled))
    assert iqm.loc["a", "ci_low"] <= iqm.loc["a", "iqm"] <= iqm.loc["a", "ci_high"]
