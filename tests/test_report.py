"""polybench.report over real SQLite databases: one filled through the Store API with known
per-seed scores (so every number has an independent answer from scipy or by hand), and one
filled by a real tiny study run by the runner."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ENVIRONMENT, record_run
from scipy import stats as scipy_stats
from typer.testing import CliRunner

from polybench import report, stats
from polybench.cli import app
from polybench.db import open_store

STUDY_TEXT = """\
name: synth
tasks:
  - task: digits
    model: small_cnn
    epochs: 2
  - task: mnist5k
    model: small_cnn
    epochs: 2
losses:
  - loss: cross_entropy
    search: {label_smoothing: {low: 0.0, high: 0.2}}
  - loss: poly1_cross_entropy
    search: {epsilon: {low: -1, high: 4}}
  - loss: focal
    search: {gamma: {low: 0, high: 4}}
search: {trials: 4, metric: val_accuracy}
confirm: {seeds: 4}
"""

# (task, loss) -> search trials [(params, val_accuracy)], confirm params, test accuracy per seed
SEARCH = {
    ("digits", "cross_entropy"): [
        ({"label_smoothing": 0.0}, 0.90),
        ({"label_smoothing": 0.1}, 0.91),
    ],
    ("digits", "poly1_cross_entropy"): [
        ({"epsilon": -1.0}, 0.88),
        ({"epsilon": 0.0}, 0.90),
        ({"epsilon": 1.0}, 0.93),
        ({"epsilon": 2.0}, 0.92),
    ],
    ("digits", "focal"): [({"gamma": 0.5}, 0.90), ({"gamma": 1.0}, 0.905), ({"gamma": 2.0}, 0.895)],
    ("mnist5k", "cross_entropy"): [({"label_smoothing": 0.05}, 0.95)],
    ("mnist5k", "poly1_cross_entropy"): [({"epsilon": 0.5}, 0.951), ({"epsilon": 3.0}, 0.94)],
    ("mnist5k", "focal"): [({"gamma": 2.0}, 0.942)],
}
CONFIRM_PARAMS = {
    "cross_entropy": {"digits": {"label_smoothing": 0.1}, "mnist5k": {"label_smoothing": 0.05}},
    "poly1_cross_entropy": {"digits": {"epsilon": 1.0}, "mnist5k": {"epsilon": 0.5}},
    "focal": {"digits": {"gamma": 1.0}, "mnist5k": {"gamma": 2.0}},
}
TEST = {
    ("digits", "cross_entropy"): [0.900, 0.910, 0.905, 0.895],
    ("digits", "poly1_cross_entropy"): [0.941, 0.949, 0.944, 0.937],  # clearly better
    ("digits", "focal"): [0.903, 0.906, 0.904, 0.899],  # inconclusive
    ("mnist5k", "cross_entropy"): [0.950, 0.955, 0.948, 0.952],
    ("mnist5k", "poly1_cross_entropy"): [0.951, 0.953, 0.950, 0.954],
    ("mnist5k", "focal"): [0.940, 0.945, 0.938, 0.944],
}
THROUGHPUT = {"cross_entropy": 1000.0, "poly1_cross_entropy": 980.0, "focal": 950.0}


def _run(store, study, task, loss, params, seed, phase, trial, state, val, test, epochs=2):
    """`record_run` with this module's scores: ECE 0.05 on validation and 1 - accuracy on test,
    throughput by loss (plus the seed), a curve rising to `val` over `epochs`."""
    ece = {"val_ece": 0.05} | ({} if test is None else {"test_ece": 1 - test})
    record_run(
        store, study, task, loss, params, seed=seed, phase=phase, trial=trial, state=state,
        val=val, test=test, extra_metrics=ece,
        curve=[val - 0.01 * (1 - epoch) for epoch in range(epochs)],
        epoch_throughput=THROUGHPUT[loss], train_throughput=THROUGHPUT[loss] + seed,
        eval_throughput=5 * THROUGHPUT[loss], wall_time=1.5, failure_reason="loss became NaN",
        environment=ENVIRONMENT | {"git_commit": "0123456"},  # digits only: must stay text
    )  # fmt: skip


@pytest.fixture(scope="module")
def synth_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real SQLite results database filled through the Store API with the scores above."""
    url = f"sqlite:///{tmp_path_factory.mktemp('report') / 'synth.db'}"
    with open_store(url) as store:
        store.ensure_study("synth", STUDY_TEXT)
        for (task, loss), trials in SEARCH.items():
            for trial, (params, val) in enumerate(trials):
                _run(store, "synth", task, loss, params, 0, "search", trial, "complete", val, None)
            pruned, failed = len(trials), len(trials) + 1
            _run(store, "synth", task, loss, trials[0][0], 0, "search", pruned, "pruned", 0.5, None)
            if (task, loss) == ("digits", "focal"):
                _run(
                    store,
                    "synth",
                    task,
                    loss,
                    {"gamma": 9.0},
                    0,
                    "search",
                    failed,
                    "failed",
                    0,
                    None,
                )
        for (task, loss), values in TEST.items():
            for seed, value in enumerate(values):
                params = CONFIRM_PARAMS[loss][task]
                _run(
                    store,
                    "synth",
                    task,
                    loss,
                    params,
                    seed,
                    "confirm",
                    seed,
                    "complete",
                    0.9,
                    value,
                )
        store.ensure_study("single", STUDY_TEXT.replace("name: synth", "name: single"))
        for loss, value in (("cross_entropy", 0.90), ("poly1_cross_entropy", 0.92)):
            _run(store, "single", "digits", loss, {}, 0, "confirm", 0, "complete", 0.9, value)
        store.ensure_study("empty", STUDY_TEXT.replace("name: synth", "name: empty"))
        store.ensure_study("tie", STUDY_TEXT.replace("name: synth", "name: tie"))
        for loss, values in (("focal", [0.9, 0.8]), ("cross_entropy", [0.8, 0.9])):
            for seed, value in enumerate(values):
                _run(
                    store, "tie", "digits", loss, {}, seed, "confirm", seed, "complete", 0.9, value
                )
    return url


