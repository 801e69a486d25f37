"""One rule picks each (task, loss)'s best search run, for the runner, the report and the
dashboard alike (`stats.best_search_runs`), and the runner stores its pick.

The case that used to split them: a study optimising macro-F1, reported on accuracy, whose
search run with the highest accuracy is not the one with the highest macro-F1.
"""

from __future__ import annotations

import json

import pytest

from polybench import report, stats
from polybench.dashboard._tabs import _default_curves
from polybench.db import open_store

STUDY = """\
name: pick
tasks: [{task: digits, model: small_cnn}]
losses: [{loss: cross_entropy}, {loss: focal, search: {gamma: {low: 0, high: 4}}}]
search: {trials: 2, metric: val_macro_f1}
confirm: {seeds: 2}
"""
# trial -> (gamma, val_accuracy, val_macro_f1): trial 0 wins on accuracy, trial 1 on macro-F1
TRIALS = {0: (1.0, 0.95, 0.60), 1: (2.0, 0.90, 0.80)}


@pytest.fixture
def url(sqlite_url: str) -> str:
    with open_store(sqlite_url) as store:
        store.ensure_study("pick", STUDY)
        for loss in ("cross_entropy", "focal"):
            for trial, (gamma, accuracy, f1) in TRIALS.items():
                run_id = store.start_run(
                    study="pick",
                    task="digits",
                    model="small_cnn",
                    loss=loss,
                    params={"gamma": gamma},
                    seed=0,
                    phase="search",
                    optuna_study=f"pick/digits/{loss}",
                    trial_number=trial,
                    environment={"host": "box", "device": "cpu", "torch_version": "2.5"},
                )
                store.finish_run(
                    run_id,
                    state="complete",
                    metrics={"val_accuracy": accuracy, "val_macro_f1": f1},
                    train_throughput=1000.0,
                    eval_throughput=5000.0,
                    wall_time=1.0,
                    epochs_done=2,
                )
    return sqlite_url


def _picks(url: str) -> tuple[list[int], list[int], list[int], list[float]]:
    """The best search run of each loss as stats, the report and the dashboard see it."""
    runs = report.runs(url, "pick")
    best = stats.best_search_runs(runs, report.study_objective(url, "pick"))
    table = report.summary(url, "pick", metric="accuracy")  # exploratory: not the objective
    by_params = {
        (row.loss, json.loads(row.best_params)["gamma"]): row.val_score
        for row in table.itertuples()
    }
    ids = runs.set_index(["loss", "param_gamma"])["run_id"]
    from_report = [int(ids.loc[key]) for key in sorted(by_params)]
    return (
        sorted(best["run_id"]),
        from_report,
        sorted(_default_curves(runs, best)),
        [by_params[key] for key in sorted(by_params)],
    )


def test_the_runner_report_and_dashboard_pick_the_same_best_search_run(url: str):
    runs = report.runs(url, "pick")
    by_f1 = sorted(runs.loc[runs["trial_number"] == 1, "run_id"])
    # Unmarked (a study still searching): the objective (macro-F1) decides, not accuracy.
    stats_pick, report_pick, dashboard_pick, val_scores = _picks(url)
    assert stats_pick == report_pick == dashboard_pick == by_f1
    assert val_scores == [0.90, 0.90]  # the picked runs' accuracy, not the highest accuracy
    # The runner stores what it confirmed; everyone reads that pick.
    by_accuracy = sorted(runs.loc[runs["trial_number"] == 0, "run_id"])
    with open_store(url) as store:
        for run_id in by_accuracy:
            store.mark_best_search(run_id)
    stats_pick, report_pick, dashboard_pick, val_scores = _picks(url)
    assert stats_pick == report_pick == dashboard_pick == by_accuracy
    assert val_scores == [0.95, 0.95]
    # The runner itself decides afresh (a top-up search may have found a better run).
    fresh = stats.best_search_runs(report.runs(url, "pick"), "val_macro_f1", stored=False)
    assert sorted(fresh["run_id"]) == by_f1


def test_the_progress_table_shows_the_best_search_value_of_the_objective(url: str):
    from polybench.config import parse_study
    from polybench.runner import build_plan, progress_frame

    frame = progress_frame(report.runs(url, "pick"), build_plan(parse_study(STUDY)))
    assert list(frame["best_value"]) == [0.80, 0.80]  # macro-F1, the objective
