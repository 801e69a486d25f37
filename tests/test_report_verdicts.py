"""The cases issue 10 named, each in a real SQLite database written through the Store API and
each asserting the exact words of the verdict: a diverged seed, a top-up that changed the best
setting, identical rankings across tasks, a metric switched after the fact, an all-noise study,
and an equivalence margin."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import ENVIRONMENT
from scipy import stats as scipy_stats
from typer.testing import CliRunner

from polybench import report
from polybench.cli import app
from polybench.db import open_store

LOSSES = ("cross_entropy", "focal", "poly1_cross_entropy", "poly1_focal")


def _study_text(name: str, tasks: tuple[str, ...], extra: str = "") -> str:
    listed = "".join(f"  - {{task: {task}, model: small_cnn}}\n" for task in tasks)
    losses = "".join(f"  - loss: {loss}\n" for loss in LOSSES)
    return f"name: {name}\ntasks:\n{listed}losses:\n{losses}confirm: {{seeds: 5}}\n{extra}"


TRIALS: dict[str, int] = {}


def _run(store, study, task, loss, *, params, seed, phase, test=None, val=0.9, reason=None):
    optuna_study = f"{study}/{task}/{loss}" + ("/confirm" if phase == "confirm" else "")
    TRIALS[optuna_study] = trial = TRIALS.get(optuna_study, -1) + 1  # one run per trial
    run_id = store.start_run(
        study=study, task=task, model="small_cnn", loss=loss, params=params, seed=seed,
        phase=phase, optuna_study=optuna_study, trial_number=trial, environment=ENVIRONMENT,
    )  # fmt: skip
    metrics = {"val_accuracy": val, "val_macro_f1": val - 0.02}
    if test is not None:
        metrics |= {"test_accuracy": test, "test_macro_f1": test - 0.02 - 0.001 * seed}
    store.finish_run(
        run_id,
        state="failed" if reason else "complete",
        failure_reason=reason,
        metrics={} if reason else metrics,
        train_throughput=1000.0,
        eval_throughput=5000.0,
        wall_time=1.0,
        epochs_done=2,
    )


def _confirm(store, study, task, loss, scores, params=None):
    for seed, score in enumerate(scores):
        reason = "training loss became nan at epoch 1, step 3" if score is None else None
        _run(store, study, task, loss, params=params or {}, seed=seed, phase="confirm",
             test=score, reason=reason)  # fmt: skip


DIVERGED = {
    "cross_entropy": [0.900, 0.910, 0.905, 0.895, 0.902],
    "focal": [0.941, 0.949, 0.944, None, None],  # diverged on seeds 3 and 4
    "poly1_cross_entropy": [0.903, 0.908, 0.909, 0.897, 0.904],
}
RANKED = {  # the same order on both tasks: poly1 > focal > poly1_focal > cross_entropy
    "cross_entropy": [0.900, 0.902, 0.898],
    "poly1_focal": [0.905, 0.907, 0.903],
    "focal": [0.910, 0.912, 0.909],
    "poly1_cross_entropy": [0.920, 0.921, 0.919],
}


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('verdicts') / 'verdicts.db'}"
    with open_store(url) as store:
        store.ensure_study("diverged", _study_text("diverged", ("digits",)))
        for loss, scores in DIVERGED.items():
            _confirm(store, "diverged", "digits", loss, scores)

        # A top-up: poly1's best setting moved from epsilon=1 to epsilon=2, and was confirmed.
        store.ensure_study("topup", _study_text("topup", ("digits",)))
        _run(store, "topup", "digits", "cross_entropy", params={}, seed=0, phase="search")
        _confirm(store, "topup", "digits", "cross_entropy", [0.930, 0.934, 0.932])
        poly = "poly1_cross_entropy"
        _run(store, "topup", "digits", poly, params={"epsilon": 1.0}, seed=0, phase="search",
             val=0.93)  # fmt: skip
        _confirm(store, "topup", "digits", poly, [0.950, 0.951, 0.949], {"epsilon": 1.0})
        _run(store, "topup", "digits", poly, params={"epsilon": 2.0}, seed=0, phase="search",
             val=0.94)  # fmt: skip
        _confirm(store, "topup", "digits", poly, [0.920, 0.925, 0.921], {"epsilon": 2.0})

        store.ensure_study("ranked", _study_text("ranked", ("digits", "mnist5k")))
        for task, shift in (("digits", 0.0), ("mnist5k", 0.05)):
            for loss, scores in RANKED.items():
                _confirm(store, "ranked", task, loss, [s + shift for s in scores])

        rng = np.random.default_rng(2026)
        store.ensure_study("noise", _study_text("noise", ("digits", "mnist5k", "mnist")))
        for task in ("digits", "mnist5k", "mnist"):
            seed_effect = rng.normal(0, 0.01, 5)
            for loss in LOSSES:
                scores = 0.9 + seed_effect + rng.normal(0, 0.004, 5)
                _confirm(store, "noise", task, loss, scores.tolist())

        margin = "report: {margin: 0.005}\n"
        store.ensure_study("margin", _study_text("margin", ("digits",), margin))
        _confirm(store, "margin", "digits", "cross_entropy", [0.900, 0.910, 0.905, 0.895, 0.902])
        _confirm(store, "margin", "digits", "focal", [0.901, 0.910, 0.906, 0.895, 0.903])
    return url


def test_a_diverged_seed_is_named_and_the_pairs_use_the_seeds_both_completed(url):
    table = report.summary(url, "diverged").set_index("loss")
    focal = table.loc["focal"]
    assert (focal["n_seeds"], focal["n_failed"], focal["n_pairs"]) == (3, 2, 3)
    assert focal["t_test"] == "paired t"  # never silently Welch
    reference = scipy_stats.ttest_rel(DIVERGED["focal"][:3], DIVERGED["cross_entropy"][:3])
    assert focal["p_value"] == pytest.approx(reference.pvalue)
    assert focal["verdict"] == "inconclusive"  # significant on 3 seeds, but fails more often
    (verdict,) = report.verdicts(report.summary(url, "diverged"))
    assert verdict == (
        "digits: no loss beats cross_entropy (highest mean focal, 0.9447 [0.9346, 0.9547]). "
        "Against cross_entropy: focal inconclusive: +0.0397 [+0.0368, +0.0425] (paired t "
        "p<0.001, Holm p<0.001 < 0.05); with 3 seeds only differences above 0.0053 would be "
        "detected (80% power, alpha 0.025); diverged on 2 of 5 seeds (3, 4), more often than "
        "cross_entropy, so it cannot be called better; poly1_cross_entropy inconclusive: +0.0018 "
        "[-0.0010, +0.0046], not significant (paired t p=0.152, Holm p=0.152); with 5 seeds "
        "only differences above 0.0047 would be detected (80% power, alpha 0.025)."
    )
    text = report.render(report.summary(url, "diverged"), "md")
    assert "| digits | focal | " in text and "| 3 (+2 failed) |" in text


def test_a_top_up_that_changed_the_best_setting_reports_the_new_group_only(url):
    table = report.summary(url, "topup").set_index("loss")
    poly = table.loc["poly1_cross_entropy"]
    assert poly["best_params"] == '{"epsilon": 2.0}'
    assert poly["n_seeds"] == 3 and poly["test_mean"] == pytest.approx(
        np.mean([0.92, 0.925, 0.921])
    )
    assert poly["note"] == "1 older confirm group(s) not counted (3 run(s) with epsilon=1)"
    (verdict,) = report.verdicts(report.summary(url, "topup"))
    assert verdict == (
        "digits: no loss beats cross_entropy (highest mean cross_entropy, 0.9320 [0.9270, "
        "0.9370]). Against cross_entropy: poly1_cross_entropy worse: -0.0100 [-0.0125, -0.0075] "
        "(paired t p=0.00332, Holm p=0.00332 < 0.05); with 3 seeds only differences above 0.0033 "
        "would be detected (80% power, alpha 0.05); 1 older confirm group(s) not counted (3 "
        "run(s) with epsilon=1)."
    )


def test_identical_rankings_across_tasks_give_the_exact_p_not_zero(url):
    lines = report.across_task_lines(report.summary(url, "ranked"))
    assert lines[:3] == [
        "Average rank over 2 task(s) (1 = best): poly1_cross_entropy 1.00, focal 2.00, "
        "poly1_focal 3.00, cross_entropy 4.00.",
        "Friedman chi2=6.000, p=0.112 (chi-square); Iman-Davenport F=inf, p=0.0417 (exact "
        "permutation): the losses differ at alpha=0.05.",
        "Nemenyi critical difference 3.317; rank differences beyond it: none.",
    ]
    assert lines[3] == (
        "Note: only 2 tasks: p is the exact permutation p of the Friedman statistic; the Nemenyi "
        "critical difference 3.32 exceeds 3, the largest possible gap of average ranks: no pair "
        "can differ with 2 tasks."
    )
    assert lines[4] == (
        "Wilcoxon signed-rank against cross_entropy over the tasks (wins-ties-defeats): focal "
        "2-0-0 p=0.5 (Holm 1); poly1_cross_entropy 2-0-0 p=0.5 (Holm 1); poly1_focal 2-0-0 p=0.5 "
        "(Holm 1)."
    )
    assert lines[5].startswith(
        "Probability that a seed of the loss beats a seed of cross_entropy on a random task "
        "(0.5 = no difference; 95% stratified bootstrap): focal 1.00 [1.00, 1.00]; "
    )
    assert lines[6].startswith(
        "Interquartile mean of scores normalized per task (0 = worst run, 1 = best run; 95% "
        "stratified bootstrap): poly1_cross_entropy "
    )


def test_a_metric_switched_after_the_fact_is_labelled_exploratory_in_every_output(url):
    table = report.summary(url, "diverged", metric="macro_f1")
    assert set(table["metric_role"]) == {"exploratory"}
    note = (
        "Exploratory: the study was planned on accuracy; macro_f1 was chosen afterwards, so its "
        "verdicts are not confirmatory."
    )
    assert report.verdicts(table)[0] == note
    for fmt in ("md", "html", "table"):
        text = report.render(table, fmt)
        assert "Exploratory: the study was planned" in text
        assert "macro_f1 (exploratory)" in text or fmt == "table"  # rich folds the header
    assert "macro\\_f1 (exploratory)" in report.render(table, "latex")
    csv = pd.read_csv(pd.io.common.StringIO(report.render(table, "csv")))
    assert set(csv["metric_role"]) == {"exploratory"}
    primary = report.summary(url, "diverged")
    assert set(primary["metric_role"]) == {"primary"}
    assert not any("xploratory" in line for line in report.verdicts(primary))
    args = ["report", "diverged", "--storage", url, "--metric", "macro_f1", "--mde", "0.01"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(note)


def test_an_all_noise_study_calls_nothing_better_or_worse(url):
    table = report.summary(url, "noise")
    verdicts = table["verdict"].dropna()
    assert len(verdicts) == 9 and set(verdicts) == {"inconclusive"}
    lines = report.verdicts(table)
    assert all(line.split(". Against")[0].endswith(")") for line in lines)
    assert all("no loss beats cross_entropy" in line or "tie" in line for line in lines)
    assert all(line.count("would be detected") == 3 for line in lines)  # every verdict's power


def test_an_equivalence_margin_from_the_study_file_and_the_command_line(url):
    table = report.summary(url, "margin").set_index("loss")
    focal = table.loc["focal"]
    assert focal["margin"] == 0.005 and focal["verdict"] == "equivalent"
    assert focal["verdict_text"] == (
        "equivalent: +0.0006 [-0.0001, +0.0013], inside ±0.005 (TOST p<0.001; paired t p=0.0705, "
        "Holm p=0.0705); with 5 seeds only differences above 0.0009 would be detected (80% power, "
        "alpha 0.05)"
    )
    (verdict,) = report.verdicts(report.summary(url, "margin"))
    assert verdict.startswith(
        "digits: no loss beats cross_entropy; focal is equivalent to it within ±0.005 (highest "
        "mean focal, 0.9030 [0.8960, 0.9100]). Against cross_entropy: focal equivalent: "
    )
    narrow = report.summary(url, "margin", margin=0.0005).set_index("loss").loc["focal"]
    assert narrow["verdict"] == "inconclusive" and narrow["margin"] == 0.0005
    none = report.summary(url, "diverged").set_index("loss")
    assert none["margin"].isna().all() and "equivalent" not in set(none["verdict"].dropna())
    result = CliRunner().invoke(app, ["report", "margin", "--storage", url, "--margin", "0.0005"])
    assert result.exit_code == 0, result.output
    assert "focal inconclusive" in result.output and "±0.0005" in result.output
    bad = CliRunner().invoke(app, ["report", "margin", "--storage", url, "--margin", "-1"])
    assert bad.exit_code == 1
    assert "the equivalence margin must be a positive number; got -1.0" in bad.output


def test_mde_says_what_the_seeds_detect_and_how_many_a_difference_needs(url):
    table = report.power_table(report.summary(url, "diverged"), 0.01)
    poly = table.set_index("loss").loc["poly1_cross_entropy"]
    from polybench import stats

    effect = 0.01 / poly["sd_diff"]
    assert poly["seeds_needed"] == stats.seeds_needed(effect, 0.025)
    assert poly["power"] == pytest.approx(stats.paired_power(effect, 5, 0.025))
    result = CliRunner().invoke(app, ["report", "diverged", "--storage", url, "--mde", "0.01",
                                      "--format", "md"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1] == (
        f"- digits, poly1_cross_entropy vs cross_entropy: SD of the paired differences "
        f"{poly['sd_diff']:.4f} over 5 seeds; with 5 seeds only differences above "
        f"{poly['mde']:.4f} would be detected (80% power, alpha 0.025); a difference of 0.01 has "
        f"power {poly['power']:.2f} now and needs {poly['seeds_needed']} seeds for 80%."
    )
    bad = CliRunner().invoke(app, ["report", "diverged", "--storage", url, "--mde", "0"])
    assert bad.exit_code == 1 and "--mde needs a positive difference" in bad.output