# ---------------------------------------------------------------------------- summary


def test_summary_rows_and_numbers_match_independent_answers(synth_url):
    table = report.summary(synth_url, "synth")
    assert list(table.columns) == report.SUMMARY_COLUMNS
    assert len(table) == 6 and set(table["metric"]) == {"accuracy"}  # the study's search metric
    rows = table.set_index(["task", "loss"])
    for (task, loss), values in TEST.items():
        row = rows.loc[(task, loss)]
        assert row["n_seeds"] == 4
        assert row["test_mean"] == pytest.approx(np.mean(values), abs=1e-12)
        assert row["test_std"] == pytest.approx(np.std(values, ddof=1), abs=1e-12)
        t = scipy_stats.t.interval(0.95, 3, loc=np.mean(values), scale=scipy_stats.sem(values))
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(t, abs=1e-12)  # the headline
        assert min(values) <= row["boot_low"] <= np.mean(values) <= row["boot_high"] <= max(values)
        assert json.loads(row["best_params"]) == CONFIRM_PARAMS[loss][task]
        completed = SEARCH[(task, loss)]
        assert row["n_trials"] == len(completed)
        assert row["val_score"] == pytest.approx(max(v for _, v in completed))
        assert row["train_throughput"] == pytest.approx(THROUGHPUT[loss] + 1.5)  # seeds 0..3
        if loss == "cross_entropy":
            assert row["delta"] == 0.0 and row["note"] == "baseline"
            continue
        baseline = TEST[(task, "cross_entropy")]
        assert row["delta"] == pytest.approx(np.mean(values) - np.mean(baseline), abs=1e-12)
        assert row["t_test"] == "paired t"  # same seeds 0..3 for every loss
        assert row["p_value"] == pytest.approx(scipy_stats.ttest_rel(values, baseline).pvalue)
    for task in ("digits", "mnist5k"):
        raw = {loss: rows.loc[(task, loss), "p_value"] for loss in ("focal", "poly1_cross_entropy")}
        low, high = sorted(raw, key=raw.get)
        assert rows.loc[(task, low), "p_holm"] == pytest.approx(min(1, 2 * raw[low]))
        assert rows.loc[(task, high), "p_holm"] == pytest.approx(
            min(1, max(2 * raw[low], raw[high]))
        )
        means = {loss: np.mean(TEST[(task, loss)]) for loss in THROUGHPUT}
        order = sorted(means, key=means.get, reverse=True)
        assert [rows.loc[(task, loss), "rank"] for loss in order] == [1.0, 2.0, 3.0]
    assert rows.loc[("digits", "focal"), "note"] == "1 failed search run(s) not counted"
    assert table.attrs["ci_method"].startswith("95% Student t-interval over seeds")
    assert table.attrs["boot_method"].startswith("95% percentile bootstrap over seeds (10,000")
    assert set(table["metric_role"]) == {"primary"}


def test_filters_hide_rows_without_changing_numbers(synth_url):
    full = report.summary(synth_url, "synth").set_index(["task", "loss"])
    only = report.summary(synth_url, "synth", task="digits", loss=["focal"])
    assert only[["task", "loss"]].values.tolist() == [["digits", "focal"]]
    pd.testing.assert_series_equal(
        only.set_index(["task", "loss"]).iloc[0], full.loc[("digits", "focal")]
    )


def test_metric_option_reports_lower_is_better_ece(synth_url):
    table = report.summary(synth_url, "synth", task="digits", metric="ece").set_index("loss")
    assert table["metric"].unique().tolist() == ["ece"]
    # test_ece = 1 - accuracy here, so the most accurate loss has the lowest ECE and rank 1
    assert table.loc["poly1_cross_entropy", "rank"] == 1.0
    assert table.loc["poly1_cross_entropy", "test_mean"] == pytest.approx(
        1 - np.mean(TEST[("digits", "poly1_cross_entropy")])
    )
    with pytest.raises(ValueError, match=r"Unknown metric 'acc'.*accuracy"):
        report.summary(synth_url, "synth", metric="acc")


