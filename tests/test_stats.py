"""polybench.stats against known answers: scipy on the same numbers, hand-computed cases,
Demšar's published tables, and exact enumeration of small bootstrap distributions."""

from __future__ import annotations

import itertools
import math

import numpy as np
import optuna
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from polybench import stats

# ---------------------------------------------------------------------------- helpers


def confirm_frame(scores: dict[tuple[str, str], list[float]], seeds=None) -> pd.DataFrame:
    """A runs-shaped frame of complete confirm runs: {(task, loss): per-seed test_accuracy}."""
    rows = []
    for (task, loss), values in scores.items():
        for i, value in enumerate(values):
            seed = seeds[(task, loss)][i] if seeds else i
            rows.append(
                {
                    "run_id": len(rows) + 1,
                    "task": task,
                    "loss": loss,
                    "seed": seed,
                    "phase": "confirm",
                    "state": "complete",
                    "test_accuracy": value,
                    "test_ece": 1 - value,
                    "train_throughput": 1000.0,
                }
            )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------- intervals


def test_t_interval_matches_hand_value_and_scipy():
    # mean 2, sd 1, n 3: 2 ± t(0.975, 2) / sqrt(3); with 2 df the t quantile has the closed form
    # t_p = (2p - 1) sqrt(2 / (4 p (1 - p))), which is 4.3027 for p = 0.975 (as in the tables)
    interval = stats.t_interval([1.0, 2.0, 3.0])
    half = 0.95 * math.sqrt(2 / (4 * 0.975 * 0.025)) / math.sqrt(3)
    assert interval.low == pytest.approx(2 - half, abs=1e-12)
    assert interval.high == pytest.approx(2 + half, abs=1e-12)
    x = np.array([0.91, 0.93, 0.92, 0.95, 0.90])
    reference = scipy_stats.ttest_1samp(x, 0.0).confidence_interval(0.9)
    mine = stats.t_interval(x, confidence=0.9)
    assert (mine.low, mine.high) == pytest.approx((reference.low, reference.high), abs=1e-12)


def test_bootstrap_interval_agrees_with_exact_enumeration():
    x = np.array([0.0, 1.0, 2.0, 10.0])
    # exact bootstrap distribution of the mean: all 4**4 equally likely resamples
    exact = np.array([np.mean(c) for c in itertools.product(x, repeat=x.size)])
    interval = stats.bootstrap_interval(x)

    def below(v):
        return np.mean(exact < v)

    def at_most(v):
        return np.mean(exact <= v)

    assert below(interval.low) <= 0.025 + 0.01 and at_most(interval.low) >= 0.025 - 0.01
    assert below(interval.high) <= 0.975 + 0.01 and at_most(interval.high) >= 0.975 - 0.01
    assert interval.method == "percentile bootstrap"


def test_bootstrap_of_two_values_is_their_range():
    # resampled means of {0, 1} are 0, 0.5, 1 with probability 1/4, 1/2, 1/4
    interval = stats.bootstrap_interval([0.0, 1.0])
    assert (interval.low, interval.high) == (0.0, 1.0)


def test_bootstrap_is_deterministic_and_close_to_scipy():
    rng = np.random.default_rng(7)
    x = rng.normal(0.9, 0.02, size=8)
    first, second = stats.bootstrap_interval(x), stats.bootstrap_interval(x)
    assert first == second
    reference = scipy_stats.bootstrap(
        (x,), np.mean, method="percentile", n_resamples=100_000, rng=np.random.default_rng(1)
    ).confidence_interval
    sd = x.std(ddof=1)
    assert first.low == pytest.approx(reference.low, abs=0.05 * sd)
    assert first.high == pytest.approx(reference.high, abs=0.05 * sd)


