"""Shared fixtures: real, isolated results databases for every test that needs one.

- `sqlite_url`: `sqlite:///<tmp>/polybench.db`, a file of this test's own (not yet created).
- `pg_url`: a `postgresql+psycopg://` URL on the server at 127.0.0.1:5432, database `test`,
  whose search_path is a fresh schema of this test's own (dropped afterwards), so tests never
  see each other's rows; Optuna given the same URL puts its tables there too. Without a
  reachable server the test is skipped, except under CI (`CI=true`), where it fails.
  `POLYBENCH_TEST_POSTGRES` overrides the server URL.
- `storage_url`: parametrized over both (ids `sqlite` and `postgresql`, the latter marked
  `postgres`); `store`: an open `polybench.db.Store` on `storage_url`, closed afterwards.

All URLs are plain strings to pass as `storage=` / `--storage`, to `open_store`, or to Optuna.

Shared study data:
- `tiny_study_url` (session): a SQLite database filled once by a real tiny study (`TINY_STUDY`,
  the runner training small CNNs on 300 digits), for tests that read what a real study stores;
  under pytest-xdist the first worker runs it and the others reuse its file.
- `record_run(store, ...)`: one run written through the real Store API with known scores, for
  tests whose numbers must be exact; `ENVIRONMENT` is the environment it records.
- `start_cli_run` / `wait_for_mid_training`: `polybench run` as a child process, and waiting
  until one of its runs is mid-training (for signal and fault tests).
- `dashboard_app(url)`: Streamlit's AppTest of the dashboard on that database, not yet run.

Losses:
- `native_kernel` (session): polybench's compiled CPU kernel (`polybench kernels --build`, which
  `make setup` runs), built here into the usual cache if it is missing. Skipped where no C++
  compiler is found or `POLYBENCH_NATIVE=0` turns it off, except under CI, where it fails.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (`pytest -n auto`, one worker per core) each worker trains with one
    torch thread: two threads per worker would oversubscribe the cores and spin."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)


@contextlib.contextmanager
def main_module_kept() -> Iterator[None]:
    """Put back the `__main__` module on exit. Streamlit's AppTest runs the dashboard script as
    `__main__` and leaves it there; a process started with "spawn" afterwards (the runner's
    workers, the race tests) would then run the whole dashboard script before its own work."""
    main = sys.modules["__main__"]
    try:
        yield
    finally:
        sys.modules["__main__"] = main


@pytest.fixture(autouse=True)
def _main_module_restored() -> Iterator[None]:
    """Every test ends with the `__main__` module it started with (see `main_module_kept`)."""
    with main_module_kept():
        yield


POSTGRES_SERVER_URL = os.environ.get(
    "POLYBENCH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)


def _postgres_connect(**options: Any) -> Any:
    import psycopg
    from sqlalchemy.engine import make_url

    server = make_url(POSTGRES_SERVER_URL)
    return psycopg.connect(
        host=server.host,
        port=server.port or 5432,
        user=server.username,
        password=server.password,
        dbname=server.database,
        autocommit=True,
        **options,
    )


@pytest.fixture(scope="session")
def _postgres_server() -> str:
    """The test server's URL, once it answered; skip (fail under CI=true) when it does not."""
    import psycopg

    try:
        _postgres_connect(connect_timeout=5).close()
    except psycopg.OperationalError as error:
        reason = " ".join(str(error).split())
        message = f"PostgreSQL test server {POSTGRES_SERVER_URL} is unreachable: {reason}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message} (CI=true: the server must be up; .ci/run starts it)")
        pytest.skip(message)
    return POSTGRES_SERVER_URL


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a SQLite file in this test's temporary folder (created on first use)."""
    return f"sqlite:///{tmp_path / 'polybench.db'}"


