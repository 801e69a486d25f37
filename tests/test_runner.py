"""The study runner against real databases: budgets, resume, retries, interrupts, workers.

Studies are scaled down (digits, a few hundred images, 1-3 epochs, 1 thread) so that each
test trains for seconds; the expected run counts are computed here from the study file's
numbers, not taken from the runner's own plan.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState, create_trial

from polybench.db import open_store
from polybench.runner import build_plan, run_study, study_status
from polybench.runner._trials import (
    CONFIRM_PARAMS,
    CONFIRM_SEED,
    ORIGIN,
    SKIPPED,
    over_budget,
    slot_counts,
)

CLI = [sys.executable, "-c", "from polybench.cli import main; main()"]


def study_file(
    tmp_path: Path,
    *,
    name: str = "tiny",
    trials: int = 2,
    seeds: int = 2,
    epochs: int = 1,
    subsample: float = 0.3,
    extra: str = "",
    tune: str = "",
    sampler: str = "random",
    pruner: str = "none",
) -> Path:
    """A small study: cross_entropy (nothing to tune: 1 trial) and poly1_cross_entropy."""
    text = f"""\
        name: {name}
        seed: 0
        threads: 1
        heartbeat: {{interval_seconds: 1, grace_seconds: 2}}
        tasks:
          - task: digits
            model: small_cnn
            subsample: {subsample}
            epochs: {epochs}
        losses:
          - loss: cross_entropy
          - loss: poly1_cross_entropy
            search: {{epsilon: {{low: -1.0, high: 4.0}}}}
        search: {{trials: {trials}, sampler: {sampler}, pruner: {pruner}}}
        confirm: {{seeds: {seeds}}}
        """
    text = textwrap.dedent(text) + textwrap.dedent(tune) + textwrap.dedent(extra)
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def expected_runs(trials: int, seeds: int, losses_with_space: int = 1) -> int:
    """cross_entropy: 1 search trial; each loss with a space: `trials`; every loss: seeds."""
    return 1 + losses_with_space * trials + 2 * seeds


def optuna_trials(url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)


def test_run_stores_every_planned_run_and_rerun_adds_none(tmp_path: Path, sqlite_url: str):
    path = study_file(tmp_path, trials=2, seeds=2)
    summary = run_study(path, storage=sqlite_url, progress=False)
    assert summary.planned_runs == expected_runs(2, 2) == 7
    with open_store(sqlite_url) as store:
        runs = store.runs(study="tiny")
    assert len(runs) == 7
    assert set(runs["state"]) <= {"complete", "pruned"}
    assert (runs["phase"] == "search").sum() == 3 and (runs["phase"] == "confirm").sum() == 4
    # Confirm runs: seeds study seed + 1000 + i, scored on the test split.
    confirm = runs[runs["phase"] == "confirm"]
    assert sorted(confirm["seed"]) == [1000, 1000, 1001, 1001]
    assert confirm["test_accuracy"].between(0, 1).all()
    # Each confirm run trains the best search parameters of its loss.
    poly = runs[(runs["loss"] == "poly1_cross_entropy") & (runs["phase"] == "search")]
    best = poly.loc[poly["val_accuracy"].idxmax(), "param_epsilon"]
    confirmed = confirm[confirm["loss"] == "poly1_cross_entropy"]["param_epsilon"]
    assert (confirmed == best).all()
    # Search trials ran with the study seed; Optuna holds one trial per run.
    assert (runs[runs["phase"] == "search"]["seed"] == 0).all()
    assert len(optuna_trials(sqlite_url, "tiny/digits/poly1_cross_entropy")) == 2
    assert len(optuna_trials(sqlite_url, "tiny/digits/poly1_cross_entropy/confirm")) == 2
    assert summary.complete and summary.table is not None and len(summary.table) == 2

    again = run_study(path, storage=sqlite_url, progress=False)
    with open_store(sqlite_url) as store:
        after = store.runs(study="tiny")
    assert list(after["run_id"]) == list(runs["run_id"])
    assert list(after["finished_at"]) == list(runs["finished_at"])
    assert again.stored_runs == 7 and again.complete

    # A larger budget in the file tops the search up; nothing finished is run again.
    bigger = study_file(tmp_path, trials=3, seeds=2)
    run_study(bigger, storage=sqlite_url, progress=False)
    with open_store(sqlite_url) as store:
        topped = store.runs(study="tiny")
    search = topped[(topped["phase"] == "search") & (topped["loss"] == "poly1_cross_entropy")]
    assert len(search) == 3
    assert set(runs["run_id"]) <= set(topped["run_id"])
    kept = topped.set_index("run_id").loc[list(runs["run_id"]), "finished_at"]
    assert list(kept) == list(runs["finished_at"])

    status = study_status(sqlite_url, "tiny")
    assert list(status["search_done"]) == [1, 3] and list(status["search_planned"]) == [1, 3]
    listing = study_status(sqlite_url)
    assert list(listing["study"]) == ["tiny"] and listing.loc[0, "runs"] == len(topped)


def test_diverging_trial_is_recorded_failed_and_the_study_goes_on(tmp_path: Path, sqlite_url: str):
    # lr 1e30 makes the loss NaN at once; the grid runs it next to a sane lr for every loss.
    path = study_file(
        tmp_path,
        name="diverge",
        sampler="grid",
        trials=2,
        seeds=1,
        tune="tune: {lr: {values: [3.0e-3, 1.0e+30]}}\n",
    )
    path.write_text(path.read_text().replace("{low: -1.0, high: 4.0}", "{values: [1.0]}"))
    run_study(path, storage=sqlite_url, progress=False)
    with open_store(sqlite_url) as store:
        runs = store.runs(study="diverge")
    search = runs[runs["phase"] == "search"]
    failed = search[search["state"] == "failed"]
    assert len(search) == 4 and len(failed) == 2
    assert (failed["param_lr"] == 1e30).all()
    assert failed["failure_reason"].str.contains("nan").all()
    # The study went on: every loss confirmed its best (finite) setting.
    confirm = runs[runs["phase"] == "confirm"]
    assert len(confirm) == 2 and (confirm["state"] == "complete").all()
    assert (confirm["param_lr"] == 3e-3).all()
    trials = optuna_trials(sqlite_url, "diverge/digits/poly1_cross_entropy")
    assert sorted(t.state.name for t in trials) == ["COMPLETE", "FAIL"]


def test_duplicate_confirm_seeds_from_racing_workers_run_once(tmp_path: Path, sqlite_url: str):
    path = study_file(tmp_path, name="race", trials=1, seeds=1)
    run_study(path, storage=sqlite_url, progress=False)
    name = "race/digits/poly1_cross_entropy/confirm"
    confirm = optuna.load_study(study_name=name, storage=sqlite_url)
    first = confirm.get_trials()[0]
    # Two workers that both saw seed 1001 missing enqueue it at the same moment:
    for _ in range(2):
        confirm.enqueue_trial(
            first.params,
            user_attrs={CONFIRM_SEED: 1001, CONFIRM_PARAMS: first.user_attrs[CONFIRM_PARAMS]},
        )
    run_study(study_file(tmp_path, name="race", trials=1, seeds=2), sqlite_url, progress=False)
    with open_store(sqlite_url) as store:
        runs = store.runs(study="race", loss="poly1_cross_entropy", phase="confirm")
    assert sorted(runs["seed"]) == [1000, 1001]
    trials = confirm.get_trials()
    skipped = [t for t in trials if SKIPPED in t.user_attrs]
    assert len(trials) == 3 and len(skipped) == 1 and skipped[0].state == TrialState.FAIL


def test_slot_counting_on_real_trials(tmp_path: Path, sqlite_url: str):
    study = optuna.create_study(study_name="slots", storage=sqlite_url)
    study.add_trial(create_trial(state=TrialState.COMPLETE, value=0.5))
    study.add_trial(create_trial(state=TrialState.FAIL))  # its worker died ...
    study.add_trial(create_trial(state=TrialState.WAITING, user_attrs={ORIGIN: 1}))  # ... retry
    study.add_trial(create_trial(state=TrialState.FAIL, user_attrs={SKIPPED: "budget full"}))
    trials = study.get_trials(deepcopy=False)
    counts = slot_counts(trials)
    assert (counts.used, counts.finished, counts.waiting, counts.complete) == (2, 1, 1, 1)
    # A fresh trial arriving now finds two slots opened: within a budget of 3, not of 2.
    newest = trials[-1]._trial_id + 1
    assert not over_budget(trials, newest, 3)
    assert over_budget(trials, newest, 2)


def _start(path: Path, url: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*CLI, "run", str(path), "--storage", url, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )


def _wait_for_running_run(url: str, study: str, process: subprocess.Popen) -> None:
    """Wait until a run is mid-training (an epoch written, not finished) after one finished."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            with open_store(url) as store:
                runs = store.runs(study=study)
        except Exception:
            runs = None
        if runs is not None and len(runs):
            running = runs[(runs["state"] == "running") & (runs["epochs_done"] >= 1)]
            if (runs["state"] == "complete").any() and len(running):
                return
        time.sleep(0.05)
    pytest.fail("no run reached mid-training in time")


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_the_next_run_resumes(tmp_path: Path, sqlite_url: str):
    path = study_file(tmp_path, name="stop", trials=2, seeds=1, epochs=4, subsample=0.5)
    process = _start(path, sqlite_url)
    _wait_for_running_run(sqlite_url, "stop", process)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output
    assert "run the same command again to resume" in output
    with open_store(sqlite_url) as store:
        runs = store.runs(study="stop")
    assert not (runs["state"] == "running").any()
    interrupted = runs[runs["state"] == "failed"]
    assert len(interrupted) == 1
    assert "interrupted" in interrupted["failure_reason"].iloc[0]

    summary = run_study(path, storage=sqlite_url, progress=False)
    with open_store(sqlite_url) as store:
        final = store.runs(study="stop")
    assert len(final) == expected_runs(2, 1) == summary.planned_runs
    assert set(final["state"]) == {"complete"}
    # The interrupted run's row was reused by its retry.
    assert interrupted["run_id"].iloc[0] in set(final["run_id"])


