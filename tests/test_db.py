"""The results database against real SQLite files and the real PostgreSQL server.

Every test gets its own database (SQLite file) or schema (PostgreSQL) from tests/conftest.py.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path

import _db_workers
import pandas as pd
import pytest
from sqlalchemy import Engine, create_engine, event, inspect, text
from typer.testing import CliRunner

from polybench.cli import app
from polybench.db import (
    EPOCH_COLUMNS,
    RUN_COLUMNS,
    STUDY_COLUMNS,
    VERSION_TABLE,
    StorageError,
    head_revision,
    open_store,
    resolve_storage_url,
    sqlalchemy_url,
)

POLYBENCH_TABLES = {"polybench_study", "polybench_run", "polybench_epoch", "polybench_loss_cost"}
ENVIRONMENT = {
    "host": "bench-01",
    "device": "cpu",
    "torch_version": "2.5.0",
    "threads": 2,
    "git_commit": "abc123",
}


def _tables(url: str) -> set[str]:
    engine = create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def _scalar(url: str, sql: str) -> object:
    engine = create_engine(sqlalchemy_url(url))
    try:
        with engine.begin() as connection:
            result = connection.execute(text(sql))
            return result.scalar() if result.returns_rows else None
    finally:
        engine.dispose()


def _start(store, trial: int, *, loss: str = "focal", params=None, **overrides) -> int:
    arguments = {
        "study": "s",
        "task": "digits",
        "model": "small_cnn",
        "loss": loss,
        "params": {"gamma": 2.0} if params is None else params,
        "seed": 0,
        "phase": "search",
        "optuna_study": f"s/digits/{loss}",
        "trial_number": trial,
        "environment": ENVIRONMENT,
    }
    arguments.update(overrides)
    return store.start_run(**arguments)


def _finish(store, run_id: int, val_accuracy: float, state: str = "complete") -> None:
    store.finish_run(
        run_id,
        state=state,
        metrics={"val_accuracy": val_accuracy, "val_loss": 1.0 - val_accuracy},
        train_throughput=1000.0,
        eval_throughput=5000.0,
        wall_time=12.5,
        epochs_done=3,
    )


# ---- storage URLs -------------------------------------------------------------------------------


def test_storage_url_is_option_then_environment_then_local_sqlite(monkeypatch, tmp_path):
    monkeypatch.delenv("POLYBENCH_STORAGE", raising=False)
    assert resolve_storage_url(None) == "sqlite:///polybench.db"
    monkeypatch.setenv("POLYBENCH_STORAGE", "sqlite:///from_env.db")
    assert resolve_storage_url(None) == "sqlite:///from_env.db"
    assert resolve_storage_url("sqlite:///given.db") == "sqlite:///given.db"
    # users type postgresql://; polybench and Optuna both get psycopg 3
    assert (
        resolve_storage_url("postgresql://u:p%40ss@db:5432/x")
        == "postgresql+psycopg://u:p%40ss@db:5432/x"
    )
    assert sqlalchemy_url("postgres://u@db/x") == "postgresql+psycopg://u@db/x"


def test_default_storage_is_polybench_db_in_working_directory(tmp_path):
    environment = {k: v for k, v in os.environ.items() if k != "POLYBENCH_STORAGE"}
    polybench = Path(sys.executable).with_name("polybench")
    done = subprocess.run(
        [str(polybench), "db", "upgrade"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"revision {head_revision()} (head)" in done.stdout
    assert _tables(f"sqlite:///{tmp_path / 'polybench.db'}") == POLYBENCH_TABLES | {VERSION_TABLE}


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("not a url at all:hunter2@", "cannot parse storage URL"),
        ("postgresql://bench:hunter2@127.0.0.1:1/results", "Connection refused"),
        ("mysql://bench:hunter2@db/results", "backend 'mysql' is not supported"),
        ("sqlite:////nonexistent-polybench-dir/x.db", "unable to open database file"),
    ],
)
def test_bad_url_is_one_clear_line_without_password(url, reason):
    with pytest.raises(StorageError) as raised:
        open_store(url)
    message = str(raised.value)
    assert reason in message
    assert "hunter2" not in message
    assert "\n" not in message
    result = CliRunner().invoke(app, ["db", "upgrade", "--storage", url])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert result.output.startswith("Error: ") and reason in result.output
    assert "hunter2" not in result.output and "Traceback" not in result.output


# ---- migrations ---------------------------------------------------------------------------------


def test_upgrade_creates_exactly_polybench_tables(storage_url):
    runner = CliRunner()
    before = runner.invoke(app, ["db", "current", "--storage", storage_url])
    assert before.exit_code == 0, before.output
    assert "no " in before.output  # no database / no polybench tables yet
    result = runner.invoke(app, ["db", "upgrade", "--storage", storage_url])
    assert result.exit_code == 0, result.output
    assert _tables(storage_url) == POLYBENCH_TABLES | {VERSION_TABLE}
    assert _scalar(storage_url, f"SELECT version_num FROM {VERSION_TABLE}") == head_revision()
    after = runner.invoke(app, ["db", "current", "--storage", storage_url])
    assert f"revision {head_revision()} (head)" in after.output
    assert "alembic_version" not in _tables(storage_url)  # Optuna's name stays free


def test_downgrade_and_upgrade_keep_data_and_a_behind_database_says_what_to_run(storage_url):
    with open_store(storage_url) as store:
        store.ensure_study("s", "name: s\n")
        for trial in range(3):
            run_id = _start(store, trial, params={"gamma": float(trial)})
            store.record_epoch(run_id, 0, 1.0, 0.9, 0.5, 0.1, 2.0, 900.0)
            _finish(store, run_id, 0.5 + trial / 10)
        runs, epochs = store.runs(), store.epochs()

    runner = CliRunner()
    result = runner.invoke(app, ["db", "downgrade", "0001", "--storage", storage_url])
    assert result.exit_code == 0, result.output
    assert "revision 0001" in result.output
    assert _scalar(storage_url, "SELECT count(*) FROM polybench_run") == 3

    with pytest.raises(StorageError, match="behind") as raised:
        open_store(storage_url)
    assert "polybench db upgrade --storage" in str(raised.value)

    assert runner.invoke(app, ["db", "upgrade", "--storage", storage_url]).exit_code == 0
    with open_store(storage_url) as store:
        assert store.runs().equals(runs)
        assert store.epochs().equals(epochs)


def test_upgrade_from_0002_adds_epoch_metrics_and_seeds_and_keeps_rows(storage_url):
    """A database of the previous schema (0002) keeps its runs and epochs; the new columns
    (every validation metric per epoch, the init/order/data seeds of a run) start empty."""
    runner = CliRunner()
    result = runner.invoke(app, ["db", "upgrade", "0002", "--storage", storage_url])
    assert result.exit_code == 0, result.output
    _scalar(
        storage_url,
        "INSERT INTO polybench_study (name, config_text, created_at, polybench_version) "
        "VALUES ('old', 'name: old', '2025-11-30 12:00:00+00:00', '0.1')",
    )
    _scalar(
        storage_url,
        "INSERT INTO polybench_run (study_id, task, model, loss, params, seed, phase, state, "
        "epochs_done, started_at, val_accuracy, test_accuracy) SELECT id, 'digits', "
        "'small_cnn', 'focal', '{}', 0, 'search', 'complete', 1, '2025-11-30 12:00:00+00:00', "
        "0.9, 0.8 FROM polybench_study",
    )
    _scalar(
        storage_url,
        "INSERT INTO polybench_epoch (run_id, epoch, train_loss, val_loss, val_accuracy) "
        "SELECT id, 1, 0.5, 0.4, 0.9 FROM polybench_run",
    )
    assert runner.invoke(app, ["db", "upgrade", "--storage", storage_url]).exit_code == 0
    with open_store(storage_url) as store:
        runs, epochs = store.runs(), store.epochs()
        assert list(runs["val_accuracy"]) == [0.9] and list(runs["test_accuracy"]) == [0.8]
        assert runs[["init_seed", "order_seed", "data_seed"]].isna().all().all()
        assert list(epochs["val_accuracy"]) == [0.9]
        assert epochs[["val_macro_f1", "val_balanced_accuracy", "val_ece"]].isna().all().all()
        # The upgraded database takes the new values.
        old_id = int(runs["run_id"].iloc[0])
        store.record_epoch(
            old_id, 2, 0.3, 0.3, 0.95, 0.1, 1.0, 10.0, val_macro_f1=0.91, val_ece=0.02
        )
        seeds = {"init_seed": 5, "order_seed": 6, "data_seed": 7}
        run_id = _start(store, 7, study="old", seeds=seeds)
        again = store.epochs()
        assert list(again["val_macro_f1"].fillna(-1)) == [-1, 0.91]
        seeds = store.runs().set_index("run_id").loc[run_id, ["init_seed", "order_seed"]]
        assert list(seeds) == [5, 6]
    # Back down to 0002 and up again: the rows survive (SQLite must not cascade-delete epochs).
    assert runner.invoke(app, ["db", "downgrade", "0002", "--storage", storage_url]).exit_code == 0
    assert _scalar(storage_url, "SELECT count(*) FROM polybench_epoch") == 2
    assert runner.invoke(app, ["db", "upgrade", "--storage", storage_url]).exit_code == 0


def test_upgrade_from_0004_adds_an_unmarked_best_search_and_marks_one_run_per_search(
    storage_url,
):
    """0005: the search run whose parameters were confirmed is stored. Older runs start
    unmarked; marking a run unmarks the other search runs of its Optuna study only."""
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade", "0004", "--storage", storage_url]).exit_code == 0
    _scalar(
        storage_url,
        "INSERT INTO polybench_study (name, config_text, created_at, polybench_version) "
        "VALUES ('s', 'name: s', '2025-11-30 12:00:00+00:00', '0.1')",
    )
    _scalar(
        storage_url,
        "INSERT INTO polybench_run (study_id, task, model, loss, params, seed, phase, state, "
        "optuna_study, trial_number, epochs_done, started_at, val_accuracy) SELECT id, "
        "'digits', 'small_cnn', 'focal', '{}', 0, 'search', 'complete', 's/digits/focal', 0, 1, "
        "'2025-11-30 12:00:00+00:00', 0.9 FROM polybench_study",
    )
    assert runner.invoke(app, ["db", "upgrade", "--storage", storage_url]).exit_code == 0
    with open_store(storage_url) as store:
        old = int(store.runs()["run_id"].iloc[0])
        newer = _start(store, 1)
        other_loss = _start(store, 0, loss="poly1_cross_entropy", params={})
        for run_id in (newer, other_loss):
            _finish(store, run_id, 0.8)
        assert not store.runs()["best_search"].any()
        store.mark_best_search(other_loss)
        store.mark_best_search(old)
        store.mark_best_search(newer)
        marked = store.runs().set_index("run_id")["best_search"]
        assert marked.to_dict() == {old: False, newer: True, other_loss: True}
    assert runner.invoke(app, ["db", "downgrade", "0004", "--storage", storage_url]).exit_code == 0
    assert _scalar(storage_url, "SELECT count(*) FROM polybench_run") == 3
    assert runner.invoke(app, ["db", "upgrade", "--storage", storage_url]).exit_code == 0


def test_database_from_a_newer_polybench_is_refused(storage_url):
    open_store(storage_url).close()
    _scalar(storage_url, f"UPDATE {VERSION_TABLE} SET version_num = '9999'")
    with pytest.raises(StorageError, match="newer polybench"):
        open_store(storage_url)


def test_first_use_racing_another_process_that_commits_between_its_reads(storage_url, monkeypatch):
    """Two processes open one empty database. The first reads "no revision"; the other one
    then creates and commits the tables; the first's next read sees tables. It must not call
    that an unknown schema (CI saw this on PostgreSQL with four processes starting together)."""
    from polybench.db import _migrations

    real = _migrations.current_revision
    other_process_done = False

    def revision_then_the_other_process_commits(connection):
        nonlocal other_process_done
        revision = real(connection)
        if not other_process_done:
            other_process_done = True
            assert _migrations.upgrade(storage_url).is_current  # the other process, committed
        return revision

    monkeypatch.setattr(_migrations, "current_revision", revision_then_the_other_process_commits)
    with open_store(storage_url) as store:
        store.ensure_study("race", "")
    assert other_process_done
    assert _scalar(storage_url, f"SELECT version_num FROM {VERSION_TABLE}") == head_revision()


def test_polybench_and_optuna_share_a_database(storage_url):
    import optuna
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from polybench.db._models import Base, include_name

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = sqlalchemy_url(storage_url)
    study = optuna.create_study(storage=url, study_name="s/digits/focal")
    study.optimize(lambda trial: trial.suggest_float("gamma", 0.0, 5.0) ** 2, n_trials=3)
    optuna_tables = _tables(url)
    optuna_version = _scalar(url, "SELECT version_num FROM alembic_version")
    assert "trials" in optuna_tables

    with open_store(url) as store:  # first use migrates, next to Optuna's tables
        store.ensure_study("s", "")
        _finish(store, _start(store, 0), 0.9)
    assert _tables(url) == optuna_tables | POLYBENCH_TABLES | {VERSION_TABLE}
    assert _scalar(url, "SELECT version_num FROM alembic_version") == optuna_version

    engine = create_engine(url)
    with engine.connect() as connection:  # the models and the migrations agree
        context = MigrationContext.configure(connection, opts={"include_name": include_name})
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()

    result = CliRunner().invoke(app, ["db", "downgrade", "base", "--storage", url])
    assert result.exit_code == 0, result.output
    assert _tables(url) == optuna_tables | {VERSION_TABLE}
    reloaded = optuna.load_study(storage=url, study_name="s/digits/focal")
    assert [t.params for t in reloaded.trials] == [t.params for t in study.trials]
    assert reloaded.best_value == study.best_value
    assert CliRunner().invoke(app, ["db", "upgrade", "--storage", url]).exit_code == 0
    assert _tables(url) == optuna_tables | POLYBENCH_TABLES | {VERSION_TABLE}


# ---- writes -------------------------------------------------------------------------------------


def test_same_optuna_trial_twice_updates_one_run(store):
    store.ensure_study("s", "v1")
    first = _start(store, 7, params={"gamma": 1.0})
    for epoch in range(3):
        store.record_epoch(first, epoch, 1.0 / (epoch + 1), 0.8, 0.6, 0.01, 1.5, 800.0)
    store.record_epoch(first, 2, 0.25, 0.7, 0.65, 0.01, 1.5, 810.0)  # epoch 2 again: replaced
    epochs = store.epochs(run_ids=[first])
    assert epochs.epoch.tolist() == [0, 1, 2]
    assert epochs.train_loss.tolist() == [1.0, 0.5, 0.25]
    assert store.runs().epochs_done.tolist() == [3]
    _finish(store, first, 0.61, state="failed")

    again = _start(store, 7, params={"gamma": 3.0}, seed=1)
    assert again == first
    runs = store.runs()
    assert len(runs) == 1
    row = runs.iloc[0]
    assert (row.state, row.seed, row.param_gamma, row.epochs_done) == ("running", 1, 3.0, 0)
    assert math.isnan(row.val_accuracy) and pd.isna(row.finished_at)
    assert store.epochs(run_ids=[first]).empty

    other = _start(store, 8)
    assert other != first
    no_trial = [_start(store, None, optuna_study=None) for _ in range(2)]
    assert len(set(no_trial)) == 2  # runs outside Optuna never merge
    assert len(store.runs()) == 4


def test_ensure_study_keeps_creation_time_and_takes_new_text(store):
    store.ensure_study("s", "trials: 10\n")
    created = store.studies().created_at.iloc[0]
    store.ensure_study("s", "trials: 20\n")
    studies = store.studies()
    assert list(studies.columns) == list(STUDY_COLUMNS)
    assert studies.study.tolist() == ["s"] and studies.runs.tolist() == [0]
    assert studies.config_text.tolist() == ["trials: 20\n"]
    assert studies.created_at.iloc[0] == created


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda s: _start(s, 0, phase="serach"),
            "Unknown phase 'serach'; allowed: search, confirm. Did you mean 'search'?",
        ),
        (lambda s: _start(s, 0, study="sx"), "study 'sx' is not in"),
        (lambda s: _start(s, 0, environment={"hots": "x"}), "Did you mean 'host'?"),
        (lambda s: _start(s, 0, params={"gamma": math.nan}), "cannot be stored as JSON"),
        (lambda s: _finish(s, 999, 0.5), "run_id 999 is not a run"),
        (lambda s: s.record_epoch(999, 0, 1, 1, 1, 1, 1, 1), "run_id 999 is not a run"),
        (
            lambda s: _finish(s, _start(s, 0), 0.5, state="done"),
            "allowed: complete, pruned, failed",
        ),
        (
            lambda s: s.finish_run(
                _start(s, 0),
                state="complete",
                metrics={"val_acc": 1.0},
                train_throughput=1.0,
                eval_throughput=1.0,
                wall_time=1.0,
                epochs_done=1,
            ),
            "has no metric 'val_acc'; allowed: val_accuracy,",
        ),
    ],
)
def test_bad_writes_say_what_is_allowed(sqlite_url, call, message):
    with open_store(sqlite_url) as store:
        store.ensure_study("s", "")
        with pytest.raises(ValueError) as raised:
            call(store)
        assert message in str(raised.value)


def test_killed_run_still_shows_its_curve(storage_url):
    with open_store(storage_url) as store:
        store.ensure_study("s", "")
    worker = multiprocessing.get_context("spawn").Process(
        target=_db_workers.killed_mid_run, args=(storage_url,)
    )
    worker.start()
    worker.join(120)
    assert worker.exitcode == -signal.SIGKILL
    with open_store(storage_url) as store:
        runs = store.runs()
        assert runs.state.tolist() == ["running"] and runs.epochs_done.tolist() == [2]
        curve = store.epochs(study="s")
        assert curve.train_loss.tolist() == [2.0, 1.0]
        assert curve.val_accuracy.tolist() == pytest.approx([0.4, 0.5])


# ---- reads --------------------------------------------------------------------------------------


def test_runs_frame_has_stable_columns_dtypes_and_sql_filters(store):
    store.ensure_study("s", "")
    store.ensure_study("other", "")
    written = []
    for trial, (loss, phase, params) in enumerate(
        [
            ("focal", "search", {"gamma": 2.0}),
            ("poly1_focal", "search", {"gamma": 1.0, "epsilon": -1.0}),
            ("poly1_focal", "confirm", {"gamma": 1.0, "epsilon": -1.0, "optimizer": "adamw"}),
            ("cross_entropy", "confirm", {}),
        ]
    ):
        run_id = _start(store, trial, loss=loss, params=params, phase=phase, seed=trial)
        if trial != 3:
            _finish(store, run_id, 0.8 + trial / 100, state="complete" if trial else "pruned")
        written.append({"run_id": run_id, "loss": loss, "phase": phase, "params": params})
    _start(store, 0, study="other", task="mnist", optuna_study="other/mnist/focal")

    everything = store.runs()
    params_columns = ["param_epsilon", "param_gamma", "param_optimizer"]
    assert list(everything.columns) == list(RUN_COLUMNS) + params_columns
    expected_dtypes = {**RUN_COLUMNS, **dict.fromkeys(params_columns, "float64")}
    assert {k: str(v) for k, v in everything.dtypes.items()} == expected_dtypes
    assert everything.run_id.is_monotonic_increasing and len(everything) == 5

    runs = store.runs(study="s")
    assert runs.run_id.tolist() == [w["run_id"] for w in written]
    assert [json.loads(p) for p in runs.params] == [w["params"] for w in written]
    assert runs.param_gamma.tolist()[:3] == [2.0, 1.0, 1.0] and math.isnan(runs.param_gamma[3])
    assert runs.param_optimizer.isna().all()  # not a number: NaN, the text stays in params
    assert runs.state.tolist() == ["pruned", "complete", "complete", "running"]
    assert runs.val_accuracy.tolist()[:3] == [0.8 + trial / 100 for trial in range(3)]
    assert runs.host.eq("bench-01").all() and runs.threads.eq(2).all()
    assert runs.finished_at.isna().tolist() == [False, False, False, True]
    assert (runs.started_at <= runs.finished_at.fillna(runs.started_at)).all()

    def expected(**wanted):
        return [
            w["run_id"]
            for w in written
            if all(w[key] in (v if isinstance(v, list) else [v]) for key, v in wanted.items())
        ]

    assert store.runs(study="s", loss="poly1_focal").run_id.tolist() == expected(loss="poly1_focal")
    assert store.runs(study="s", phase="confirm").run_id.tolist() == expected(phase="confirm")
    assert store.runs(loss=["focal", "cross_entropy"], study="s").run_id.tolist() == expected(
        loss=["focal", "cross_entropy"]
    )
    assert store.runs(task="mnist").study.tolist() == ["other"]
    assert store.runs(state="running", study="s").run_id.tolist() == [written[3]["run_id"]]

    empty = store.runs(study="nope")
    assert list(empty.columns) == list(RUN_COLUMNS)
    assert {k: str(v) for k, v in empty.dtypes.items()} == RUN_COLUMNS
    assert {k: str(v) for k, v in store.epochs(study="nope").dtypes.items()} == EPOCH_COLUMNS


def test_reads_filter_in_sql(store):
    store.ensure_study("s", "")
    for trial in range(4):
        _start(store, trial, loss="focal" if trial % 2 else "cross_entropy")
    statements: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", capture)
    try:
        runs = store.runs(study="s", loss="focal", phase="search")
        epochs = store.epochs(study="s", run_ids=range(5000))
    finally:
        event.remove(Engine, "before_cursor_execute", capture)
    assert len(runs) == 2
    assert epochs.empty
    selects = [s for s, _ in statements if s.lstrip().upper().startswith("SELECT")]
    runs_sql = selects[0]
    for column in ("polybench_study.name", "polybench_run.loss", "polybench_run.phase"):
        assert column in runs_sql.split("WHERE", 1)[1]
    assert len(selects) == 1 + 10  # run_ids are sent in chunks of 500, not loaded and filtered


# ---- many writers -------------------------------------------------------------------------------

WORKERS, RUNS_PER_WORKER, SHARED_TRIALS, EPOCHS = (
    _db_workers.WORKERS,
    _db_workers.RUNS_PER_WORKER,
    _db_workers.SHARED_TRIALS,
    _db_workers.EPOCHS,
)


def test_four_processes_write_at_once_without_lost_or_doubled_rows(storage_url):
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WORKERS)
    workers = [
        context.Process(target=_db_workers.write_runs, args=(storage_url, worker, barrier))
        for worker in range(WORKERS)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(240)
    assert [worker.exitcode for worker in workers] == [0] * WORKERS

    with open_store(storage_url) as store:
        runs = store.runs(study="race")
        epochs = store.epochs(study="race")
    assert len(runs) == WORKERS * RUNS_PER_WORKER + SHARED_TRIALS
    assert not runs.duplicated(["optuna_study", "trial_number"]).any()
    for worker in range(WORKERS):
        mine = runs[runs.optuna_study == f"race/digits/loss{worker}"]
        assert sorted(mine.trial_number) == list(range(RUNS_PER_WORKER))
        assert (mine.host == f"worker-{worker}").all()
    assert (runs.state == "complete").all() and (runs.epochs_done == EPOCHS).all()
    # every run has a complete curve; a worker's own runs carry exactly the values it wrote
    assert len(epochs) == len(runs) * EPOCHS
    assert epochs.groupby("run_id").epoch.apply(list).eq([list(range(EPOCHS))] * len(runs)).all()
    own = runs[runs.optuna_study != "race/digits/shared"]
    curves = epochs.groupby("run_id").val_accuracy.first()
    assert curves.loc[own.run_id].tolist() == own.val_accuracy.tolist()
    assert _tables(storage_url) >= POLYBENCH_TABLES | {VERSION_TABLE}


def test_readme_database_example_runs(tmp_path, monkeypatch):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("<!-- SECTION: database -->", 1)[1].split("<!-- SECTION:", 1)[0]
    (example,) = [block.split("```", 1)[0] for block in section.split("```python\n")[1:]]
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "README.md (database)", "exec"), {})
    with open_store("sqlite:///polybench.db") as store:
        runs = store.runs(study="demo")
        assert runs.state.tolist() == ["complete"] and runs.param_epsilon.tolist() == [1.0]
        assert store.epochs(run_ids=runs.run_id).val_accuracy.tolist() == [0.81]