def test_unpaired_difference_bootstrap_close_to_scipy_and_paired_equals_differences():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0.92, 0.01, 6), rng.normal(0.90, 0.02, 6)
    mine = stats.bootstrap_difference_interval(a, b, paired=False)
    reference = scipy_stats.bootstrap(
        (a, b),
        lambda u, v, axis: u.mean(axis) - v.mean(axis),
        method="percentile",
        n_resamples=100_000,
        rng=np.random.default_rng(1),
    ).confidence_interval
    assert mine.low == pytest.approx(reference.low, abs=0.002)
    assert mine.high == pytest.approx(reference.high, abs=0.002)
    # identity: the paired bootstrap of a mean difference is the bootstrap of the differences
    paired = stats.bootstrap_difference_interval(a, b, paired=True)
    assert paired == stats.bootstrap_interval(a - b)


def test_one_value_has_no_interval():
    with pytest.raises(ValueError, match="n=1"):
        stats.bootstrap_interval([0.9])
    with pytest.raises(ValueError, match="n=1"):
        stats.t_interval([0.9])


def test_seed_summary_columns_values_and_notes():
    runs = confirm_frame(
        {("digits", "cross_entropy"): [0.90, 0.92, 0.94], ("digits", "focal"): [0.88]}
    )
    runs.loc[len(runs)] = runs.iloc[0].to_dict() | {"state": "failed", "test_accuracy": 0.0}
    summary = stats.seed_summary(runs, metrics=["test_accuracy"])
    ce = summary.set_index("loss").loc["cross_entropy"]
    assert ce["n_seeds"] == 3  # the failed run is not counted
    assert ce["mean"] == pytest.approx(0.92)
    assert ce["std"] == pytest.approx(0.02)
    t = scipy_stats.t.interval(0.95, 2, loc=0.92, scale=0.02 / math.sqrt(3))
    assert (ce["ci_low"], ce["ci_high"]) == pytest.approx(t)  # the headline is the t-interval
    assert 0.90 <= ce["boot_low"] < 0.92 < ce["boot_high"] <= 0.94
    assert pd.isna(ce["note"])
    focal = summary.set_index("loss").loc["focal"]
    assert focal["n_seeds"] == 1 and np.isnan(focal["ci_low"]) and np.isnan(focal["std"])
    assert focal["note"] == "too few seeds (n=1): no interval or test"
    assert summary.attrs["ci_method"].startswith("95% Student t-interval")
    assert "percentile bootstrap" in summary.attrs["boot_method"]


# ---------------------------------------------------------------------------- tests vs CE


def test_welch_matches_hand_values_and_scipy():
    # hand: means 2.5 and 5, variances 5/3 and 20/3 -> t = -sqrt(3), df = 75/17
    result = stats.welch_t_test([1, 2, 3, 4], [2, 4, 6, 8])
    assert result.statistic == pytest.approx(-math.sqrt(3), abs=1e-12)
    assert result.df == pytest.approx(75 / 17, abs=1e-12)
    a = np.array([0.912, 0.925, 0.918, 0.931, 0.909])
    b = np.array([0.901, 0.899, 0.915, 0.905])
    mine = stats.welch_t_test(a, b)
    reference = scipy_stats.ttest_ind(a, b, equal_var=False)
    assert mine.statistic == pytest.approx(reference.statistic, rel=1e-12)
    assert mine.df == pytest.approx(reference.df, rel=1e-12)
    assert mine.p_value == pytest.approx(reference.pvalue, rel=1e-10)
    ci = reference.confidence_interval(0.95)
    assert (mine.interval.low, mine.interval.high) == pytest.approx((ci.low, ci.high), rel=1e-10)


def test_paired_matches_scipy():
    a = np.array([0.912, 0.925, 0.918, 0.931, 0.909])
    b = np.array([0.901, 0.919, 0.915, 0.920, 0.907])
    mine = stats.paired_t_test(a, b)
    reference = scipy_stats.ttest_rel(a, b)
    assert mine.statistic == pytest.approx(reference.statistic, rel=1e-12)
    assert mine.df == reference.df == 4
    assert mine.p_value == pytest.approx(reference.pvalue, rel=1e-10)
    ci = reference.confidence_interval(0.95)
    assert (mine.interval.low, mine.interval.high) == pytest.approx((ci.low, ci.high), rel=1e-10)