@pytest.fixture
def pg_url(_postgres_server: str) -> Iterator[str]:
    """URL of a fresh PostgreSQL schema of this test's own, dropped after the test."""
    from sqlalchemy.engine import make_url

    schema = f"pb_test_{uuid.uuid4().hex[:16]}"
    with _postgres_connect() as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    url = (
        make_url(_postgres_server)
        .set(drivername="postgresql+psycopg")
        .update_query_dict({"options": f"-csearch_path={schema}", "application_name": schema})
        .render_as_string(hide_password=False)
    )
    yield url
    with _postgres_connect() as connection:
        # Connections the test left open (stores not closed, killed workers) must not block
        # the drop; they all carry the schema's name as their application_name.
        connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            (schema,),
        )
        connection.execute("SET lock_timeout = '20s'")
        connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def storage_url(request: pytest.FixtureRequest) -> str:
    """A fresh results database URL, once SQLite and once PostgreSQL."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture
def store(storage_url: str) -> Iterator[Any]:
    """An open `polybench.db.Store` on `storage_url` (tables created), closed afterwards."""
    from polybench.db import open_store

    with open_store(storage_url) as opened:
        yield opened


# --- runs with known scores -------------------------------------------------------------------

ENVIRONMENT = {"host": "box", "device": "cpu", "torch_version": "2.5", "threads": 2}


def record_run(
    store: Any,
    study: str,
    task: str,
    loss: str,
    params: Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
    phase: str = "search",
    trial: int = 0,
    state: str = "complete",
    val: float = 0.9,
    test: float | None = None,
    f1_gap: float = 0.01,
    extra_metrics: Mapping[str, float] | None = None,
    curve: Sequence[float] = (),
    epoch_throughput: float = 2000.0,
    train_throughput: float | None = 1000.0,
    eval_throughput: float | None = 5000.0,
    wall_time: float = 1.0,
    epochs_done: int | None = None,
    failure_reason: str = "loss became NaN at epoch 1",
    model: str = "small_cnn",
    environment: Mapping[str, Any] = ENVIRONMENT,
) -> int:
    """Write one run through the real Store API and return its id.

    Epoch e stores `curve[e]` as its validation accuracy (train loss 1 / (e + 1)). A `running`
    run stops there; a `failed` one has no metrics and no throughputs; otherwise the metrics
    are val accuracy `val` and macro-F1 `val - f1_gap`, the same for `test` when given, plus
    `extra_metrics`. `epochs_done` defaults to the length of `curve`.
    """
    run_id = store.start_run(
        study=study,
        task=task,
        model=model,
        loss=loss,
        params=dict(params or {}),
        seed=seed,
        phase=phase,
        optuna_study=f"{study}/{task}/{loss}" + ("/confirm" if phase == "confirm" else ""),
        trial_number=trial,
        environment=dict(environment),
    )
    for epoch, value in enumerate(curve):
        store.record_epoch(run_id, epoch, 1 / (epoch + 1), 0.9, value, 1e-3, 0.5, epoch_throughput)
    if state == "running":
        return run_id
    failed = state == "failed"
    metrics = {"val_accuracy": val, "val_macro_f1": val - f1_gap}
    if test is not None:
        metrics |= {"test_accuracy": test, "test_macro_f1": test - f1_gap}
    metrics |= dict(extra_metrics or {})
    store.finish_run(
        run_id,
        state=state,
        failure_reason=failure_reason if failed else None,
        metrics={} if failed else metrics,
        train_throughput=None if failed else train_throughput,
        eval_throughput=None if failed else eval_throughput,
        wall_time=wall_time,
        epochs_done=len(curve) if epochs_done is None else epochs_done,
    )
    return run_id


# --- a real tiny study ------------------------------------------------------------------------

# Three losses on 300 digits, one epoch: 2 search trials and 2 confirm seeds each (cross_entropy
# searches label_smoothing, as every loss gets the same budget); poly1_focal tunes two
# parameters. About 9 s of CPU.
TINY_STUDY = """\
name: tiny
seed: 0
tasks:
  - task: digits
    model: small_cnn
    subsample: 300
    epochs: 1
    batch_size: 100