def test_verdicts_say_which_loss_beats_the_baseline_and_what_each_could_detect(synth_url):
    table = report.summary(synth_url, "synth")
    digits, mnist = report.verdicts(table)
    rows = table.set_index(["task", "loss"])
    poly, focal = rows.loc[("digits", "poly1_cross_entropy")], rows.loc[("digits", "focal")]
    a, b = TEST[("digits", "poly1_cross_entropy")], TEST[("digits", "cross_entropy")]
    d = np.subtract(a, b)
    low, high = scipy_stats.t.interval(0.95, 3, loc=d.mean(), scale=scipy_stats.sem(d))
    assert digits.startswith(
        f"digits: poly1_cross_entropy beats cross_entropy (test accuracy {np.mean(a):.4f} ["
    )
    assert (
        f"poly1_cross_entropy better: {d.mean():+.4f} [{low:+.4f}, {high:+.4f}] "
        "(paired t p<0.001, Holm p<0.001 < 0.05); with 4 seeds only differences above "
        f"{poly['mde']:.4f} would be detected (80% power, alpha 0.025)" in digits
    )
    assert (
        f"focal inconclusive: {focal['delta']:+.4f} [{focal['delta_ci_low']:+.4f}, "
        f"{focal['delta_ci_high']:+.4f}], not significant (paired t p=0.804, Holm p=0.804); with "
        f"4 seeds only differences above {focal['mde']:.4f} would be detected" in digits
    )
    # mnist5k: focal is worse, poly1 a little ahead without evidence: nobody beats the baseline
    assert mnist.startswith("mnist5k: no loss beats cross_entropy (highest mean poly1_cross_")
    assert "focal worse: -0.0095 [" in mnist and "poly1_cross_entropy inconclusive" in mnist
    assert rows.loc[("mnist5k", "focal"), "verdict"] == "worse"
    assert "within noise" not in " ".join(report.verdicts(table))
    # the MDE is the noncentral-t answer for the observed SD of the paired differences
    expected = stats.minimum_detectable_difference(np.std(d, ddof=1), 4, 0.05 / 2)
    assert poly["mde"] == pytest.approx(expected)
    assert poly["alpha_holm"] == 0.025


def test_a_tie_for_best_is_called_a_tie(synth_url):
    (verdict,) = report.verdicts(report.summary(synth_url, "tie"))
    assert verdict.startswith("digits: cross_entropy and focal tie for best (test accuracy 0.8500")
    assert ". Against cross_entropy: focal inconclusive: +0.0000 [" in verdict


def test_too_few_seeds_are_said_in_words(synth_url):
    table = report.summary(synth_url, "single").set_index("loss")
    poly = table.loc["poly1_cross_entropy"]
    assert np.isnan(poly["p_value"]) and np.isnan(poly["ci_low"])
    assert poly["delta"] == pytest.approx(0.02)
    assert poly["note"] == (
        "too few seeds (n=1 completed by both, of 1 and 1): no interval or test"
    )
    assert (
        table.loc["cross_entropy", "note"] == "baseline; too few seeds (n=1): no interval or test"
    )
    (verdict,) = report.verdicts(report.summary(synth_url, "single"))
    assert verdict == (
        "digits: no loss beats cross_entropy (highest mean poly1_cross_entropy, 0.9200, n=1). "
        "Against cross_entropy: poly1_cross_entropy inconclusive: +0.0200 (too few seeds (n=1 "
        "completed by both, of 1 and 1), no test); with 1 paired seed(s) no difference can be "
        "detected (a test needs 2)."
    )
    result = report.ranking(synth_url, "single")
    assert np.isnan(result.statistic) and "tasks=1" in result.note


def test_a_study_without_runs_says_so(synth_url):
    table = report.summary(synth_url, "empty")
    assert table.empty and table.columns.tolist() == report.SUMMARY_COLUMNS
    text = report.render(table, "md")
    assert "- No runs stored for study 'empty' yet" in text
    assert text.splitlines()[0].startswith("| task | loss | best params |")


def test_unknown_study_names_the_known_ones(synth_url):
    assert report.studies(synth_url)["study"].tolist() == ["synth", "single", "empty", "tie"]
    with pytest.raises(
        ValueError, match=r"no study 'synht'.*known studies: .*Did you mean 'synth'"
    ):
        report.summary(synth_url, "synht")


# ---------------------------------------------------------------------------- across tasks


