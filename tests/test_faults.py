"""Faults a deployment sees lose nothing: database hiccups and restarts, a killed parent,
racing first uses. Real databases only: the shared PostgreSQL server (only this test's own
connections are ever terminated, found by their application_name), SQLite files locked from
another connection, and a private PostgreSQL cluster for the restart test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import optuna
import pytest
from _procs import descendants
from conftest import CLI, start_cli_run, wait_for_mid_training
from optuna.trial import TrialState
from sqlalchemy.engine import make_url

from polybench.db import StorageError, open_store
from polybench.db._retry import StorageRetry, StorageUnavailable, is_transient

# cross_entropy and focal, 3 search trials each (every loss gets the study's budget, the baseline
# searching label_smoothing) and 2 confirm seeds each.
PLANNED = 2 * 3 + 2 * 2


def study_file(
    tmp_path: Path, name: str, epochs: int = 4, subsample: float = 0.4, heartbeat: int = 5
) -> Path:
    text = f"""\
        name: {name}
        seed: 0
        threads: 1
        heartbeat: {{interval_seconds: {heartbeat}, grace_seconds: {2 * heartbeat}}}
        tasks:
          - task: digits
            model: small_cnn
            subsample: {subsample}
            epochs: {epochs}
        losses:
          - loss: cross_entropy
          - loss: focal
            search: {{gamma: {{low: 0.5, high: 3.0}}}}
        search: {{trials: 3, sampler: random, pruner: median}}
        confirm: {{seeds: 2}}
        """
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def assert_plan_finished(url: str, study: str) -> None:
    """Exactly the planned runs, none doubled, none running, and both baselines confirmed."""
    with open_store(url) as store:
        runs = store.runs(study=study)
    assert len(runs) == PLANNED, runs[["loss", "phase", "state", "seed"]]
    shown = runs[["loss", "phase", "state", "failure_reason"]]
    assert set(runs["state"]) <= {"complete", "pruned"}, shown
    assert not runs.duplicated(["optuna_study", "trial_number"]).any()
    confirm = runs[runs["phase"] == "confirm"]
    assert sorted(confirm["loss"]) == ["cross_entropy"] * 2 + ["focal"] * 2


def spent_on_faults(url: str, name: str) -> list[int]:
    """Numbers of failed trials of Optuna study `name`, other than duplicates that skipped
    themselves (a retried enqueue whose first commit went through)."""
    from polybench.runner._trials import SKIPPED

    trials = optuna.load_study(study_name=name, storage=url).get_trials()
    return [t.number for t in trials if t.state == TrialState.FAIL and SKIPPED not in t.user_attrs]


def assert_no_slot_spent(process: subprocess.Popen, url: str, study: str, timeout: int) -> None:
    """The run ends cleanly with exactly the plan, and no Optuna trial failed on the fault."""
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output
    assert "Traceback" not in output
    assert_plan_finished(url, study)
    for loss in ("cross_entropy", "focal"):
        for name in (f"{study}/digits/{loss}", f"{study}/digits/{loss}/confirm"):
            assert not spent_on_faults(url, name), name


def terminate_backends(url: str) -> int:
    """Terminate every connection of this test's schema (never anyone else's)."""
    from conftest import _postgres_connect

    schema = make_url(url).query["application_name"]
    with _postgres_connect() as connection:
        rows = connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            (schema,),
        ).fetchall()
    return len(rows)


# What changes whenever a worker writes: epochs, run states, Optuna trials and heartbeats.
_WRITE_MARKS = (
    "SELECT (SELECT count(*) FROM polybench_epoch), "
    "(SELECT count(*) FROM polybench_run WHERE state <> 'running'), "
    "(SELECT count(*) FROM trials), (SELECT max(datetime_complete) FROM trials), "
    "(SELECT max(heartbeat) FROM trial_heartbeats)"
)


class WriteWatch:
    """Watches a study's database from a connection of its own (never one of the workers',
    so terminating those spares it) and times how long until the next write lands."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        parsed = make_url(url)
        if parsed.get_backend_name() == "postgresql":
            parsed = parsed.update_query_dict({"application_name": "polybench-test-watch"})
        self._engine = create_engine(parsed, poolclass=NullPool)

    def marks(self) -> tuple:
        from sqlalchemy import text

        with self._engine.connect() as connection:
            return tuple(connection.execute(text(_WRITE_MARKS)).one())

    def seconds_to_next_write(self, since: tuple, started: float, limit: float = 300) -> float:
        """Seconds from `started` (a time.monotonic()) until the marks differ from `since`."""
        while time.monotonic() - started < limit:
            if self.marks() != since:
                return time.monotonic() - started
            time.sleep(0.01)
        pytest.fail(f"nothing was written for {limit:g} s")

    def write_intervals(self, count: int) -> list[float]:
        """Seconds between `count` + 1 consecutive writes of an undisturbed study."""
        intervals, marks, last = [], self.marks(), time.monotonic()
        for _ in range(count):
            intervals.append(self.seconds_to_next_write(marks, last))
            marks, last = self.marks(), time.monotonic()
        return intervals

    def close(self) -> None:
        self._engine.dispose()