def test_hedges_g_hand_value():
    # means 2 and 4, both sd 1 -> d = -2; J = 1 - 3 / (4 * 6 - 9) = 0.8 -> g = -1.6
    assert stats.hedges_g([1, 2, 3], [3, 4, 5]) == pytest.approx(-1.6, abs=1e-12)
    assert np.isnan(stats.hedges_g([1, 1], [1, 1]))


def test_holm_hand_values():
    # sorted 0.01, 0.03, 0.04 -> 3*0.01, max(0.03, 2*0.03), max(0.06, 1*0.04)
    adjusted = stats.holm([0.01, 0.04, 0.03, np.nan])
    np.testing.assert_allclose(adjusted[:3], [0.03, 0.06, 0.06], atol=1e-15)
    assert np.isnan(adjusted[3])
    assert stats.holm([0.6, 0.9]).tolist() == [1.0, 1.0]


def test_compare_pairs_by_seed_in_any_order_and_uses_welch_only_without_seeds():
    a, b = [0.91, 0.93, 0.92, 0.95], [0.90, 0.90, 0.91, 0.92]
    shuffled = stats.compare(
        a[::-1], b, seeds=[3, 2, 1, 0], baseline_seeds=[0, 1, 2, 3], resamples=2000
    )
    assert shuffled.test.name == "paired t"
    assert shuffled.test.p_value == pytest.approx(scipy_stats.ttest_rel(a, b).pvalue, rel=1e-10)
    assert shuffled.delta == pytest.approx(np.mean(a) - np.mean(b))
    disjoint = stats.compare(a, b, seeds=[0, 1, 2, 3], baseline_seeds=[4, 5, 6, 7])
    assert disjoint.test is None and disjoint.n_pairs == 0  # never silently Welch
    assert disjoint.note == "too few seeds (n=0 completed by both, of 4 and 4): no interval or test"
    unpaired = stats.compare(a, b)  # no seeds at all: notebook use, named as Welch
    assert unpaired.test.name == "Welch t"
    reference = scipy_stats.ttest_ind(a, b, equal_var=False).pvalue
    assert unpaired.test.p_value == pytest.approx(reference, rel=1e-10)
    assert unpaired.note is None


def test_compare_says_why_there_is_no_test():
    one = stats.compare([0.9], [0.8, 0.85])
    assert one.test is None and one.delta_interval is None and np.isnan(one.g_av)
    assert one.note == "too few seeds (n=1 vs 2 for the baseline): no interval or test"
    assert one.delta == pytest.approx(0.075)
    flat = stats.compare(
        [0.9, 0.9, 0.9], [0.8, 0.8, 0.8], seeds=[0, 1, 2], baseline_seeds=[0, 1, 2]
    )
    assert np.isnan(flat.test.p_value) and flat.note == "the same difference on every seed: no test"
    two = stats.compare([0.9, 0.92], [0.8, 0.83])
    assert two.note == "only 2 seeds: interval and test are rough"


def test_compare_to_baseline_frame():
    runs = confirm_frame(
        {
            ("digits", "cross_entropy"): [0.90, 0.91, 0.92, 0.90],
            ("digits", "focal"): [0.93, 0.95, 0.93, 0.94],
            ("digits", "poly1_cross_entropy"): [0.91, 0.90, 0.94, 0.93],
            ("mnist", "focal"): [0.80, 0.81],
        }
    )
    table = stats.compare_to_baseline(runs, metrics=["test_accuracy"], resamples=2000)
    assert list(table.columns) == stats._baseline.COMPARISON_COLUMNS
    digits = table[table["task"] == "digits"].set_index("loss")
    ce = runs[runs["loss"] == "cross_entropy"]["test_accuracy"].to_numpy()
    raw = {}
    for loss in ["focal", "poly1_cross_entropy"]:
        values = runs[(runs["task"] == "digits") & (runs["loss"] == loss)]["test_accuracy"]
        raw[loss] = scipy_stats.ttest_rel(values.to_numpy(), ce).pvalue
        assert digits.loc[loss, "p_value"] == pytest.approx(raw[loss], rel=1e-10)
        assert digits.loc[loss, "t_test"] == "paired t"
    low, high = sorted(raw, key=raw.get)
    assert digits.loc[low, "p_holm"] == pytest.approx(2 * raw[low], rel=1e-10)
    expected_high = max(2 * raw[low], raw[high])
    assert digits.loc[high, "p_holm"] == pytest.approx(min(1.0, expected_high), rel=1e-10)
    assert digits.loc["focal", "delta"] == pytest.approx(0.9375 - 0.9075)
    mnist = table[table["task"] == "mnist"].iloc[0]
    assert mnist["note"] == "no complete cross_entropy confirm runs in task 'mnist'"
    assert np.isnan(mnist["p_value"])