def test_ranking_matches_scipy_friedman_on_the_task_means(synth_url):
    result = report.ranking(synth_url, "synth")
    losses = list(THROUGHPUT)
    means = np.array([[np.mean(TEST[(t, loss)]) for loss in losses] for t in ("digits", "mnist5k")])
    reference = scipy_stats.friedmanchisquare(*means.T)
    assert result.statistic == pytest.approx(reference.statistic)
    assert result.p_value == pytest.approx(reference.pvalue)
    # digits: poly1 1, focal 2, ce 3; mnist5k: poly1 1, ce 2, focal 3
    assert result.average_ranks.to_dict() == {
        "poly1_cross_entropy": 1.0,
        "cross_entropy": 2.5,
        "focal": 2.5,
    }
    assert "only 2 tasks" in result.note


def test_sensitivity_and_pareto_from_storage(synth_url):
    points, table = report.sensitivity(synth_url, "synth", task="digits")
    poly = points[points["loss"] == "poly1_cross_entropy"]
    assert poly["value"].tolist() == [-1.0, 0.0, 1.0, 2.0]  # complete search runs only
    assert poly["score"].tolist() == [0.88, 0.90, 0.93, 0.92]
    row = table.set_index("loss").loc["poly1_cross_entropy"]
    assert row["best_value"] == 1.0 and row["param"] == "epsilon"
    rho = scipy_stats.spearmanr([-1, 0, 1, 2], [0.88, 0.90, 0.93, 0.92]).statistic
    assert row["spearman_rho"] == pytest.approx(rho)
    front = report.pareto(synth_url, "synth").set_index(["task", "loss"])["on_front"]
    # digits: poly1 most accurate, cross_entropy fastest, focal neither
    assert front[("digits", "poly1_cross_entropy")] and front[("digits", "cross_entropy")]
    assert not front[("digits", "focal")]


def test_importances_without_optuna_studies_say_why(synth_url):
    table = report.importances(synth_url, "synth", task="digits", loss="focal")
    assert table.columns.tolist() == report.IMPORTANCE_COLUMNS
    assert len(table) == 1 and pd.isna(table["param"].iloc[0])
    assert table["note"].iloc[0].startswith("no Optuna tables in this storage")


# ---------------------------------------------------------------------------- rendering


def test_markdown_report_has_one_row_per_task_and_loss_and_the_verdicts(synth_url):
    table = report.summary(synth_url, "synth")
    text = report.render(table, "md")
    lines = text.splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header[:2] == ["task", "loss"] and "test accuracy (95% CI)" in header
    body = [line for line in lines[2:] if line.startswith("|")]
    assert len(body) == 6
    assert any("poly1_cross_entropy" in line and "+0.0402 [" in line for line in body)
    assert "- digits: poly1_cross_entropy beats cross_entropy" in text
    assert "Average rank over 2 task(s)" in text and "Student t-interval" in text


def test_latex_html_and_csv_outputs(synth_url):
    table = report.summary(synth_url, "synth")
    latex = report.render(table, "latex")
    assert "\\begin{tabular}" in latex and "poly1\\_cross\\_entropy" in latex
    assert "Δ" not in latex and "$\\Delta$ vs cross\\_entropy" in latex
    page = report.render(table, "html")
    assert page.count("<tr") == 7 and "<li>digits: poly1_cross_entropy beats cross_entropy" in page
    back = pd.read_csv(pd.io.common.StringIO(report.render(table, "csv")))
    np.testing.assert_allclose(back["test_mean"], table["test_mean"], rtol=0, atol=0)
    assert back["loss"].tolist() == table["loss"].tolist()
    with pytest.raises(ValueError, match="unknown report format 'pdf'; expected one of table"):
        report.render(table, "pdf")


# ---------------------------------------------------------------------------- exports


@pytest.mark.parametrize("name", ["runs.csv", "runs.parquet", "runs.xlsx", "runs.jsonl"])
def test_every_export_format_round_trips(synth_url, tmp_path, name):
    source_runs = report.runs(synth_url, "synth")
    source_epochs = report.epochs(synth_url, "synth")
    written = report.export(synth_url, "synth", tmp_path / name)
    expected = [tmp_path / name]
    if not name.endswith(".xlsx"):
        expected.append(tmp_path / name.replace("runs.", "runs_epochs."))
    assert written == expected and all(path.exists() for path in written)
    runs_back, epochs_back = report.read_export(tmp_path / name)
    exact = {"check_exact": True}
    if name.endswith(".xlsx"):  # Excel keeps 15 significant digits and times to the millisecond
        exact = {"rtol": 1e-14, "atol": 0}
        for column in ("started_at", "finished_at"):
            source_runs[column] = source_runs[column].dt.round("ms")
    pd.testing.assert_frame_equal(runs_back, source_runs, **exact)
    pd.testing.assert_frame_equal(epochs_back, source_epochs, **exact)
    assert str(runs_back["started_at"].dtype) == "datetime64[ns, UTC]"
    assert runs_back["git_commit"].iloc[0] == "0123456"