# -- transient faults are retried ------------------------------------------------------------


def test_a_locked_sqlite_file_is_waited_for_then_reported_in_one_line(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
):
    # SQLite's own busy wait is 30 s; shortened here so the retries above it show in seconds.
    monkeypatch.setattr("polybench.db._url.SQLITE_BUSY_TIMEOUT_S", 0.2)
    with open_store(sqlite_url, retry=StorageRetry(20)) as store:
        store.ensure_study("locked", "name: locked\n")
        run_id = store.start_run(
            study="locked", task="digits", model="small_cnn", loss="cross_entropy",
            params={}, seed=0, phase="search", optuna_study="locked/x", trial_number=0,
            environment={"host": "h"},
        )  # fmt: skip
        holder = sqlite3.connect(
            tmp_path / "polybench.db", isolation_level=None, check_same_thread=False
        )
        holder.execute("BEGIN EXCLUSIVE")
        threading.Timer(2.0, holder.rollback).start()
        started = time.monotonic()
        store.record_epoch(run_id, 1, 0.5, 0.5, 0.9, 0.1, 1.0, 100.0)  # waits, then writes
        assert time.monotonic() - started >= 1.5
        assert store.runs(study="locked")["epochs_done"].tolist() == [1]

        holder.execute("BEGIN EXCLUSIVE")
        store.retry.seconds = 1.0
        with pytest.raises(StorageUnavailable) as caught:
            store.record_epoch(run_id, 2, 0.5, 0.5, 0.9, 0.1, 1.0, 100.0)
        holder.rollback()
    message = str(caught.value)
    assert "\n" not in message
    assert (
        "database is locked" in message
        and sqlite_url in message
        and "recording an epoch" in message
    )
    assert is_transient(caught.value.__cause__)


@pytest.mark.slow
def test_a_lock_held_when_run_starts_stops_it_with_one_line_and_exit_75(
    tmp_path: Path, sqlite_url: str
):
    # The fault 7: a write lock held by another program when `run` starts. The run
    # waits for it (SQLite's busy wait, then --storage-retry), then stops with one line.
    path = study_file(tmp_path, "startup")
    open_store(sqlite_url).close()  # an existing results database (WAL: readers go on)
    holder = sqlite3.connect(tmp_path / "polybench.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        done = subprocess.run(
            [*CLI, "run", str(path), "--storage", sqlite_url, "--storage-retry", "1"],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "COLUMNS": "200"},
        )
    finally:
        holder.rollback()
        holder.close()
    output = done.stdout + done.stderr
    assert done.returncode == 75, output
    assert "Traceback" not in output
    (line,) = [text for text in output.splitlines() if "database is locked" in text]
    assert sqlite_url in line and "run the same command again" in line, line
    with open_store(sqlite_url) as store:
        assert store.runs(study="startup").empty  # nothing half-written


@pytest.mark.slow
@pytest.mark.parametrize("seconds", [36, 70])
def test_a_sqlite_lock_held_mid_trial_is_waited_out_and_loses_nothing(
    tmp_path: Path, sqlite_url: str, seconds: int
):
    # The fault: another program holds the write lock longer than SQLite's own 30 s
    # busy wait (36 s), and longer than twice that (70 s), while a run is mid-training. Both
    # fit in the default 2-minute storage retry, so the one run finishes the plan.
    path = study_file(tmp_path, "locked")
    process = start_cli_run(path, sqlite_url)
    wait_for_mid_training(sqlite_url, "locked", process)
    watch = WriteWatch(sqlite_url)
    holder = sqlite3.connect(tmp_path / "polybench.db", isolation_level=None, timeout=60)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        time.sleep(seconds)
        assert process.poll() is None, "the run gave up while the database was locked"
        held = watch.marks()  # WAL: reading goes on while the lock is held
    finally:
        holder.rollback()
        holder.close()
    released = time.monotonic()
    resumed = watch.seconds_to_next_write(held, released)
    watch.close()
    assert_no_slot_spent(process, sqlite_url, "locked", timeout=600)
    print(f"SQLite lock held {seconds} s: the worker wrote again {resumed:.2f} s after release")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")