# ---------------------------------------------------------------------------- ranks


@pytest.mark.parametrize(
    ("alpha", "table"),
    [  # Demšar (2006), Table 5a: q_alpha for the Nemenyi test, k = 2..10
        (0.05, [1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164]),
        (0.10, [1.645, 2.052, 2.291, 2.459, 2.589, 2.693, 2.780, 2.855, 2.920]),
    ],
)
def test_nemenyi_q_matches_demsar_table(alpha, table):
    for k, q in zip(range(2, 11), table, strict=True):
        assert stats.nemenyi_q(k, alpha) == pytest.approx(q, abs=1e-3)  # table has 3 decimals


def test_critical_difference_of_demsars_example():
    # Demšar (2006), section 3.2.4: four C4.5 variants on 14 data sets, CD = 1.25 at alpha 0.05
    assert stats.nemenyi_critical_difference(4, 14, 0.05) == pytest.approx(1.25, abs=5e-3)


def test_friedman_hand_case():
    # two tasks, same order: ranks 1, 2, 3 -> chi2 = 12*2/(3*4) * (1+4+9 - 3*4²/4) = 4
    scores = pd.DataFrame({"a": [0.9, 0.8], "b": [0.85, 0.7], "c": [0.5, 0.6]}, index=["t1", "t2"])
    result = stats.friedman(scores)
    assert result.statistic == pytest.approx(4.0)
    assert result.p_value == pytest.approx(math.exp(-2))  # chi2 sf with 2 df is exp(-x/2)
    assert result.average_ranks.to_dict() == {"a": 1.0, "b": 2.0, "c": 3.0}
    assert "only 2 tasks" in result.note
    # chi2 reaches N (k - 1): F is infinite; the exact p is 3! / (3!)² = 1/6, not 0
    assert result.iman_davenport == math.inf
    assert result.iman_davenport_p == pytest.approx(1 / 6)
    assert result.p_method == "exact permutation" and not result.nemenyi_applied


def test_friedman_matches_scipy_with_ties_and_iman_davenport():
    rng = np.random.default_rng(0)
    scores = pd.DataFrame(rng.integers(0, 4, size=(12, 5)) / 10, columns=list("abcde"))
    result = stats.friedman(scores)
    reference = scipy_stats.friedmanchisquare(*[scores[c] for c in scores])
    assert result.statistic == pytest.approx(reference.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-10)
    n, k, chi2 = 12, 5, reference.statistic
    f = (n - 1) * chi2 / (n * (k - 1) - chi2)
    assert result.iman_davenport == pytest.approx(f, rel=1e-12)
    p_f = scipy_stats.f.sf(f, k - 1, (k - 1) * (n - 1))
    assert result.iman_davenport_p == pytest.approx(p_f, rel=1e-10)
    assert result.p_method == "F distribution"
    assert result.nemenyi_applied == (p_f < 0.05)


def test_nemenyi_pairs_against_critical_difference():
    # 10 tasks; loss a always best, b and c swap; 4 losses
    rows = [[0.9, 0.8, 0.7, 0.1] if i % 2 else [0.9, 0.7, 0.8, 0.1] for i in range(10)]
    result = stats.friedman(pd.DataFrame(rows, columns=list("abcd")))
    cd = 2.569 * math.sqrt(4 * 5 / (6 * 10))  # Demšar's formula with his q for k=4
    assert result.critical_difference == pytest.approx(cd, abs=1e-3)
    pairs = result.pairwise.set_index(["loss_a", "loss_b"])
    assert pairs.loc[("a", "d"), "rank_difference"] == pytest.approx(3.0)
    assert pairs.loc[("a", "d"), "significant"]
    assert not pairs.loc[("b", "c"), "significant"]
    assert pairs.loc[("a", "b"), "significant"] == (cd < 1.5)
    # p_nemenyi is the p-value of the same test: below alpha exactly when beyond the CD
    assert ((pairs["p_nemenyi"] < 0.05) == pairs["significant"]).all()