def test_exports_read_with_plain_pandas(synth_url, tmp_path):
    source = report.runs(synth_url, "synth")
    report.export(synth_url, "synth", tmp_path / "runs.parquet")
    parquet = pd.read_parquet(tmp_path / "runs.parquet")
    assert parquet.columns.tolist() == source.columns.tolist()
    pd.testing.assert_series_equal(parquet["test_accuracy"], source["test_accuracy"])
    pd.testing.assert_series_equal(parquet["started_at"], source["started_at"])
    report.export(synth_url, "synth", tmp_path / "runs.xlsx")
    sheets = pd.read_excel(tmp_path / "runs.xlsx", sheet_name=None)
    assert list(sheets) == ["runs", "epochs"] and len(sheets["epochs"]) == 2 * len(source)
    report.export(synth_url, "synth", tmp_path / "runs.csv")
    csv = pd.read_csv(tmp_path / "runs.csv")
    pd.testing.assert_series_equal(csv["val_accuracy"], source["val_accuracy"])
    report.export(synth_url, "synth", tmp_path / "runs.jsonl")
    jsonl = pd.read_json(tmp_path / "runs_epochs.jsonl", lines=True)
    assert jsonl.columns.tolist() == list(report.epochs(synth_url, "synth").columns)
    assert len(jsonl) == 2 * len(source)


def test_export_filters_and_bad_extension(synth_url, tmp_path):
    written = report.export(synth_url, "synth", tmp_path / "x.jsonl", loss="focal", phase="confirm")
    back, curves = report.read_export(written[0])
    assert set(back["loss"]) == {"focal"} and set(back["phase"]) == {"confirm"}
    assert set(curves["run_id"]) == set(back["run_id"])
    assert [c for c in back.columns if c.startswith("param_")] == ["param_gamma"]
    with pytest.raises(ValueError, match=r"Unknown phase 'serch'.*Did you mean 'search'"):
        report.export(synth_url, "synth", tmp_path / "x.csv", phase="serch")
    with pytest.raises(ValueError, match=r"unknown extension '\.txt'; expected one of \.csv"):
        report.export(synth_url, "synth", tmp_path / "runs.txt")


# ---------------------------------------------------------------------------- CLI


def test_cli_report_answers_in_the_terminal(synth_url):
    result = CliRunner().invoke(app, ["report", "synth", "--storage", synth_url])
    assert result.exit_code == 0, result.output
    assert "digits: poly1_cross_entropy beats cross_entropy" in result.output
    assert "better:" in result.output and "inconclusive:" in result.output
    assert "noise" not in result.output
    assert "Friedman chi2=" in result.output


def test_cli_report_formats_to_file_and_filters(synth_url, tmp_path):
    out = tmp_path / "report.md"
    args = ["report", "synth", "--storage", synth_url, "--format", "md", "--output", str(out)]
    result = CliRunner().invoke(app, [*args, "--task", "digits", "--loss", "focal"])
    assert result.exit_code == 0, result.output
    summary, budget = out.read_text().split("**Budget ledger")
    body = [line for line in summary.splitlines() if line.startswith("| digits")]
    assert len(body) == 1 and "| focal |" in body[0]
    # the budget section below it (ledger and expected-best table) is filtered the same way
    rows = [line for line in budget.splitlines() if line.startswith("| ") and "---" not in line]
    assert all("| digits | focal |" in line for line in rows if not line.startswith("| task"))
    csv = CliRunner().invoke(app, ["report", "synth", "--storage", synth_url, "--format", "csv"])
    assert csv.exit_code == 0
    assert len(pd.read_csv(pd.io.common.StringIO(csv.output))) == 6


def test_cli_export_and_errors(synth_url, tmp_path):
    target = tmp_path / "runs.parquet"
    result = CliRunner().invoke(
        app, ["export", "synth", "--to", str(target), "--storage", synth_url]
    )
    assert result.exit_code == 0, result.output
    assert target.exists() and (tmp_path / "runs_epochs.parquet").exists()
    assert "runs_epochs.parquet" in result.output
    bad = CliRunner().invoke(app, ["export", "synth", "--to", "runs.txt", "--storage", synth_url])
    assert bad.exit_code != 0 and "unknown extension '.txt'" in bad.output
    missing = CliRunner().invoke(app, ["report", "nope", "--storage", synth_url])
    assert missing.exit_code != 0 and "no study 'nope'" in missing.output


def test_effect_sizes_are_d_z_and_g_av_by_hand(synth_url):
    row = report.summary(synth_url, "synth", task="digits", loss="poly1_cross_entropy").iloc[0]
    a, b = TEST[("digits", "poly1_cross_entropy")], TEST[("digits", "cross_entropy")]
    d = np.subtract(a, b)
    assert row["d_z"] == pytest.approx(d.mean() / np.std(d, ddof=1))
    average = math.sqrt((np.var(a, ddof=1) + np.var(b, ddof=1)) / 2)
    correction = 1 - 3 / (4 * 2 * (len(a) - 1) - 1)  # Hedges' J with df = 2 (n - 1)
    assert row["g_av"] == pytest.approx(d.mean() / average * correction)


# ---------------------------------------------------------------------------- a real study