@pytest.mark.slow
def test_sigkill_mid_study_then_rerun_ends_with_exactly_the_planned_runs(
    tmp_path: Path, sqlite_url: str
):
    path = study_file(tmp_path, name="killed", trials=2, seeds=1, epochs=4, subsample=0.5)
    process = _start(path, sqlite_url)
    _wait_for_running_run(sqlite_url, "killed", process)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    with open_store(sqlite_url) as store:
        killed = store.runs(study="killed")
    assert (killed["state"] == "running").sum() == 1

    # The rerun waits for the dead trial's heartbeat to go stale (2 s), then retries it.
    summary = run_study(path, storage=sqlite_url, progress=False)
    with open_store(sqlite_url) as store:
        final = store.runs(study="killed")
    assert len(final) == expected_runs(2, 1) == summary.planned_runs
    assert set(final["state"]) == {"complete"}
    stale = [
        t
        for loss in ("cross_entropy", "poly1_cross_entropy")
        for name in (f"killed/digits/{loss}", f"killed/digits/{loss}/confirm")
        for t in optuna_trials(sqlite_url, name)
        if t.state == TrialState.FAIL
    ]
    # Exactly one trial died; its heartbeat went stale and its retry reused the run row.
    assert len(stale) == 1
    retry = [
        t
        for loss in ("cross_entropy", "poly1_cross_entropy")
        for name in (f"killed/digits/{loss}", f"killed/digits/{loss}/confirm")
        for t in optuna_trials(sqlite_url, name)
        if t.user_attrs.get(ORIGIN) == stale[0].number and t.state == TrialState.COMPLETE
    ]
    assert len(retry) == 1 and retry[0].user_attrs["run_id"] == stale[0].user_attrs["run_id"]