def test_no_trial_is_failed_as_stale_right_after_this_process_was_held_up(sqlite_url: str):
    # A lock longer than the grace period held up every worker's heartbeats: the first worker
    # through must not fail the others' trials (that spent their one retry and crashed them).
    from polybench.runner._storage import RetryingRDBStorage

    open_store(sqlite_url).close()
    storage = RetryingRDBStorage(
        sqlite_url, retry=StorageRetry(), heartbeat_interval=1, grace_period=2,
        engine_kwargs={"connect_args": {"timeout": 60}},
    )  # fmt: skip
    study = optuna.create_study(study_name="stale", storage=storage)
    trial = study.ask()  # another worker's trial: its heartbeats stop during the lock
    storage.record_heartbeat(trial._trial_id)
    holder = sqlite3.connect(
        make_url(sqlite_url).database, isolation_level=None, check_same_thread=False
    )
    holder.execute("BEGIN EXCLUSIVE")
    threading.Timer(3.0, holder.rollback).start()
    study.set_user_attr("written", "after the lock")  # waits 3 s for the lock
    optuna.storages.fail_stale_trials(study)
    assert study.trials[0].state == TrialState.RUNNING  # stale by 3 s, but spared
    time.sleep(2.2)  # one grace period without a hold-up: now a silent worker is a dead one
    optuna.storages.fail_stale_trials(study)
    assert study.trials[0].state == TrialState.FAIL
    holder.close()


@pytest.mark.slow
@pytest.mark.postgres
def test_terminated_backends_mid_trial_lose_nothing(tmp_path: Path, pg_url: str):
    path = study_file(tmp_path, "cut")
    process = start_cli_run(path, pg_url)
    wait_for_mid_training(pg_url, "cut", process)
    # Time to resume, against the study's own rhythm: the gaps between writes undisturbed,
    # then from one termination of every backend to the worker's next write.
    watch = WriteWatch(pg_url)
    undisturbed = watch.write_intervals(5)
    before = watch.marks()
    cut = time.monotonic()
    killed = terminate_backends(pg_url)
    resumed = watch.seconds_to_next_write(before, cut)
    watch.close()
    for _ in range(40):  # connection losses, again and again, during and between writes
        killed += terminate_backends(pg_url)
        time.sleep(0.2)
    assert killed >= 1
    assert_no_slot_spent(process, pg_url, "cut", timeout=300)
    gaps = ", ".join(f"{gap:.2f}" for gap in undisturbed)
    print(f"PostgreSQL backends terminated: the worker wrote again {resumed:.2f} s later "
          f"(undisturbed gaps between writes: {gaps} s)")  # fmt: skip


# -- workers die with their parent -----------------------------------------------------------


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_with_a_killed_parent_and_the_rerun_finishes_the_plan(
    tmp_path: Path, sqlite_url: str
):
    path = study_file(tmp_path, "orphans", heartbeat=1)
    process = start_cli_run(path, sqlite_url, "--workers", "2")
    wait_for_mid_training(sqlite_url, "orphans", process)
    below = descendants(process.pid)
    workers = list(below)
    # The fork server and the 2 workers forked from it (a fork keeps its command line).
    assert sum("forkserver" in command for command in below.values()) == 3, below
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = [pid for pid in workers if alive(pid)]
    for pid in survivors:  # do not leave them behind for the next test
        os.kill(pid, signal.SIGKILL)
    assert not survivors, f"workers {survivors} outlived their parent by 10 s"

    rerun = start_cli_run(path, sqlite_url, "--workers", "2")
    output, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, output
    assert_plan_finished(sqlite_url, "orphans")


# -- concurrent first use --------------------------------------------------------------------


@pytest.mark.parametrize("processes", [4])
def test_processes_starting_together_on_an_empty_database_all_succeed(
    storage_url: str, processes: int
):
    import multiprocessing

    import _fault_workers

    from polybench.config import parse_study

    config = parse_study(_fault_workers.STUDY)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    results = context.Queue()
    started = [
        context.Process(
            target=_fault_workers.first_use, args=(storage_url, config, i, barrier, results)
        )
        for i in range(processes)
    ]
    for process in started:
        process.start()
    outcomes = dict(results.get(timeout=180) for _ in started)
    for process in started:
        process.join(timeout=60)
    assert outcomes == dict.fromkeys(range(processes), "ok")
    assert [p.exitcode for p in started] == [0] * processes
    study = optuna.load_study(study_name="race/digits/cross_entropy", storage=storage_url)
    assert sorted(t.user_attrs["worker"] for t in study.trials) == list(range(processes))