TINY_LOSSES = ["cross_entropy", "poly1_cross_entropy", "poly1_focal"]


def test_report_on_a_real_study_agrees_with_its_stored_runs(tiny_study_url):
    """What holds whatever a tiny random study happens to score; the numbers themselves are
    checked on the synthetic database above."""
    confirm = report.runs(tiny_study_url, "tiny", phase="confirm", state="complete")
    means = confirm.groupby("loss")["test_accuracy"].mean()
    table = report.summary(tiny_study_url, "tiny").set_index("loss")
    assert sorted(table.index) == TINY_LOSSES
    assert (table["n_seeds"] == 2).all() and (table["metric"] == "accuracy").all()
    baseline = confirm[confirm["loss"] == "cross_entropy"].sort_values("seed")
    for loss in TINY_LOSSES[1:]:
        runs_of_loss = confirm[confirm["loss"] == loss].sort_values("seed")
        assert runs_of_loss["seed"].tolist() == baseline["seed"].tolist()  # seeds pair up
        row = table.loc[loss]
        assert row["t_test"] == "paired t"
        assert row["delta"] == pytest.approx(means[loss] - means["cross_entropy"], abs=1e-12)
        assert row["verdict"] in ("better", "worse", "inconclusive")
    (verdict,) = report.verdicts(report.summary(tiny_study_url, "tiny"))
    result = CliRunner().invoke(app, ["report", "tiny", "--storage", tiny_study_url])
    assert result.exit_code == 0, result.output
    assert verdict in result.output.splitlines()


def test_real_study_importances_and_exports(tiny_study_url, tmp_path):
    table = report.importances(tiny_study_url, "tiny")
    assert sorted(set(table["loss"])) == TINY_LOSSES
    assert table["optuna_study"].str.startswith("tiny/digits/").all()
    searched = {
        "cross_entropy": {"label_smoothing"},
        "poly1_cross_entropy": {"epsilon"},
        "poly1_focal": {"epsilon", "gamma"},
    }
    for loss, rows in table.groupby("loss"):
        # either importances of the searched parameters summing to 1, or one row saying why not
        if rows["note"].isna().all():
            assert set(rows["param"]) <= searched[loss]
            assert rows["importance"].sum() == pytest.approx(1.0)
        else:
            assert len(rows) == 1 and rows["param"].isna().all()
    for name in ("runs.parquet", "runs.xlsx"):
        written = report.export(tiny_study_url, "tiny", tmp_path / name)
        back, curves = report.read_export(written[0])
        source = report.runs(tiny_study_url, "tiny")
        if name.endswith(".xlsx"):
            for column in ("started_at", "finished_at"):
                source[column] = source[column].dt.round("ms")
        pd.testing.assert_frame_equal(back, source, rtol=1e-14, atol=0)
        expected = report.epochs(tiny_study_url, "tiny")
        pd.testing.assert_frame_equal(curves, expected, rtol=1e-14, atol=0)


def test_importances_from_optuna_trials_with_known_scores(sqlite_url):
    """fANOVA on one searched parameter gives it all the importance; too few trials and a
    missing Optuna study are said in the note."""
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.trial import create_trial

    with open_store(sqlite_url) as store:
        store.ensure_study("imp", STUDY_TEXT.replace("name: synth", "name: imp"))
        for loss in ("poly1_cross_entropy", "focal", "cross_entropy"):
            record_run(store, "imp", "digits", loss)
    poly = optuna.create_study(study_name="imp/digits/poly1_cross_entropy", storage=sqlite_url)
    epsilon = FloatDistribution(-1.0, 4.0)
    for value, score in ((-1.0, 0.80), (0.5, 0.85), (2.0, 0.90), (4.0, 0.88)):
        poly.add_trial(
            create_trial(params={"epsilon": value}, distributions={"epsilon": epsilon}, value=score)
        )
    focal = optuna.create_study(study_name="imp/digits/focal", storage=sqlite_url)
    gamma = FloatDistribution(0.0, 4.0)
    focal.add_trial(create_trial(params={"gamma": 1.0}, distributions={"gamma": gamma}, value=0.9))
    table = report.importances(sqlite_url, "imp").set_index("loss")
    assert table.loc["poly1_cross_entropy", ["param", "importance"]].tolist() == ["epsilon", 1.0]
    assert table.loc["focal", "note"] == "only 1 complete trial(s): importances need >= 2"
    assert table.loc["cross_entropy", "note"] == (
        "no Optuna study named 'imp/digits/cross_entropy' in this storage"
    )


# ---------------------------------------------------------------------------- README


def _reports_section() -> str:
    text = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    start = text.index("<!-- SECTION: reports -->")
    return text[start : text.index("<!-- SECTION:", start + 10)]