def test_friedman_says_when_there_are_too_few_tasks_or_losses():
    one_task = stats.friedman(pd.DataFrame({"a": [0.9], "b": [0.8], "c": [0.7]}))
    assert np.isnan(one_task.statistic) and "tasks=1" in one_task.note
    assert one_task.average_ranks.to_dict() == {"a": 1.0, "b": 2.0, "c": 3.0}
    incomplete = pd.DataFrame({"a": [0.9, 0.8], "b": [0.8, 0.7], "c": [0.7, np.nan]})
    result = stats.friedman(incomplete)
    assert "left out for missing tasks: c" in result.note and "losses=2" in result.note
    ties = stats.friedman(pd.DataFrame({"a": [0.9, 0.8], "b": [0.9, 0.8], "c": [0.9, 0.8]}))
    assert np.isnan(ties.statistic) and np.isnan(ties.iman_davenport_p)
    assert "every loss ties on every task" in ties.note
    ece = stats.rank_losses(pd.DataFrame({"a": [0.1], "b": [0.2]}), higher_is_better=False)
    assert ece.iloc[0].tolist() == [1.0, 2.0]


# ---------------------------------------------------------------------------- pareto


def test_pareto_front_on_hand_made_points():
    points = pd.DataFrame(
        {
            "name": ["A", "B", "C", "D", "E", "F"],
            "acc": [0.90, 0.80, 0.70, 0.90, np.nan, 0.95],
            "thr": [100, 200, 150, 100, 300, 50],
        }
    )
    front = stats.pareto_front(points, {"acc": True, "thr": True}, by=())
    # C is dominated by B; A and D tie (neither dominates); E has no score
    assert points["name"][front].tolist() == ["A", "B", "D", "F"]
    lower_is_better = stats.non_dominated(
        np.array([[0.1, 5.0], [0.2, 5.0], [0.3, 9.0]]), [False, True]
    )
    assert lower_is_better.tolist() == [True, False, True]
    with pytest.raises(ValueError, match="shape"):
        stats.non_dominated(np.zeros((3, 3)), [True, True])


def test_accuracy_throughput_front_per_task():
    runs = confirm_frame(
        {
            ("t1", "cross_entropy"): [0.90, 0.92],
            ("t1", "focal"): [0.80, 0.82],
            ("t2", "cross_entropy"): [0.70, 0.70],
            ("t2", "focal"): [0.75, 0.75],
        }
    )
    runs.loc[runs["loss"] == "focal", "train_throughput"] = 900.0
    front = stats.accuracy_throughput_front(runs).set_index(["task", "loss"])
    assert front.loc[("t1", "cross_entropy"), "on_front"]
    assert not front.loc[("t1", "focal"), "on_front"]  # slower and worse
    assert front.loc[("t2", "focal"), "on_front"] and front.loc[("t2", "cross_entropy"), "on_front"]
    assert front.loc[("t1", "cross_entropy"), "test_accuracy"] == pytest.approx(0.91)
    assert front.loc[("t1", "focal"), "n_runs"] == 2


# ---------------------------------------------------------------------------- search


def search_frame() -> pd.DataFrame:
    rows = []
    for i, eps in enumerate([-1.0, 0.0, 1.0, 2.0, 4.0]):
        score = 0.9 - 0.01 * abs(eps - 1.0)  # peaks at epsilon 1
        rows.append(("poly1_cross_entropy", eps, np.nan, score, "complete", i))
    for i, gamma in enumerate([0.5, 1.0, 2.0]):
        rows.append(("focal", np.nan, gamma, 0.8 + 0.01 * gamma, "complete", 10 + i))
    rows.append(("focal", np.nan, 5.0, 0.1, "pruned", 20))
    rows.append(("cross_entropy", np.nan, np.nan, 0.85, "complete", 30))
    frame = pd.DataFrame(
        rows, columns=["loss", "param_epsilon", "param_gamma", "val_accuracy", "state", "run_id"]
    )
    frame["task"], frame["phase"] = "digits", "search"
    confirm = frame.iloc[[0]].assign(phase="confirm", run_id=99, val_accuracy=0.0)
    return pd.concat([frame, confirm], ignore_index=True)