losses:
  - loss: cross_entropy
  - loss: poly1_cross_entropy
    search: {epsilon: {low: -1.0, high: 8.0}}
  - loss: poly1_focal
    search: {gamma: {low: 0.0, high: 4.0}, epsilon: {low: -1.0, high: 8.0}}
search: {trials: 2, sampler: random, pruner: none, metric: val_accuracy}
confirm: {seeds: 2}
"""


@pytest.fixture(scope="session")
def tiny_study_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite database filled by `run_study` with `TINY_STUDY`; tests only read it.

    Under pytest-xdist the workers share one file beside their temporary folders: the first
    to take the lock runs the study, the others wait and reuse it.
    """
    from polybench.runner import run_study

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    folder = shared / "tiny_study"
    folder.mkdir(exist_ok=True)
    url = f"sqlite:///{folder / 'tiny.db'}"
    with (folder / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "done").exists():
            (folder / "tiny.yaml").write_text(TINY_STUDY)
            result = run_study(folder / "tiny.yaml", url, progress=False)
            assert result.runs_by_state == {"complete": result.stored_runs}
            (folder / "done").write_text(str(result.stored_runs))
    return url


# --- `polybench run` as a child process ----------------------------------------------------------

CLI = [sys.executable, "-c", "from polybench.cli import main; main()"]


def start_cli_run(path: Path, url: str, *args: str) -> subprocess.Popen:
    """`polybench run PATH --storage URL ARGS...` in a child process, output captured."""
    return subprocess.Popen(
        [*CLI, "run", str(path), "--storage", url, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )


def wait_for_mid_training(
    url: str, study: str, process: subprocess.Popen, finished: int = 0, timeout: float = 180
) -> None:
    """Wait until a run of `study` is mid-training (an epoch written, not finished) while at
    least `finished` runs have ended; fail if `process` exits first or time runs out."""
    from polybench.db import StorageError, open_store

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        runs = None
        with contextlib.suppress(StorageError), open_store(url) as store:
            runs = store.runs(study=study)
        if runs is not None and len(runs):
            running = runs["state"] == "running"
            if (~running).sum() >= finished and (running & (runs["epochs_done"] >= 1)).any():
                return
        time.sleep(0.05)
    pytest.fail(f"no run of study {study!r} reached mid-training within {timeout:.0f} s")


# --- the dashboard under Streamlit's AppTest ----------------------------------------------------

DASHBOARD_SCRIPT = Path(__file__).resolve().parents[1] / "app" / "dashboard.py"


@functools.cache
def _streamlit_components() -> Any:
    """Streamlit's registry of installed custom components, filled once per process."""
    from streamlit.components.v2.component_manager import BidiComponentManager

    manager = BidiComponentManager()
    manager.discover_and_register_components(start_file_watching=False)
    return manager


def dashboard_app(url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Streamlit's AppTest of app/dashboard.py reading `url`, not yet run.

    Every new AppTest scans all installed distributions for Streamlit components (0.6 s of CPU,
    for a registry the dashboard never uses); they share one scan, made once per process.
    """
    from streamlit.testing.v1 import AppTest

    from polybench.dashboard import STORAGE_ENV

    monkeypatch.setenv(STORAGE_ENV, url)
    app = AppTest.from_file(str(DASHBOARD_SCRIPT), default_timeout=120)
    if getattr(app, "_bidi_component_manager", "absent") is None:  # Streamlit >= 1.51
        app._bidi_component_manager = _streamlit_components()
    return app


@pytest.fixture(scope="session")
def native_kernel() -> Any:
    from polybench.losses import _native

    def unavailable(reason: str) -> None:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs polybench's compiled kernel: {reason}")
        pytest.skip(reason)

    if _native.disabled():
        unavailable(f"{_native.DISABLE_VARIABLE}=0 turns the compiled kernel off")
    if _native.module() is None:
        if shutil.which(os.environ.get("CXX", "c++")) is None:
            unavailable("no C++ compiler to build polybench's compiled kernel")
        _native.build()
    module = _native.module()
    if module is None:
        unavailable(f"the compiled kernel does not load: {_native.load_error()}")
    return module