def test_readme_python_example_runs(synth_url, tmp_path, monkeypatch):
    section = _reports_section()
    block = section.split("**From Python**")[1].split("```python\n")[1].split("```")[0]
    code = block.replace("sqlite:///polybench.db", synth_url).replace('"quickstart"', '"synth"')
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["table"].columns.tolist() == report.SUMMARY_COLUMNS
    assert (tmp_path / "runs.xlsx").exists()
    pd.testing.assert_frame_equal(namespace["epochs_back"], report.epochs(synth_url, "synth"))


def test_readme_documents_the_export_columns(synth_url):
    section = " ".join(_reports_section().split())
    runs_doc = section.split("Runs columns, in order: ")[1].split(", then one")[0]
    epochs_doc = section.split("Epochs columns: ")[1].split(".")[0]
    summary_doc = section.split("Summary columns (`report.SUMMARY_COLUMNS`): ")[1].split(".")[0]

    def names(text: str) -> list[str]:  # the first `name` of each item, asides dropped
        return [part.split("`")[1] for part in re.sub(r" \([^)]*\)", "", text).split(", ")]

    columns = report.runs(synth_url, "synth").columns
    assert names(runs_doc) == [c for c in columns if not c.startswith("param_")]
    assert names(epochs_doc) == report.epochs(synth_url, "synth").columns.tolist()
    assert names(summary_doc) == report.SUMMARY_COLUMNS


# ---------------------------------------------------------------------------- both back ends


def test_summary_and_export_on_sqlite_and_postgresql(store, storage_url, tmp_path):
    store.ensure_study("pair", STUDY_TEXT.replace("name: synth", "name: pair"))
    scores = {"cross_entropy": [0.80, 0.82, 0.81], "poly1_cross_entropy": [0.84, 0.85, 0.83]}
    for loss, values in scores.items():
        for seed, value in enumerate(values):
            _run(store, "pair", "digits", loss, {"epsilon": 2.0}, seed, "confirm", seed,
                 "complete", 0.8, value, epochs=1)  # fmt: skip
    row = report.summary(storage_url, "pair", loss="poly1_cross_entropy").iloc[0]
    reference = scipy_stats.ttest_rel(scores["poly1_cross_entropy"], scores["cross_entropy"])
    assert row["p_value"] == pytest.approx(reference.pvalue)
    written = report.export(storage_url, "pair", tmp_path / "pair.jsonl")
    back, curves = report.read_export(written[0])
    pd.testing.assert_frame_equal(back, report.runs(storage_url, "pair"), check_exact=True)
    pd.testing.assert_frame_equal(curves, report.epochs(storage_url, "pair"), check_exact=True)


def test_test_scores_of_search_runs_in_an_older_database_are_not_shown(sqlite_url, tmp_path):
    """An older polybench stored test scores for search runs; reads and exports hide them."""
    with open_store(sqlite_url) as store:
        store.ensure_study("old", STUDY_TEXT.replace("name: synth", "name: old"))
        _run(store, "old", "digits", "focal", {"gamma": 1.0}, 0, "search", 0, "complete", 0.9, 0.8)
        _run(store, "old", "digits", "focal", {"gamma": 1.0}, 0, "confirm", 0, "complete", 0.9, 0.7)
        stored = store.runs(study="old")
    assert stored["test_accuracy"].notna().all()  # the database keeps its columns
    shown = report.runs(sqlite_url, "old").set_index("phase")
    assert math.isnan(shown.loc["search", "test_accuracy"])
    assert math.isnan(shown.loc["search", "test_macro_f1"])
    assert shown.loc["confirm", "test_accuracy"] == 0.7
    report.export(sqlite_url, "old", tmp_path / "runs.csv")
    exported = pd.read_csv(tmp_path / "runs.csv").set_index("phase")
    assert math.isnan(exported.loc["search", "test_accuracy"])
    assert exported.loc["confirm", "test_accuracy"] == 0.7


def test_budget_ledger_sums_equal_the_rows_of_the_runs_table(synth_url):
    runs = report.runs(synth_url, "synth")
    spent = report.budget(synth_url, "synth")
    ledger = spent.ledger.set_index(["task", "loss"])
    assert len(ledger) == len(runs.groupby(["task", "loss"]))
    for (task, loss), group in runs.groupby(["task", "loss"]):
        row = ledger.loc[(task, loss)]
        search = group[group["phase"] == "search"]
        for state in ("complete", "pruned", "failed"):
            assert row[f"search_{state}"] == (search["state"] == state).sum()
        assert row["epochs_trained"] == group["epochs_done"].sum()
        assert row["compute_seconds"] == pytest.approx(group["wall_time"].sum())
        assert row["confirm_runs"] == (group["phase"] == "confirm").sum()
    # The summary carries the same ledger columns, one row per task and loss.
    table = report.summary(synth_url, "synth").set_index(["task", "loss"])
    columns = ["search_complete", "search_pruned", "search_failed", "epochs_trained"]
    assert (table[columns] == ledger[columns].loc[table.index]).all().all()
    assert ledger.loc[("digits", "focal"), "search_failed"] == 1