def test_sensitivity_groups_by_loss_and_parameter():
    long = stats.sensitivity(search_frame())
    assert sorted(set(zip(long["loss"], long["param"], strict=True))) == [
        ("focal", "gamma"),
        ("poly1_cross_entropy", "epsilon"),
    ]
    assert len(long) == 8  # pruned, confirm and parameterless runs are left out
    summary = stats.sensitivity_summary(search_frame()).set_index("loss")
    poly = summary.loc["poly1_cross_entropy"]
    assert poly["best_value"] == 1.0 and poly["best_score"] == pytest.approx(0.9)
    assert poly["score_spread"] == pytest.approx(0.03)
    assert poly["n_values"] == 5 and poly["value_min"] == -1.0 and poly["value_max"] == 4.0
    focal = summary.loc["focal"]
    assert focal["spearman_rho"] == pytest.approx(1.0)  # monotone increasing in gamma
    eps = search_frame().query("phase == 'search' and loss == 'poly1_cross_entropy'")
    rho = scipy_stats.spearmanr(eps["param_epsilon"], eps["val_accuracy"]).statistic
    assert poly["spearman_rho"] == pytest.approx(rho)


def test_sensitivity_notes_too_few_values():
    frame = search_frame()
    frame = frame[~((frame["loss"] == "focal") & (frame["param_gamma"] == 0.5))]
    focal = stats.sensitivity_summary(frame).set_index("loss").loc["focal"]
    assert np.isnan(focal["spearman_rho"])
    assert focal["note"] == "only 2 distinct value(s) of gamma: no correlation (needs >= 3)"


def test_param_importances_finds_the_parameter_that_matters():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(
        lambda t: t.suggest_float("epsilon", -1, 4) ** 2 + 0.001 * t.suggest_float("gamma", 0, 1),
        n_trials=30,
    )
    frame, note = stats.param_importances(study)
    assert note is None and frame["param"].tolist() == ["epsilon", "gamma"]
    assert frame["importance"].sum() == pytest.approx(1.0)
    assert frame["importance"].iloc[0] > 0.9
    again, _ = stats.param_importances(study)
    pd.testing.assert_frame_equal(frame, again)
    lonely = optuna.create_study()
    lonely.optimize(lambda t: t.suggest_float("epsilon", 0, 1), n_trials=1)
    empty, note = stats.param_importances(lonely)
    assert empty.empty and note == "only 1 complete trial(s): importances need >= 2"
    no_params = optuna.create_study()
    no_params.optimize(lambda t: 1.0, n_trials=3)
    assert stats.param_importances(no_params)[1] == "no trial set a hyperparameter: nothing to rank"


def test_get_metric_names_the_allowed_metrics():
    assert stats.get_metric("test_accuracy").higher_is_better
    assert not stats.get_metric("ece").higher_is_better
    with pytest.raises(ValueError, match=r"Unknown metric 'acuracy'.*Did you mean 'accuracy'"):
        stats.get_metric("acuracy")


# ---------------------------------------------------------------------------- search budget


def _brute_force_best(scores: list[float], k: int, higher: bool = True) -> tuple[float, float]:
    """Mean and SD of the best of k trials over all n^k ordered draws with replacement, each
    equally likely: the model behind Dodge et al.'s formula, enumerated without the formula."""
    pick = max if higher else min
    bests = [pick(draw) for draw in itertools.product(scores, repeat=k)]
    return float(np.mean(bests)), float(np.std(bests))  # population SD: all draws enumerated


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_expected_best_matches_brute_force_over_all_draws_with_replacement(k):
    # Ties and an unsorted order on purpose; n = 5, so 5^4 = 625 draws at k = 4.
    scores = [0.91, 0.88, 0.93, 0.88, 0.90]
    mean, spread = stats.expected_best(scores, k)
    assert (mean, spread) == pytest.approx(_brute_force_best(scores, k), abs=1e-12)
    low_mean, low_spread = stats.expected_best(scores, k, higher_is_better=False)
    assert (low_mean, low_spread) == pytest.approx(
        _brute_force_best(scores, k, higher=False), abs=1e-12
    )


