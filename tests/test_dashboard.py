"""The dashboard under Streamlit's AppTest, on real SQLite (and PostgreSQL) databases.

One database is filled by a real tiny study (conftest's `tiny_study_url`); others
are written through the real Store API with known scores (several tasks for the Friedman test, a
study still running, failed runs). What the app shows is checked against the database read
independently through `Store`, and the Friedman statistic against scipy. The chart builders of
`polybench.charts` are tested as plain functions.
"""

from __future__ import annotations

import base64
import json
import sys
from multiprocessing import spawn
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from conftest import dashboard_app, main_module_kept, record_run
from scipy import stats as scipy_stats
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from polybench import charts, report
from polybench.cli import app as cli_app
from polybench.dashboard import APP_SCRIPT, launch, streamlit_command
from polybench.db import StorageError, open_store

ROOT = Path(__file__).resolve().parents[1]
APP_FILE = ROOT / "app" / "dashboard.py"
TABS = ["Overview", "Trade-off", "Sensitivity", "Runs", "Across tasks", "Budget"]

SYNTH_STUDY = """\
name: synth
tasks:
  - {task: digits, model: small_cnn}
  - {task: mnist5k, model: small_cnn}
  - {task: mnist, model: small_cnn}
losses:
  - loss: cross_entropy
  - loss: poly1_cross_entropy
    search: {epsilon: {low: -1, high: 8}}
  - loss: focal
    search: {gamma: {low: 0, high: 4}}
search: {trials: 3, metric: val_accuracy}
confirm: {seeds: 3}
"""
SYNTH_TASKS = ("digits", "mnist5k", "mnist")
SYNTH_LOSSES = ("cross_entropy", "poly1_cross_entropy", "focal")


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fresh_cache():
    """`st.cache_data` outlives an AppTest; every test starts from an empty cache."""
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def _app(url: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return dashboard_app(url, monkeypatch).run()


def test_a_process_spawned_after_an_app_test_does_not_run_the_dashboard(sqlite_url, monkeypatch):
    """AppTest leaves the dashboard script as `__main__`, which every later "spawn" child would
    run first; conftest puts the test's own `__main__` back (`main_module_kept`)."""
    main = sys.modules["__main__"]
    with main_module_kept():
        _app(sqlite_url, monkeypatch)
        assert spawn.get_preparation_data("w")["init_main_from_path"] == str(APP_FILE)
    assert sys.modules["__main__"] is main
    assert spawn.get_preparation_data("w").get("init_main_from_path") != str(APP_FILE)


def _record(store, study, task, loss, params, *, seed, phase, trial, state, val, test):
    """`record_run` with two epochs of curve rising to `val` (one for a running run) and a
    throughput that tells trials and seeds apart."""
    curve = [val - 0.1] if state == "running" else [val - 0.05 * (1 - e) for e in range(2)]
    return record_run(
        store, study, task, loss, params, seed=seed, phase=phase, trial=trial, state=state,
        val=val, test=test if phase == "confirm" else None, curve=curve, epochs_done=2,
        train_throughput=1000.0 + 100 * trial + 10 * seed, wall_time=3.0,
    )  # fmt: skip


def _fill_synth(url: str, *, seed: int = 0) -> dict[tuple[str, str], list[float]]:
    """3 tasks x 3 losses, 3 search trials and 3 confirm seeds each; returns test scores."""
    rng = np.random.default_rng(seed)
    tests: dict[tuple[str, str], list[float]] = {}
    with open_store(url) as store:
        store.ensure_study("synth", SYNTH_STUDY)
        for t, task in enumerate(SYNTH_TASKS):
            for offset, loss in enumerate(SYNTH_LOSSES):
                name = {"poly1_cross_entropy": "epsilon", "focal": "gamma"}.get(loss)
                for trial in range(3):
                    params = {name: float(trial)} if name else {}
                    val = 0.8 + 0.01 * offset + 0.005 * trial + 0.02 * t
                    _record(store, "synth", task, loss, params, seed=0, phase="search",
                            trial=trial, state="complete", val=val, test=None)  # fmt: skip
                base = 0.85 + 0.02 * t + [0.0, 0.03, 0.01][offset]
                tests[(task, loss)] = [float(base + rng.normal(0, 0.004)) for _ in range(3)]
                for s, score in enumerate(tests[(task, loss)]):
                    _record(store, "synth", task, loss, {}, seed=s, phase="confirm", trial=s,
                            state="complete", val=score + 0.01, test=score)  # fmt: skip
    return tests


def _figure(at_or_block, key: str) -> dict:
    """The Plotly figure (JSON spec) of the chart with widget key `key`."""
    for chart in at_or_block.get("plotly_chart"):
        if chart.proto.id.endswith(key) or key in chart.proto.id:
            return json.loads(chart.proto.spec)
    raise AssertionError(f"no plotly chart with key {key!r}")


def _array(value) -> list:
    """A trace's data array: Plotly's JSON packs numbers as base64 `{"dtype", "bdata"}`."""
    if isinstance(value, dict) and "bdata" in value:
        data = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        if "shape" in value:  # "rows, columns"
            data = data.reshape([int(n) for n in str(value["shape"]).split(",")])
        return data.tolist()
    return list(value)


def _points(figure: dict) -> set[int]:
    """Run ids of all markers in a figure whose traces carry run ids as customdata[0]."""
    ids = set()
    for trace in figure["data"]:
        for row in trace.get("customdata") or []:
            ids.add(int(row[0]))
    return ids


def _assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


# --- the app on a real study ----------------------------------------------------------------


def test_every_tab_renders_charts_and_tables_of_a_real_study(tiny_study_url, monkeypatch):
    at = _app(tiny_study_url, monkeypatch)
    _assert_clean(at)
    assert [tab.label for tab in at.tabs] == TABS
    for tab in at.tabs:
        assert tab.get("plotly_chart"), f"tab {tab.label} shows no chart"
    assert at.tabs[0].dataframe and at.tabs[3].dataframe

    with open_store(tiny_study_url) as store:
        runs = store.runs(study="tiny")
    # Overview: one summary row per loss, and the headline says what the report's verdict says.
    summary = at.tabs[0].dataframe[0].value
    assert sorted(summary["loss"]) == sorted(runs["loss"].unique())
    table = report.summary(tiny_study_url, "tiny", task="digits")
    (verdict,) = report.verdicts(table)
    headline = verdict.partition(". Against ")[0]
    callouts = [*at.tabs[0].success, *at.tabs[0].info]
    assert [c.value for c in callouts if headline in c.value] == [f"**{headline}**"]
    assert bool(at.tabs[0].success) == bool((table["verdict"] == "better").any())
    # Trade-off: every complete run with a score and a throughput is one point, no other.
    shown = runs[runs["state"] == "complete"].dropna(subset=["val_accuracy", "train_throughput"])
    figure = _figure(at.tabs[1], "tradeoff_chart")
    assert _points(figure) == set(shown["run_id"])
    # Runs: the table holds every run of the task.
    assert sorted(at.tabs[3].dataframe[0].value["run_id"]) == sorted(runs["run_id"])


def test_budget_tab_shows_the_ledger_and_the_expected_best_curve(tiny_study_url, monkeypatch):
    from polybench import stats

    at = _app(tiny_study_url, monkeypatch)
    _assert_clean(at)
    with open_store(tiny_study_url) as store:
        runs = store.runs(study="tiny")
    budget_tab = at.tabs[TABS.index("Budget")]
    ledger = budget_tab.dataframe[0].value.set_index("loss")
    # The ledger's sums are those of the runs table.
    for loss, group in runs.groupby("loss"):
        search = group[group["phase"] == "search"]
        counts = [int((search["state"] == s).sum()) for s in ("complete", "pruned", "failed")]
        assert ledger.loc[loss, "search complete/pruned/failed"] == "/".join(map(str, counts))
        assert ledger.loc[loss, "epochs (all)"] == str(int(group["epochs_done"].sum()))
        assert ledger.loc[loss, "confirm runs"] == str(int((group["phase"] == "confirm").sum()))
    # One expected-best line per loss, at k = 1, 2 (two complete trials each).
    figure = _figure(budget_tab, "expected_best")
    lines = [t for t in figure["data"] if t.get("mode") == "lines+markers"]
    assert sorted(t["name"] for t in lines) == sorted(runs["loss"].unique())
    for line in lines:
        mine = runs[(runs["loss"] == line["name"]) & (runs["phase"] == "search")]
        scores = mine.loc[mine["state"] == "complete", "val_accuracy"]
        assert _array(line["x"]) == [1, 2]
        expected = [stats.expected_best(scores, k)[0] for k in (1, 2)]
        assert _array(line["y"]) == pytest.approx(expected)
    assert "Confirm seeds varied: weight init, batch order" in budget_tab.caption[-1].value


def test_trade_off_on_test_shows_confirm_runs_only(tiny_study_url, monkeypatch):
    at = _app(tiny_study_url, monkeypatch)
    at.radio(key="tradeoff_split").set_value("test").run()  # both phases still selected
    _assert_clean(at)
    with open_store(tiny_study_url) as store:
        runs = store.runs(study="tiny", state="complete")
    assert runs.loc[runs["phase"] == "search", "test_accuracy"].isna().all()
    figure = _figure(at, "tradeoff_chart")
    assert _points(figure) == set(runs.loc[runs["phase"] == "confirm", "run_id"])


def test_widgets_change_what_is_shown(tiny_study_url, monkeypatch):
    at = _app(tiny_study_url, monkeypatch)
    with open_store(tiny_study_url) as store:
        runs = store.runs(study="tiny")
        epochs = store.epochs(study="tiny")
    complete = runs[runs["state"] == "complete"]

    # Only confirm runs on the trade-off chart, scored on the test split.
    at.multiselect(key="tradeoff_phases").set_value(["confirm"])
    at.radio(key="tradeoff_split").set_value("test").run()
    _assert_clean(at)
    figure = _figure(at, "tradeoff_chart")
    assert _points(figure) == set(complete.loc[complete["phase"] == "confirm", "run_id"])
    assert figure["layout"]["yaxis"]["title"]["text"] == "test accuracy"
    ys = sorted(y for t in figure["data"] if t.get("customdata") for y in _array(t["y"]))
    expected = complete.loc[complete["phase"] == "confirm", "test_accuracy"]
    assert ys == pytest.approx(sorted(expected))

    # Another metric: the axis and the values follow it.
    at.selectbox(key="metric").set_value("macro_f1").run()
    _assert_clean(at)
    figure = _figure(at, "tradeoff_chart")
    assert figure["layout"]["yaxis"]["title"]["text"] == "test macro-F1"

    # Runs tab: filtering by loss and phase filters the table and the CSV button's count.
    at.multiselect(key="runs_loss").set_value(["poly1_focal"])
    at.multiselect(key="runs_phase").set_value(["search"]).run()
    _assert_clean(at)
    table = at.tabs[3].dataframe[0].value
    wanted = runs[(runs["loss"] == "poly1_focal") & (runs["phase"] == "search")]
    assert sorted(table["run_id"]) == sorted(wanted["run_id"])
    assert f"Download these {len(wanted)} runs as CSV" in [b.label for b in at.download_button]

    # Learning curves of one chosen run show exactly its stored epochs.
    run_id = int(wanted["run_id"].iloc[0])
    at.multiselect(key="curve_runs").set_value([run_id])
    at.selectbox(key="curve_value").set_value("train_loss").run()
    _assert_clean(at)
    figure = _figure(at, "curves_chart")
    assert len(figure["data"]) == 1
    stored = epochs[epochs["run_id"] == run_id].sort_values("epoch")
    assert _array(figure["data"][0]["y"]) == pytest.approx(stored["train_loss"].tolist())


def test_sensitivity_tab_plots_every_search_run_against_its_parameter(tiny_study_url, monkeypatch):
    at = _app(tiny_study_url, monkeypatch)
    with open_store(tiny_study_url) as store:
        runs = store.runs(study="tiny", phase="search", state="complete")
    for param in ("param_epsilon", "param_gamma"):
        at.selectbox(key="sensitivity_param").set_value(param).run()
        _assert_clean(at)
        figure = _figure(at, "sensitivity_chart")
        with_param = runs.dropna(subset=[param])
        assert _points(figure) == set(with_param["run_id"])
        xs = sorted(x for trace in figure["data"] for x in _array(trace["x"]))
        assert xs == pytest.approx(sorted(with_param[param]))
    # poly1_focal tunes two parameters; from 2 trials a grid of cells would claim too much, so
    # the two trials are points coloured by their score (a heat map from 10 trials on).
    heatmap = _figure(at, "sensitivity_heatmap")
    (trials,) = heatmap["data"]
    assert trials["type"] == "scatter" and trials["mode"] == "markers"
    focal = runs[runs["loss"] == "poly1_focal"].sort_values("param_epsilon")
    order = np.argsort(_array(trials["x"]))
    assert np.array(_array(trials["x"]))[order] == pytest.approx(list(focal["param_epsilon"]))
    colors = np.array(_array(trials["marker"]["color"]))[order]
    assert colors == pytest.approx(list(focal["val_accuracy"]))


# --- databases in other states --------------------------------------------------------------


def test_empty_database_says_how_to_fill_it(sqlite_url, monkeypatch):
    open_store(sqlite_url).close()  # polybench's tables, no study
    at = _app(sqlite_url, monkeypatch)
    _assert_clean(at)
    assert any("has no studies yet" in info.value for info in at.info)
    assert any("polybench run" in info.value for info in at.info)


def test_missing_database_is_named_and_not_created(tmp_path, monkeypatch):
    missing = tmp_path / "typo.db"
    at = _app(f"sqlite:///{missing}", monkeypatch)
    assert not at.exception
    assert len(at.error) == 1 and f"no results database at {missing}" in at.error[0].value
    assert not missing.exists()


def test_unreadable_storage_is_one_clear_error_not_a_traceback(monkeypatch):
    at = _app("nosuchdriver://user:secret@host/db", monkeypatch)
    assert not at.exception
    assert len(at.error) == 1
    assert "Cannot read the results database" in at.error[0].value
    assert "secret" not in at.error[0].value


def test_running_study_with_failed_runs_renders_and_refresh_shows_new_runs(
    storage_url, monkeypatch
):
    with open_store(storage_url) as store:
        store.ensure_study("synth", SYNTH_STUDY)
        for trial, state in enumerate(["complete", "complete", "failed", "running"]):
            _record(store, "synth", "digits", "poly1_cross_entropy", {"epsilon": float(trial)},
                    seed=0, phase="search", trial=trial, state=state, val=0.8 + 0.01 * trial,
                    test=None)  # fmt: skip
    at = _app(storage_url, monkeypatch)
    _assert_clean(at)
    assert [tab.label for tab in at.tabs] == TABS
    assert any("still running" in info.value for info in at.info)
    assert any("No confirm runs have finished yet" in info.value for info in at.info)
    failed = at.expander[0]
    assert "1 failed run" in failed.label
    assert "loss became NaN" in failed.dataframe[0].value["failure_reason"].iloc[0]
    assert "4 runs in the study" in " ".join(c.value for c in at.sidebar.caption)

    # A worker writes two more runs; the cached view keeps the old ones until Refresh.
    with open_store(storage_url) as store:
        for trial in (4, 5):
            _record(store, "synth", "digits", "poly1_cross_entropy", {"epsilon": float(trial)},
                    seed=0, phase="search", trial=trial, state="complete", val=0.9,
                    test=None)  # fmt: skip
    at.run()
    assert "4 runs in the study" in " ".join(c.value for c in at.sidebar.caption)
    at.button(key="refresh").click().run()
    _assert_clean(at)
    assert "6 runs in the study" in " ".join(c.value for c in at.sidebar.caption)


def test_study_with_no_finished_run_says_what_is_missing_on_every_tab(sqlite_url, monkeypatch):
    with open_store(sqlite_url) as store:
        store.ensure_study("synth", SYNTH_STUDY)
        for trial, state in enumerate(["running", "failed"]):
            _record(store, "synth", "digits", "focal", {"gamma": 1.0}, seed=0, phase="search",
                    trial=trial, state=state, val=0.5, test=None)  # fmt: skip
    at = _app(sqlite_url, monkeypatch)
    _assert_clean(at)
    assert [tab.label for tab in at.tabs] == TABS
    overview, tradeoff, sensitivity, runs, across, budget = at.tabs
    assert any("No run of task digits has finished yet" in i.value for i in overview.info)
    assert any("No complete runs with this score yet" in i.value for i in tradeoff.info)
    assert any("No tuned hyperparameter varies" in i.value for i in sensitivity.info)
    assert sorted(runs.dataframe[0].value["state"]) == ["failed", "running"]
    assert any("No task has complete confirm runs yet" in i.value for i in across.info)
    # The failed search run is in the ledger; no complete trial yet, so no curve.
    ledger = budget.dataframe[0].value
    assert list(ledger["search complete/pruned/failed"]) == ["0/0/1"]
    curve = _figure(budget, "expected_best")
    assert "No complete search trials yet." in json.dumps(curve["layout"]["annotations"])


def _fill_pair(url: str, study: str, scores: dict[str, list[float]]) -> None:
    """One task (digits), confirm runs only, with the given per-seed test scores per loss."""
    text = SYNTH_STUDY.replace("name: synth", f"name: {study}")
    with open_store(url) as store:
        store.ensure_study(study, text)
        for loss, values in scores.items():
            for s, score in enumerate(values):
                _record(store, study, "digits", loss, {}, seed=s, phase="confirm", trial=s,
                        state="complete", val=0.9, test=score)  # fmt: skip


def test_overview_headline_agrees_with_the_verdict_and_a_tie_is_a_tie(sqlite_url, monkeypatch):
    _fill_pair(
        sqlite_url, "tie", {"cross_entropy": [0.80, 0.90, 0.85], "focal": [0.90, 0.80, 0.85]}
    )
    at = _app(sqlite_url, monkeypatch)
    _assert_clean(at)
    overview = at.tabs[0]
    assert not overview.success  # nothing is better, so nothing is called out in green
    headline = [i.value for i in overview.info if "tie for best" in i.value]
    assert headline == ["**digits: cross_entropy and focal tie for best (test accuracy 0.8500 "
                        "[0.7258, 0.9742])**"]  # fmt: skip
    text = " ".join(m.value for m in overview.markdown)
    assert "**focal** inconclusive: +0.0000 [" in text and "would be detected" in text


def test_overview_calls_out_a_loss_only_when_its_verdict_is_better(sqlite_url, monkeypatch):
    _fill_pair(sqlite_url, "clear", {
        "cross_entropy": [0.900, 0.910, 0.905, 0.895],
        "poly1_cross_entropy": [0.941, 0.949, 0.944, 0.937],
        "focal": [0.903, 0.906, 0.904, 0.899],
    })  # fmt: skip
    at = _app(sqlite_url, monkeypatch)
    _assert_clean(at)
    (success,) = at.tabs[0].success
    assert success.value.startswith("**digits: poly1_cross_entropy beats cross_entropy (test ")
    text = " ".join(m.value for m in at.tabs[0].markdown)
    assert "**poly1_cross_entropy** better: +0.0402 [" in text
    assert "**focal** inconclusive: " in text
    assert not at.tabs[0].warning
    # another metric than the study's own: every verdict is labelled exploratory
    at.selectbox(key="metric").set_value("macro_f1").run()
    _assert_clean(at)
    (warning,) = at.tabs[0].warning
    assert warning.value.startswith("Exploratory: the study was planned on accuracy; macro_f1")
    assert "val macro_f1 (exploratory)" in at.tabs[0].dataframe[0].value.columns


def test_across_tasks_shows_ranks_and_the_friedman_test(sqlite_url, monkeypatch):
    tests = _fill_synth(sqlite_url)
    at = _app(sqlite_url, monkeypatch)
    _assert_clean(at)
    across = at.tabs[4]
    scores = across.dataframe[0].value
    for (task, loss), values in tests.items():
        assert scores.loc[task, loss] == pytest.approx(np.mean(values))
    chi2, p = scipy_stats.friedmanchisquare(
        *[[np.mean(tests[(task, loss)]) for task in SYNTH_TASKS] for loss in SYNTH_LOSSES]
    )
    text = " ".join(m.value for m in across.markdown)
    assert f"χ² = {chi2:.3f}" in text and f"p = {p:.3g}" in text
    ranks = _figure(across, "ranks_chart")["data"][0]
    ordered = pd.DataFrame({task: [np.mean(tests[(task, loss)]) for loss in SYNTH_LOSSES]
                            for task in SYNTH_TASKS}, index=SYNTH_LOSSES)  # fmt: skip
    expected = ordered.rank(ascending=False).mean(axis=1)
    assert dict(zip(_array(ranks["y"]), _array(ranks["x"]), strict=True)) == pytest.approx(
        expected.to_dict()
    )
    # Switching task changes the Overview to that task's losses and scores.
    at.selectbox(key="task").set_value("mnist").run()
    _assert_clean(at)
    summary = at.tabs[0].dataframe[0].value
    assert sorted(summary["loss"]) == sorted(SYNTH_LOSSES)
    assert at.title[0].value == "Study synth"
    assert "Task **mnist** in every tab but Across tasks, which compares all 3 task(s) of the " \
        "study." in [c.value for c in at.main.caption]  # fmt: skip
    # The Across-tasks tab is titled with the study's tasks, not the chosen one.
    (heading,) = at.tabs[4].subheader
    assert heading.value == "All 3 task(s) of study synth: digits, mnist, mnist5k"


REGISTRY_ORDER = ["cross_entropy", "poly1_cross_entropy", "focal"]  # != alphabetical


def test_every_chart_and_table_keeps_the_registry_order_of_losses(sqlite_url, monkeypatch):
    _fill_synth(sqlite_url)
    at = _app(sqlite_url, monkeypatch)
    _assert_clean(at)
    overview, tradeoff, sensitivity, runs, across, budget = at.tabs
    # Tables: rows (or columns, for the task x loss scores) in registry order.
    assert list(overview.dataframe[0].value["loss"]) == REGISTRY_ORDER
    assert list(tradeoff.dataframe[-1].value["loss"]) == REGISTRY_ORDER
    assert list(dict.fromkeys(sensitivity.dataframe[0].value["loss"])) == REGISTRY_ORDER[1:]
    assert list(budget.dataframe[0].value["loss"]) == REGISTRY_ORDER
    assert list(across.dataframe[0].value.columns) == REGISTRY_ORDER
    # Charts: traces (legend entries) or categories in registry order.
    names = [t["name"] for t in _figure(tradeoff, "tradeoff_chart")["data"]]
    assert list(dict.fromkeys(n.split(" ")[0] for n in names if "(" in n)) == REGISTRY_ORDER
    intervals = _figure(overview, "overview_intervals")["data"]
    assert [t["name"] for t in intervals if t.get("name") in REGISTRY_ORDER] == REGISTRY_ORDER
    curves = _figure(runs, "mean_curves_chart")["data"]
    assert [t["name"] for t in curves if t.get("mode") == "lines+markers"] == REGISTRY_ORDER
    lines = _figure(budget, "expected_best")["data"]
    assert [t["name"] for t in lines if t.get("mode") == "lines+markers"] == REGISTRY_ORDER


def test_loss_order_is_the_registry_then_plugins_alphabetically():
    from polybench.losses import LOSSES, Loss, register

    assert charts.loss_order() == tuple(LOSSES)  # only built-in losses are registered here
    assert charts.loss_order()[0] == charts.BASELINE_LOSS

    class Zeta(Loss):
        name = "zeta_plugin"

    class Alpha(Loss):
        name = "alpha_plugin"

    Zeta.__module__ = Alpha.__module__ = "my_losses"
    try:
        register(Zeta)
        register(Alpha)
        order = charts.loss_order()
        assert order[: len(order) - 2] == tuple(n for n in LOSSES if not n.endswith("_plugin"))
        assert order[-2:] == ("alpha_plugin", "zeta_plugin")
        assert charts.ordered_losses(["zeta_plugin", "focal", "alpha_plugin", "cross_entropy"]) == [
            "cross_entropy",
            "focal",
            "alpha_plugin",
            "zeta_plugin",
        ]
    finally:
        LOSSES.pop("zeta_plugin", None)
        LOSSES.pop("alpha_plugin", None)


def test_mean_learning_curve_of_the_confirm_seeds_with_a_min_max_band(sqlite_url, monkeypatch):
    tests = _fill_synth(sqlite_url)
    at = _app(sqlite_url, monkeypatch)  # task digits
    _assert_clean(at)
    figure = _figure(at.tabs[3], "mean_curves_chart")
    assert "mean over confirm seeds (band: min–max)" in figure["layout"]["title"]["text"]
    traces = figure["data"]
    for loss in SYNTH_LOSSES:
        # _record writes val = test + 0.01, and epoch e holds val - 0.05 * (1 - e).
        per_epoch = [[t + 0.01 - 0.05 * (1 - e) for t in tests[("digits", loss)]] for e in (0, 1)]
        (line,) = [t for t in traces if t["name"] == loss]
        assert _array(line["x"]) == [0, 1]
        assert _array(line["y"]) == pytest.approx([sum(v) / 3 for v in per_epoch])
        (band,) = [t for t in traces if t["name"] == f"{loss} min–max"]
        assert _array(band["y"]) == pytest.approx(
            [max(per_epoch[0]), max(per_epoch[1]), min(per_epoch[1]), min(per_epoch[0])]
        )
    assert "min–max, not a confidence interval" in " ".join(c.value for c in at.tabs[3].caption)


def test_every_chart_downloads_as_png_or_svg(sqlite_url, monkeypatch):
    _fill_synth(sqlite_url)
    at = _app(sqlite_url, monkeypatch)
    _assert_clean(at)

    def configs():
        return [json.loads(chart.proto.config) for chart in at.get("plotly_chart")]

    assert len(configs()) >= 8
    for config in configs():
        options = config["toImageButtonOptions"]
        assert options["format"] == "png" and options["scale"] == 2
        assert options["filename"].startswith("polybench-")
        assert config["displaylogo"] is False
    filenames = [c["toImageButtonOptions"]["filename"] for c in configs()]
    assert "polybench-overview_intervals" in filenames
    assert len(set(filenames)) == len(filenames)
    at.selectbox(key="figure_format").set_value("svg").run()
    _assert_clean(at)
    assert {c["toImageButtonOptions"]["format"] for c in configs()} == {"svg"}


def test_two_studies_side_by_side_in_the_overview(sqlite_url, monkeypatch):
    _fill_pair(
        sqlite_url, "alpha", {"cross_entropy": [0.80, 0.82, 0.81], "focal": [0.70, 0.72, 0.71]}
    )
    _fill_pair(
        sqlite_url, "beta", {"focal": [0.95, 0.96, 0.94], "cross_entropy": [0.90, 0.91, 0.92]}
    )
    with open_store(sqlite_url) as store:  # a third study without task digits
        store.ensure_study("gamma", SYNTH_STUDY.replace("name: synth", "name: gamma"))
        _record(store, "gamma", "mnist", "focal", {}, seed=0, phase="confirm", trial=0,
                state="complete", val=0.9, test=0.9)  # fmt: skip
    at = _app(sqlite_url, monkeypatch)
    at.selectbox(key="study").set_value("alpha").run()
    _assert_clean(at)
    assert len(at.tabs[0].dataframe) == 1  # no comparison until one is picked
    at.selectbox(key="compare_study").set_value("beta").run()
    _assert_clean(at)
    overview = at.tabs[0]
    assert overview.subheader[0].value == "Task digits: study alpha next to study beta"
    left, right = (frame.value for frame in overview.dataframe)
    assert list(left["loss"]) == list(right["loss"]) == ["cross_entropy", "focal"]
    test_column = next(c for c in left.columns if c.startswith("test accuracy"))
    assert left[test_column].iloc[0].startswith("0.8100 [")
    assert right[test_column].iloc[1].startswith("0.9500 [")
    captions = [c.value for c in overview.caption]
    assert [m.value for m in overview.markdown] == ["**Study alpha**", "**Study beta**"]
    assert captions[0].startswith("digits: no loss beats cross_entropy (highest mean cross_entropy")
    assert captions[1].startswith("digits: no loss beats cross_entropy (highest mean focal, 0.95")
    assert len(_figure(overview, "compare_intervals_beta")["data"]) >= 2
    at.selectbox(key="compare_study").set_value("gamma").run()
    _assert_clean(at)
    assert "Study gamma has no finished confirm runs of task digits." in [
        i.value for i in at.tabs[0].info
    ]


def test_sensitivity_table_has_readable_column_names(sqlite_url, monkeypatch):
    _fill_synth(sqlite_url)
    at = _app(sqlite_url, monkeypatch)
    _assert_clean(at)
    table = at.tabs[2].dataframe[0].value
    assert list(table.columns) == [
        "loss", "parameter", "runs", "distinct values", "lowest value", "highest value",
        "best value", "best score", "lowest score", "highest score", "score spread",
        "Spearman ρ", "Spearman p", "note",
    ]  # fmt: skip
    focal = table[table["loss"] == "focal"].iloc[0]
    assert focal["parameter"] == "gamma" and focal["runs"] == 3 and focal["highest value"] == 2.0


# --- chart builders -------------------------------------------------------------------------


def _runs_frame() -> pd.DataFrame:
    rows = []
    for run_id, (loss, phase, acc, speed) in enumerate(
        [
            ("cross_entropy", "search", 0.90, 1000.0),
            ("cross_entropy", "confirm", 0.91, 900.0),
            ("poly1_cross_entropy", "search", 0.93, 800.0),
            ("poly1_cross_entropy", "confirm", 0.92, 1200.0),
            ("focal", "search", 0.89, 1300.0),
            ("focal", "search", 0.95, 500.0),
        ],
        start=1,
    ):
        rows.append(
            {
                "run_id": run_id,
                "loss": loss,
                "phase": phase,
                "seed": 0,
                "params": json.dumps({"epsilon": run_id / 2}),
                "val_accuracy": acc,
                "train_throughput": speed,
                "param_epsilon": run_id / 2,
            }
        )
    return pd.DataFrame(rows)


def _brute_force_front(frame: pd.DataFrame) -> set[int]:
    front = set()
    for _, a in frame.iterrows():
        beaten = any(
            b["val_accuracy"] >= a["val_accuracy"]
            and b["train_throughput"] >= a["train_throughput"]
            and (
                b["val_accuracy"] > a["val_accuracy"]
                or b["train_throughput"] > a["train_throughput"]
            )
            for _, b in frame.iterrows()
        )
        if not beaten:
            front.add(int(a["run_id"]))
    return front


def test_tradeoff_figure_has_one_trace_per_loss_and_phase_and_the_pareto_front():
    from polybench.dashboard._data import pareto_runs

    runs = _runs_frame()
    front = pareto_runs(runs, "val_accuracy", higher_is_better=True)
    assert set(front["run_id"]) == _brute_force_front(runs)
    figure = charts.tradeoff_figure(runs, metric="val_accuracy", front=front)
    names = [trace.name for trace in figure.data]
    assert names == [
        "cross_entropy (search)",
        "cross_entropy (confirm)",
        "poly1_cross_entropy (search)",
        "poly1_cross_entropy (confirm)",
        "focal (search)",
        "Pareto front",
    ]
    symbols = {trace.name: trace.marker.symbol for trace in figure.data[:-1]}
    assert symbols["focal (search)"] == "circle"
    assert symbols["poly1_cross_entropy (confirm)"] == "diamond"
    assert sorted(figure.data[-1].x) == sorted(front["train_throughput"])
    assert "epsilon=" in figure.data[0].customdata[0][3]


def test_loss_colours_are_the_same_whatever_the_study():
    one = charts.loss_colors(["focal", "cross_entropy"])
    two = charts.loss_colors(["poly1_focal", "focal", "poly1_cross_entropy", "my_loss"])
    assert one["focal"] == two["focal"]
    assert len(set(two.values())) == len(two)
    assert charts.ordered_losses(["focal", "cross_entropy", "zeta"]) == [
        "cross_entropy",
        "focal",
        "zeta",
    ]


def test_sensitivity_figure_draws_the_baseline_band():
    band = charts.Band("cross_entropy", 0.9, 0.88, 0.92)
    figure = charts.sensitivity_figure(_runs_frame(), param="param_epsilon", baseline=band)
    rect = next(shape for shape in figure.layout.shapes if shape.type == "rect")
    assert (rect.y0, rect.y1) == (0.88, 0.92)
    assert sum(len(trace.x) for trace in figure.data) == 6


def test_heat_map_cells_hold_the_mean_score_of_the_trials_inside_them():
    x = pd.Series([0.0, 0.2, 1.0, 0.9, 0.1])
    y = pd.Series([0.0, 0.1, 0.0, 1.0, 0.9])
    score = pd.Series([0.5, 0.7, 0.9, 0.2, 0.4])
    edges = np.array([0.0, 0.5, 1.0])
    grid = charts.score_grid(x, y, score, edges, edges)
    # rows are y bins, columns x bins: (x<.5, y<.5) holds 0.5 and 0.7; the rest one trial each
    np.testing.assert_allclose(grid, [[0.6, 0.9], [0.4, 0.2]])
    sparse = charts.score_grid(x[:2], y[:2], score[:2], edges, edges)
    assert np.isnan(sparse[1, 1]) and sparse[0, 0] == pytest.approx(0.6)


def test_heat_map_from_ten_trials_on_and_points_below():
    rng = np.random.default_rng(0)
    runs = pd.DataFrame(
        {
            "loss": "poly1_focal",
            "param_epsilon": rng.uniform(-1, 4, 12),
            "param_gamma": rng.uniform(0, 4, 12),
            "val_accuracy": rng.uniform(0.8, 0.9, 12),
        }
    )
    params = ("param_epsilon", "param_gamma")
    many = charts.sensitivity_heatmap(runs, loss="poly1_focal", params=params)
    assert [trace.type for trace in many.data] == ["heatmap", "scatter"]
    few = charts.sensitivity_heatmap(runs.head(9), loss="poly1_focal", params=params)
    assert [trace.type for trace in few.data] == ["scatter"]
    assert list(few.data[0].marker.color) == pytest.approx(list(runs.head(9)["val_accuracy"]))
    assert "9 trials: points" in few.layout.title.text


def test_importances_from_two_or_three_trials_carry_a_warning():
    importances = pd.DataFrame(
        {"loss": ["focal", "poly1_focal", "poly1_focal"], "param": ["gamma", "gamma", "epsilon"],
         "importance": [1.0, 0.6, 0.4]}
    )  # fmt: skip
    search = pd.DataFrame({"loss": ["focal"] * 8 + ["poly1_focal"] * 3})
    assert charts.importance_warning(importances, search) == (
        "Importances from fewer than 4 complete trials are mostly noise: poly1_focal (3 "
        "trials). Raise search.trials before reading them."
    )
    assert charts.importance_warning(importances.head(1), search) is None


def test_empty_frames_give_a_figure_with_a_message_not_an_error():
    empty = _runs_frame().iloc[0:0]
    for figure in (
        charts.tradeoff_figure(empty),
        charts.sensitivity_figure(empty, param="param_epsilon"),
        charts.learning_curves_figure(pd.DataFrame(), empty),
        charts.importance_figure(pd.DataFrame(columns=["loss", "param", "importance"])),
        charts.average_rank_figure(pd.DataFrame(columns=["loss", "average_rank"])),
    ):
        assert not figure.data
        assert figure.layout.annotations[0].text


# --- the command ----------------------------------------------------------------------------


def test_dashboard_command_runs_the_packaged_app():
    assert APP_SCRIPT.is_file()
    command = streamlit_command(port=8599, headless=True, address="127.0.0.1")
    assert command[1:5] == ["-m", "streamlit", "run", str(APP_SCRIPT)]
    assert command[command.index("--server.port") + 1] == "8599"
    assert command[command.index("--server.headless") + 1] == "true"
    assert command[command.index("--browser.gatherUsageStats") + 1] == "false"
    with pytest.raises(ValueError, match="Port 70000 is not a TCP port"):
        launch("sqlite:///x.db", port=70000)
    # A database that cannot be opened is one line from the command, and no server starts.
    result = CliRunner().invoke(
        cli_app, ["dashboard", "--storage", "nosuchdriver://user:secret@host/db", "--headless"]
    )
    assert isinstance(result.exception, StorageError)
    assert "secret" not in str(result.exception)
    result = CliRunner().invoke(cli_app, ["dashboard", "--help"])
    assert result.exit_code == 0
    assert "polybench dashboard --storage sqlite:///polybench.db" in result.output