def test_expected_best_table_per_loss_and_the_varied_sources(synth_url):
    spent = report.budget(synth_url, "synth")
    curve = spent.curve.set_index(["task", "loss", "k"])
    # digits / poly1_cross_entropy: 4 complete trials, so k = 1, 2, 4.
    scores = [v for _, v in SEARCH[("digits", "poly1_cross_entropy")]]
    rows = curve.loc[("digits", "poly1_cross_entropy")]
    assert list(rows.index) == [1, 2, 4]
    assert rows.loc[1, "expected_best"] == pytest.approx(np.mean(scores))
    assert (
        rows.loc[4, "expected_best"] > rows.loc[2, "expected_best"] > rows.loc[1, "expected_best"]
    )
    assert spent.varied == ("init", "order")
    line = spent.variance_line()
    assert "varied: weight init, batch order; held fixed: data split" in line
    text = report.budget_text(spent, "md")
    assert "**Budget ledger" in text and "| trials | k=1 | k=2 | k=3 | k=4 |" in text
    assert "| digits | poly1_cross_entropy | 4/1/0 |" in text


def test_cli_report_shows_the_ledger_and_the_curve_under_the_summary(synth_url, tmp_path):
    out = tmp_path / "report.md"
    result = CliRunner().invoke(
        app, ["report", "synth", "--storage", synth_url, "--format", "md", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.index("Budget ledger") > text.index("| task | loss |")
    assert "Expected best validation accuracy after k search trials" in text
    assert "Confirm seeds varied" in text
    piped = CliRunner().invoke(app, ["report", "synth", "--storage", synth_url])
    assert piped.exit_code == 0, piped.output
    assert "search complete/pruned/failed" in piped.output


# ---------------------------------------------------------------------------- throughput


def test_throughput_has_an_interval_a_welch_test_and_the_stored_loss_cost(tmp_path):
    from polybench.losses._cost import LossCost

    url = f"sqlite:///{tmp_path / 'throughput.db'}"
    rates = {
        "cross_entropy": [1000.0, 1010.0, 990.0, 1005.0],
        "poly1_cross_entropy": [995.0, 1012.0, 985.0, 1001.0],  # the same machine noise
        "focal": [700.0, 705.0, 698.0, 702.0],  # clearly slower
    }
    with open_store(url) as store:
        store.ensure_study("synth", STUDY_TEXT)
        for loss, values in rates.items():
            for seed, rate in enumerate(values):
                run_id = store.start_run(
                    study="synth", task="digits", model="small_cnn", loss=loss, params={},
                    seed=seed, phase="confirm", optuna_study=f"synth/digits/{loss}/confirm",
                    trial_number=seed, environment=ENVIRONMENT,
                )  # fmt: skip
                store.finish_run(
                    run_id, state="complete", metrics={"test_accuracy": 0.9 + seed / 100},
                    train_throughput=rate, eval_throughput=None, wall_time=1.0, epochs_done=1,
                )  # fmt: skip
        store.record_loss_costs(
            study="synth",
            task="digits",
            costs=[
                LossCost("cross_entropy", 1.0, 1.0, 1.0, 1e-4, 100),
                LossCost("poly1_cross_entropy", 1.3, 1.2, 1.4, 1.3e-4, 100),
            ],
            batch_size=64,
            num_classes=10,
            device="cpu",
        )
    table = report.summary(url, "synth").set_index("loss")
    for loss, values in rates.items():
        interval = scipy_stats.t.interval(
            0.95, len(values) - 1, loc=np.mean(values), scale=scipy_stats.sem(values)
        )
        row = table.loc[loss]
        assert row["train_throughput"] == pytest.approx(np.mean(values))
        assert (row["train_throughput_low"], row["train_throughput_high"]) == pytest.approx(
            interval
        )
        if loss == "cross_entropy":
            assert pd.isna(row["throughput_p"]) and row["throughput_note"] is None
            continue
        welch = scipy_stats.ttest_ind(values, rates["cross_entropy"], equal_var=False).pvalue
        assert row["throughput_p"] == pytest.approx(welch)
    assert table.loc["poly1_cross_entropy", "throughput_note"].startswith(
        "within noise of cross_entropy (Welch p="
    )
    assert table.loc["focal", "throughput_note"].startswith("slower than cross_entropy")
    assert table.loc["poly1_cross_entropy", "loss_cost_ratio"] == 1.3
    assert (
        table.loc["poly1_cross_entropy", ["loss_cost_low", "loss_cost_high"]] == [1.2, 1.4]
    ).all()
    assert pd.isna(table.loc["focal", "loss_cost_ratio"])  # not measured
    shown = report.display_frame(report.summary(url, "synth")).set_index("loss")
    assert shown.loc["poly1_cross_entropy", "loss cost (x cross_entropy)"] == "1.30x [1.20, 1.40]"
    assert shown.loc["focal", "train samples/s (95% CI)"].startswith("701 [")
    assert "slower than cross_entropy" in shown.loc["focal", "note"]