def test_expected_best_identities():
    scores = np.array([0.2, 0.5, 0.9, 0.4])
    assert stats.expected_best(scores, 1) == pytest.approx((scores.mean(), scores.std()))
    # Many draws almost surely include the best trial; the curve never falls.
    assert stats.expected_best(scores, 200)[0] == pytest.approx(0.9, abs=1e-12)
    curve = [stats.expected_best(scores, k)[0] for k in range(1, 10)]
    assert all(a <= b + 1e-15 for a, b in itertools.pairwise(curve))
    assert all(math.isnan(v) for v in stats.expected_best([], 3))
    assert stats.budget_points(6) == [1, 2, 4, 6] and stats.budget_points(8) == [1, 2, 4, 8]


def _runs_frame(rows: list[tuple]) -> pd.DataFrame:
    columns = ["task", "loss", "phase", "state", "val_accuracy", "epochs_done", "wall_time"]
    return pd.DataFrame(rows, columns=columns)


def test_budget_ledger_sums_the_runs_table():
    runs = _runs_frame(
        [
            ("digits", "focal", "search", "complete", 0.9, 3, 10.0),
            ("digits", "focal", "search", "pruned", 0.5, 1, 3.0),
            ("digits", "focal", "search", "failed", np.nan, 0, np.nan),
            ("digits", "focal", "confirm", "complete", 0.91, 3, 9.0),
            ("digits", "focal", "search", "running", np.nan, 2, np.nan),
            ("digits", "cross_entropy", "search", "complete", 0.8, 3, 8.0),
        ]
    )
    ledger = stats.budget_ledger(runs).set_index("loss")
    focal = ledger.loc["focal"]
    assert (focal["search_complete"], focal["search_pruned"], focal["search_failed"]) == (1, 1, 1)
    assert (focal["search_epochs"], focal["confirm_epochs"], focal["epochs_trained"]) == (4, 3, 7)
    assert focal["compute_seconds"] == 22.0 and focal["confirm_runs"] == 1
    assert ledger.loc["cross_entropy", "search_seconds"] == 8.0
    curve = stats.expected_best_curve(runs)
    assert list(curve["loss"]) == ["cross_entropy", "focal"]  # complete search runs only
    assert list(curve["n_trials"]) == [1, 1] and list(curve["expected_best"]) == [0.8, 0.9]


def test_search_spread_splits_between_and_within_repeats():
    rows = []
    scores = {0: [0.90, 0.92], 1: [0.80, 0.82], 2: [0.85, 0.87]}
    for repeat, values in scores.items():
        name = "s/t/focal" + (f"/repeat{repeat}" if repeat else "") + "/confirm"
        for value in values:
            rows.append(("t", "focal", "confirm", "complete", name, value))
    rows.append(("t", "cross_entropy", "confirm", "complete", "s/t/cross_entropy/confirm", 0.9))
    columns = ["task", "loss", "phase", "state", "optuna_study", "test_accuracy"]
    spread = stats.search_spread(pd.DataFrame(rows, columns=columns)).set_index("loss")
    assert list(spread.index) == ["focal"]  # one repeat only: no row
    means = [np.mean(v) for v in scores.values()]
    between = np.var(means, ddof=1)
    within = np.mean([np.var(v, ddof=1) for v in scores.values()])
    row = spread.loc["focal"]
    assert row["sd_between_repeats"] == pytest.approx(np.sqrt(between))
    assert row["sd_within_repeats"] == pytest.approx(np.sqrt(within))
    assert row["search_share"] == pytest.approx(between / (between + within))
    assert stats.search_repeat("s/t/focal/repeat12/confirm") == 12
    assert stats.search_repeat("s/t/focal/confirm") == 0