# -- storage that would lose everything ------------------------------------------------------


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite:///file:x?mode=memory"])
def test_an_in_memory_sqlite_database_is_refused_with_a_reason(url: str, monkeypatch, capsys):
    from polybench.cli import main

    with pytest.raises(StorageError, match=r"in memory.*vanishes.*sqlite:///polybench\.db"):
        open_store(url)
    monkeypatch.setattr(sys, "argv", ["polybench", "status", "--storage", url])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 1
    stderr = capsys.readouterr().err
    assert stderr.startswith("Error: cannot use storage") and stderr.count("\n") == 1
    if url == "sqlite://":  # the same from the command as its own process
        done = subprocess.run(
            [*CLI, "status", "--storage", url], capture_output=True, text=True, timeout=120
        )
        assert (done.returncode, done.stderr) == (1, stderr)


# -- a private PostgreSQL server that the test restarts and stops ----------------------------


def _pg_bin(name: str) -> str:
    import glob

    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        pytest.skip(f"PostgreSQL's {name} is not installed")
    return found[-1]


@pytest.fixture
def private_postgres() -> Iterator[tuple[str, Callable[..., None]]]:
    """A PostgreSQL cluster of this test's own (initdb as user postgres, its own port), never
    the shared server; yields (URL, pg_ctl) and removes it afterwards."""
    import pwd
    import shutil
    import socket
    import tempfile

    try:
        postgres = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no postgres user to run a private cluster")
    if os.geteuid() != 0:
        pytest.skip("starting a cluster as user postgres needs root")
    folder = Path(tempfile.mkdtemp(prefix="polybench-pg-"))
    os.chown(folder, postgres.pw_uid, postgres.pw_gid)
    data = folder / "data"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def as_postgres(*command: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def pg_ctl(action: str) -> None:
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
        extra = ["-m", "fast"] if action in ("stop", "restart") else []
        as_postgres(
            _pg_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"),
            "-w", *extra, action,
        )  # fmt: skip

    as_postgres(_pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust")
    pg_ctl("start")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", pg_ctl
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            pg_ctl("stop")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.postgres
def test_a_postgresql_restart_mid_study_loses_nothing(tmp_path: Path, private_postgres):
    url, pg_ctl = private_postgres
    path = study_file(tmp_path, "restart")
    process = start_cli_run(path, url)
    wait_for_mid_training(url, "restart", process)
    pg_ctl("restart")
    assert_no_slot_spent(process, url, "restart", timeout=600)


@pytest.mark.slow
@pytest.mark.postgres
def test_a_database_down_longer_than_the_retries_stops_with_one_line_then_resumes(
    tmp_path: Path, private_postgres
):
    url, pg_ctl = private_postgres
    path = study_file(tmp_path, "outage", heartbeat=1)
    process = start_cli_run(path, url, "--storage-retry", "5")
    wait_for_mid_training(url, "outage", process)
    pg_ctl("stop")
    output, _ = process.communicate(timeout=300)
    pg_ctl("start")
    assert process.returncode == 75, output
    assert "Traceback" not in output
    # One line per worker that stopped (`worker N: stopped: ...`, or `Error: ...` in-process).
    errors = [
        line
        for line in output.splitlines()
        if line.startswith(("worker ", "Error:")) and "cannot reach the results database" in line
    ]
    assert errors, output
    for line in errors:
        assert "postgres@127.0.0.1" in line and "run the same command again" in line, line

    started = time.monotonic()
    rerun = start_cli_run(path, url)
    output, _ = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, output
    assert_plan_finished(url, "outage")
    print(f"rerun after the outage finished the plan in {time.monotonic() - started:.0f} s")


def test_a_database_outage_while_measuring_loss_costs_stops_the_worker_with_its_one_line(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
):
    """Seen in CI: the database went down while a worker stored a task's loss cost ratios.
    The measurement's "must not stop training" guard logged it as a warning without the
    resume hint, and the worker went on into the same outage. A storage fault there is the
    worker's like any other (its trial given back, one line, exit 75); other failures of the
    measurement still only warn."""
    from polybench.config import load_study
    from polybench.runner._worker import record_loss_costs
    from polybench.tasks import load_task

    monkeypatch.setattr("polybench.db._url.SQLITE_BUSY_TIMEOUT_S", 0.2)
    config = load_study(study_file(tmp_path, "costs"))
    entry = config.tasks[0]
    task = load_task(entry.task, **entry.options)
    with open_store(sqlite_url, retry=StorageRetry(1.0)) as store:
        store.ensure_study(config.name, config.text)
        holder = sqlite3.connect(tmp_path / "polybench.db", isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(StorageUnavailable, match="database is locked"):
                record_loss_costs(store, config, entry, task)
        finally:
            holder.rollback()
            holder.close()
        assert store.loss_costs(study=config.name).empty

        monkeypatch.setattr(
            "polybench.losses._cost.measure_loss_costs",
            lambda *args, **kwargs: 1 / 0,
        )
        record_loss_costs(store, config, entry, task)  # warns, returns
        assert store.loss_costs(study=config.name).empty