@pytest.mark.slow
@pytest.mark.postgres
def test_two_workers_on_postgresql_give_the_planned_counts(tmp_path: Path, pg_url: str):
    path = study_file(tmp_path, name="pair", trials=3, seeds=2)
    summary = run_study(path, storage=pg_url, workers=2, progress=False)
    assert summary.worker_exit_codes == (0, 0)
    with open_store(pg_url) as store:
        runs = store.runs(study="pair")
    assert len(runs) == expected_runs(3, 2) == summary.planned_runs
    assert set(runs["state"]) <= {"complete", "pruned"}
    assert sorted(runs[runs["phase"] == "confirm"]["seed"]) == [1000, 1000, 1001, 1001]
    # Skipped trials (lost races) stored no run; every other trial has exactly one.
    for name in ("pair/digits/poly1_cross_entropy", "pair/digits/poly1_cross_entropy/confirm"):
        kept = [t for t in optuna_trials(pg_url, name) if SKIPPED not in t.user_attrs]
        assert len(kept) == (3 if not name.endswith("confirm") else 2)
    again = run_study(path, storage=pg_url, workers=2, progress=False)
    assert again.stored_runs == summary.planned_runs


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path: Path):
    from typer.testing import CliRunner

    from polybench.cli import app

    path = study_file(tmp_path, trials=5, seeds=3)
    url = f"sqlite:///{tmp_path / 'untouched.db'}"
    result = CliRunner().invoke(app, ["run", str(path), "--storage", url, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "poly1_cross_entropy: 5 trial(s) over epsilon in [-1, 4]" in result.output
    assert f"= {1 + 5 + 2 * 3} run(s)" in result.output
    assert not (tmp_path / "untouched.db").exists()


def test_cli_reports_a_bad_study_file_with_exit_code_2(tmp_path: Path):
    from typer.testing import CliRunner

    from polybench.cli import app

    path = study_file(tmp_path)
    path.write_text(path.read_text().replace("poly1_cross_entropy", "poly1_cross_entropi"))
    result = CliRunner().invoke(app, ["run", str(path), "--dry-run"])
    assert result.exit_code == 2
    assert "losses[1].loss" in result.output and "'poly1_cross_entropy'" in result.output


STUDIES = Path(__file__).resolve().parent.parent / "studies"


@pytest.mark.parametrize("study", sorted(STUDIES.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_studies_validate_and_plan(study: Path):
    from polybench.config import load_study

    config = load_study(study)
    plan = build_plan(config)
    assert config.name == study.stem
    assert plan.planned_runs == sum(p.trials + len(p.confirm_seeds) for p in plan.pairs) > 0


def test_optuna_studies_carry_the_metric_names(tmp_path: Path, sqlite_url: str):
    """optuna-dashboard and `optuna studies` label objectives by `study.metric_names`."""
    run_study(study_file(tmp_path, trials=1, seeds=1), storage=sqlite_url, progress=False)
    for suffix, names in (("", ["val_accuracy"]), ("/confirm", ["test_accuracy"])):
        for loss in ("cross_entropy", "poly1_cross_entropy"):
            study = optuna.load_study(study_name=f"tiny/digits/{loss}{suffix}", storage=sqlite_url)
            assert study.metric_names == names
