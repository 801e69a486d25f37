"""`run_study` and `study_status`: the runner's public face.

`run_study` validates the study file, records it in the store, starts the workers (this
process for one; for more, processes forked from a fork server, or spawned where forking is not
to be trusted), shows the live progress table and returns a `StudySummary`. Running it again
resumes: the workers find the finished slots in Optuna's storage and only fill what is missing,
so nothing runs twice.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from polybench.config import StudyConfig, load_study, parse_study
from polybench.db._retry import DEFAULT_RETRY_SECONDS
from polybench.errors import did_you_mean
from polybench.runner._placement import (
    WorkerLayout,
    choose_workers,
    cuda_device_count,
    parse_devices,
    physical_cores,
)
from polybench.runner._plan import StudyPlan, build_plan
from polybench.runner._progress import LiveProgress, progress_frame
from polybench.vocab import FINISHED_STATES, RUNNING, metric_for_objective

if TYPE_CHECKING:
    from rich.console import Console

    from polybench.db import Store
    from polybench.runner._worker import Interrupts

logger = logging.getLogger(__name__)

INTERRUPTED_EXIT_CODE = 130
# A worker (or the run) stopped because the results database stayed unreachable (EX_TEMPFAIL).
STORAGE_EXIT_CODE = 75
# A worker whose parent died, or that the parent stops, gets this long to give its trial back.
REAP_GRACE_SECONDS = 5.0
_PR_SET_PDEATHSIG = 1
# What every worker imports before its first trial (torch's optimizers import torch._dynamo
# on first use: 0.8 s). A fork server imports them once, while this process reads the study.
WORKER_PRELOAD = (
    "polybench.runner._worker",
    "polybench.losses",
    "polybench.models",
    "polybench.tasks",
    "polybench.train",
    "polybench.stats",
    "torch._dynamo",
)
_RESUME = "nothing is lost: run the same command again once the database is back"


@dataclass(frozen=True)
class StudySummary:
    """What a call of `run_study` left in the store.

    `runs_by_state` counts the study's stored runs per state; `complete` says whether every
    planned run finished (complete, pruned or failed, none still to run). `table` is
    `polybench.report` 's summary (one row per task and loss) and `progress` the per-(task, loss)
    counts of `progress_frame`. `worker_exit_codes` lists the exit codes of the worker processes;
    `layout` is how many workers ran here, with how many threads, and why.
    """

    study: str
    storage: str
    plan: StudyPlan
    dry_run: bool = False
    interrupted: bool = False
    wall_time: float = 0.0
    runs_by_state: dict[str, int] = field(default_factory=dict)
    progress: pd.DataFrame | None = None
    table: pd.DataFrame | None = None
    worker_exit_codes: tuple[int, ...] = ()
    layout: WorkerLayout | None = None

    @property
    def storage_lost(self) -> bool:
        """Whether a worker stopped because the results database stayed unreachable."""
        return STORAGE_EXIT_CODE in self.worker_exit_codes

    @property
    def planned_runs(self) -> int:
        return self.plan.planned_runs

    @property
    def stored_runs(self) -> int:
        return sum(self.runs_by_state.values())

    @property
    def complete(self) -> bool:
        if self.progress is None or not len(self.progress):
            return False
        frame = self.progress
        return bool(
            (frame["search_done"] >= frame["search_planned"]).all()
            and (frame["confirm_done"] >= frame["confirm_planned"]).all()
            and (frame[RUNNING] == 0).all()
        )


def run_study(
    config_or_path: StudyConfig | str | Path,
    storage: str | None = None,
    workers: int | str = 1,
    dry_run: bool = False,
    *,
    devices: str | None = None,
    workers_per_device: int = 1,
    console: Console | None = None,
    progress: bool = True,
    storage_retry: float = DEFAULT_RETRY_SECONDS,
) -> StudySummary:
    """Run (or resume) a study: search every (task, loss), then confirm over seeds.

    `storage` is a SQLAlchemy URL (else `$POLYBENCH_STORAGE`, else `sqlite:///polybench.db`);
    `workers` worker processes share it on this machine ("auto", the CLI's default: one per
    physical core / the study's `threads`, see `polybench.runner._placement`), and the same
    call on other machines with the same PostgreSQL URL shares the work with them. `devices`
    ("auto" or "cuda:0,cuda:1") places the workers round-robin on those devices,
    `workers_per_device` of them each. `dry_run` only validates and plans.
    Ctrl-C (SIGINT) or SIGTERM stops cleanly: the trial in progress is recorded as interrupted
    and queued again, and the next call resumes. A database fault (lost connection, server
    restart, locked SQLite file) is retried for up to `storage_retry` seconds; after that the
    trial goes back to the queue and StorageUnavailable is raised (the next call resumes).

    >>> summary = run_study("studies/quickstart.yaml", "sqlite:///demo.db")  # doctest: +SKIP
    >>> summary.stored_runs == summary.planned_runs                           # doctest: +SKIP
    True
    """
    from polybench.db import display_url, open_store, resolve_storage_url
    from polybench.db._retry import StorageRetry
    from polybench.runner._worker import Interrupts, open_optuna_storage, optuna_errors_only

    if not dry_run and _may_start_several(workers):
        _start_fork_server()
    config = (
        config_or_path if isinstance(config_or_path, StudyConfig) else load_study(config_or_path)
    )
    plan = build_plan(config)
    layout = worker_layout(config, plan, workers, devices, workers_per_device)
    logger.info("workers: %d x %d thread(s) (%s)", layout.workers, layout.threads, layout.reason)
    url = resolve_storage_url(storage)
    if dry_run:
        return StudySummary(
            study=config.name, storage=display_url(url), plan=plan, dry_run=True, layout=layout
        )

    started = time.monotonic()
    with _resumable():  # a lock or outage at start-up: one line that says what to do
        store = open_store(url, retry=StorageRetry(storage_retry))
    try:
        with _resumable():
            store.ensure_study(config.name, config.text or config.model_dump_json())
            # Creating Optuna's tables once here keeps parallel workers from racing to do it.
            optuna_storage = open_optuna_storage(url, config, store)
        interrupts = Interrupts()
        live = _live_progress(store, plan, layout, console) if progress else nullcontext()
        # Signal handlers and Optuna's log level are the caller's again once the study stops.
        with interrupts.installed(), optuna_errors_only(), live:
            if layout.workers > 1:
                codes = _run_processes(config, url, layout, interrupts, storage_retry)
            else:
                codes = _run_here(plan, store, optuna_storage, layout.devices[0], interrupts)
        runs = store.runs(study=config.name)
        return StudySummary(
            study=config.name,
            storage=display_url(url),
            plan=plan,
            interrupted=interrupts.requested,
            wall_time=time.monotonic() - started,
            runs_by_state={k: int(v) for k, v in runs["state"].value_counts().items()},
            progress=progress_frame(runs, plan, layout.workers),
            table=_summary_table(runs, config),
            worker_exit_codes=codes,
            layout=layout,
        )
    finally:
        store.close()


@contextmanager
def _resumable() -> Iterator[None]:
    """StorageUnavailable from the block says that running the same command again resumes."""
    from polybench.db._retry import StorageUnavailable

    try:
        yield
    except StorageUnavailable as error:
        raise StorageUnavailable(f"{error}; {_RESUME}") from error


def _live_progress(
    store: Store, plan: StudyPlan, layout: WorkerLayout, console: Console | None
) -> LiveProgress:
    name = plan.config.name
    return LiveProgress(lambda: store.runs(study=name), plan, _console(console), layout.workers)


def _run_here(
    plan: StudyPlan, store: Store, optuna_storage: Any, device: str | None, interrupts: Interrupts
) -> tuple[int, ...]:
    """Run the study's one worker in this process, on `device`; no exit codes to return.
    Raises StorageUnavailable when the worker lost the database."""
    from polybench.db._retry import StorageUnavailable
    from polybench.runner._worker import Worker

    local = _on_device(plan.config, device)
    local_plan = plan if local is plan.config else build_plan(local)
    report = Worker(local_plan, store, optuna_storage, interrupts=interrupts).run()
    if report.storage_error is not None:
        raise StorageUnavailable(f"{report.storage_error}; {_RESUME}")
    return ()


def study_status(storage: str | None = None, study: str | None = None) -> pd.DataFrame:
    """Where studies stand, from any machine that reaches the database.

    Without `study`: one row per study (name, created_at, runs, planned_runs, complete, pruned,
    failed, running). With `study`: one row per (task, loss) with the columns of
    `progress_frame` (runs done / planned per phase, running, failed, best value, ETA).
    """
    from polybench.db import open_store

    with open_store(storage, read_only=True) as store:
        studies = store.studies()
        if study is None:
            rows = []
            for record in studies.itertuples(index=False):
                runs = store.runs(study=record.study)
                counts = runs["state"].value_counts()
                rows.append(
                    {
                        "study": record.study,
                        "created_at": record.created_at,
                        "runs": len(runs),
                        "planned_runs": _planned(record.config_text),
                        **{s: int(counts.get(s, 0)) for s in _STATES},
                    }
                )
            columns = ["study", "created_at", "runs", "planned_runs", *_STATES]
            return pd.DataFrame(rows, columns=columns)
        match = studies[studies["study"] == study]
        if not len(match):
            names = list(studies["study"])
            raise ValueError(
                f"no study {study!r} in {store.display_url}; studies there: "
                f"{', '.join(names) or '(none)'}." + did_you_mean(study, names)
            )
        config = parse_study(match.iloc[0]["config_text"], source=f"study {study!r}")
        return progress_frame(store.runs(study=study), build_plan(config))


_STATES = [*FINISHED_STATES, RUNNING]


def _planned(config_text: str) -> int | None:
    try:
        return build_plan(parse_study(config_text)).planned_runs
    except Exception:  # a study file from another polybench version
        return None


def _summary_table(runs: pd.DataFrame, config: StudyConfig) -> pd.DataFrame | None:
    from polybench.report import summarize

    metric = metric_for_objective(config.search.objectives[0]).name
    finished = runs[runs["state"] != RUNNING]
    if not len(finished):
        return None
    try:
        return summarize(finished, metric=metric)
    except Exception as error:  # the summary must never hide the runs that were stored
        logger.warning("summary table unavailable: %s", error)
        return None


def _console(console: Console | None) -> Console:
    if console is not None:
        return console
    from rich.console import Console

    return Console(stderr=True)


def worker_layout(
    config: StudyConfig,
    plan: StudyPlan,
    workers: int | str,
    devices: str | None = None,
    workers_per_device: int = 1,
) -> WorkerLayout:
    """The `WorkerLayout` for this machine: reads its physical cores and CUDA devices, then
    decides with the pure `choose_workers`."""
    device_list = parse_devices(devices, cuda_device_count() if devices else 0)
    return choose_workers(
        workers,
        cores=physical_cores(),
        study_threads=config.threads,
        planned_runs=plan.planned_runs,
        devices=device_list,
        workers_per_device=workers_per_device,
    )


def _on_device(config: StudyConfig, device: str | None) -> StudyConfig:
    """`config` with its `device` replaced by a worker's placement (None: unchanged)."""
    if device is None or device == config.device:
        return config
    return config.model_copy(update={"device": device})


def _run_processes(
    config: StudyConfig,
    url: str,
    layout: WorkerLayout,
    interrupts: Interrupts,
    storage_retry: float,
) -> tuple[int, ...]:
    """Start the layout's worker processes and wait for them; forward a stop request once."""
    method = _start_method(cuda=any(_may_use_cuda(config, d) for d in layout.devices))
    context = multiprocessing.get_context(method)
    output = _ParentOutput() if method == "forkserver" and _ParentOutput.open() else None
    processes = [
        context.Process(
            target=worker_process,
            args=(
                config.text,
                config.source,
                url,
                index,
                layout.threads,
                layout.devices[index],
                storage_retry,
                dict(os.environ),
                output,
            ),
            name=f"polybench-worker-{index}",
        )
        for index in range(layout.workers)
    ]
    try:
        for process in processes:
            process.start()
        _import_for_summary()
        forwarded = False
        while alive := [p for p in processes if p.is_alive()]:
            if interrupts.requested and not forwarded:
                forwarded = True
                for process in alive:
                    if process.pid is not None:
                        os.kill(process.pid, signal.SIGINT)
            # Wakes as soon as a worker ends, else after 0.2 s to look for a stop request.
            multiprocessing.connection.wait([p.sentinel for p in alive], timeout=0.2)
    finally:
        _reap(processes)
    codes = tuple(int(p.exitcode if p.exitcode is not None else -1) for p in processes)
    for index, code in enumerate(codes):
        if code == STORAGE_EXIT_CODE:
            continue  # the worker said why in one line
        if code not in (0, INTERRUPTED_EXIT_CODE):
            logger.warning(
                "worker %d ended with exit code %d; its trial is retried once its heartbeat "
                "goes stale (run the study again to finish it)",
                index,
                code,
            )
    return codes


def _may_start_several(workers: int | str) -> bool:
    """Whether `workers` (as `run_study` takes it: 2, "2", "auto") may mean worker processes;
    a value `worker_layout` will refuse counts as yes, the refusal comes from there."""
    try:
        return int(workers) > 1
    except (TypeError, ValueError):
        return True


def _start_method(cuda: bool = False) -> str:
    """'forkserver' where the platform has it (Linux, macOS), else 'spawn' (Windows); 'spawn'
    too for workers that may use CUDA, which is not to be trusted in a forked process (the
    server never initialises it, but a GPU study's start-up is not worth the risk)."""
    methods = multiprocessing.get_all_start_methods()
    return "forkserver" if "forkserver" in methods and not cuda else "spawn"


def _may_use_cuda(config: StudyConfig, device: str | None) -> bool:
    """Whether a worker placed on `device` (None: the study's `device`) may train on CUDA."""
    name = device or config.device
    return name.startswith("cuda") or (name == "auto" and cuda_device_count() > 0)


def _start_fork_server() -> None:
    """Start the fork server the workers are forked from, importing `WORKER_PRELOAD`, without
    waiting for it (its imports overlap this process reading the study; it ends with this
    process). A spawned worker instead starts Python, imports all of that on its own and then
    some; forked ones start in milliseconds and share the imported code's memory. The server
    only imports: it runs no torch op and touches no device or database, so forking it is safe.
    """
    if _start_method() != "forkserver":
        return
    from multiprocessing import forkserver

    forkserver.set_forkserver_preload(list(WORKER_PRELOAD))
    forkserver.ensure_running()


class _ParentOutput:
    """Pickles as this process's stdout and stderr, duplicated into the worker it is handed to
    (multiprocessing's DupFd, as it hands connections to children). A worker forked from the
    fork server would otherwise write where the server's output went when it started, not where
    this process's goes now (redirected since, or captured by pytest)."""

    @staticmethod
    def open() -> bool:
        try:
            os.fstat(1), os.fstat(2)
        except OSError:  # closed (a daemon): the workers keep the server's
            return False
        return True

    def __reduce__(self) -> tuple[Any, tuple[Any, Any]]:
        from multiprocessing.reduction import DupFd

        return (_received_output, (DupFd(1), DupFd(2)))


def _received_output(out: Any, err: Any) -> tuple[int, int]:
    """In the worker: the file descriptors `_ParentOutput` handed over."""
    return out.detach(), err.detach()


def _flush_output() -> None:
    import sys

    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # closed, or not a file any more
            stream.flush()


def _adopt_output(output: tuple[int, int]) -> None:
    _flush_output()
    for fd, target in zip(output, (1, 2), strict=True):
        os.dup2(fd, target)
        os.close(fd)


def _import_for_summary() -> None:
    """Import, in a thread, what the summary at the end needs (scipy, plotly: about 0.6 s on
    the 2-core machine), while the workers run instead of after they end. One worker in this
    process imports them as it goes; worker processes leave this process idle until the end."""
    import importlib
    import threading

    def load() -> None:
        for name in ("polybench.stats", "polybench.report"):
            try:
                importlib.import_module(name)
            except Exception:  # the summary itself reports a broken import
                return

    threading.Thread(target=load, name="polybench-summary-imports", daemon=True).start()


def _reap(processes: list[Any]) -> None:
    """Stop and wait for every worker still running (on any way out of the parent): SIGTERM
    first (the trial in progress is given back), SIGKILL after a grace period."""
    alive = [p for p in processes if p.pid is not None and p.is_alive()]
    for process in alive:
        process.terminate()
    deadline = time.monotonic() + REAP_GRACE_SECONDS
    for process in alive:
        process.join(timeout=max(0.0, deadline - time.monotonic()))
    for process in alive:
        if process.is_alive():
            process.kill()
            process.join()


def die_with_parent() -> None:
    """Make this worker stop when the process that started it (`run_study`'s) dies, however
    it dies.

    A watchdog thread waits on multiprocessing's sentinel of that process (a pipe that ends
    when it dies), then sends SIGTERM to this process (the trial in progress is given back)
    and exits it hard if it has not stopped after a grace period. On Linux the kernel also
    sends SIGTERM when the process this one was forked from dies (prctl PR_SET_PDEATHSIG):
    the fork server, which ends with `run_study`'s process.
    """
    import sys
    import threading

    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the watchdog below still works
            logger.debug("prctl(PR_SET_PDEATHSIG) unavailable")
    parent = multiprocessing.parent_process()
    if parent is None or parent.sentinel is None:  # not started by multiprocessing
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(REAP_GRACE_SECONDS)
        os._exit(INTERRUPTED_EXIT_CODE)

    if multiprocessing.connection.wait([parent.sentinel], timeout=0):  # died before we got here
        os._exit(INTERRUPTED_EXIT_CODE)
    threading.Thread(target=watch, name="polybench-parent-watchdog", daemon=True).start()


def worker_process(
    config_text: str,
    source: str | None,
    url: str,
    index: int,
    threads: int,
    device: str | None = None,
    storage_retry: float = DEFAULT_RETRY_SECONDS,
    environment: dict[str, str] | None = None,
    output: tuple[int, int] | None = None,
) -> None:
    """Entry point of a worker process; it stops when the process that started it dies.

    `environment` is the starting process's `os.environ` now: a worker forked from the fork
    server would otherwise see the variables as they were when the server started (the working
    directory and `sys.path` are the starting process's already, as multiprocessing sets them).
    `output`: the starting process's stdout and stderr (`_ParentOutput`), for the same reason.
    """
    import sys

    if output is not None:
        _adopt_output(output)

    if environment is not None and environment != dict(os.environ):
        os.environ.clear()
        os.environ.update(environment)

    import optuna
    import torch

    from polybench.db import StorageError, open_store
    from polybench.db._retry import StorageRetry, StorageUnavailable
    from polybench.runner._worker import Interrupts, Worker, open_optuna_storage

    interrupts = Interrupts()
    interrupts.install()
    die_with_parent()
    # This process is the worker's own: its settings may stay as the worker needs them.
    torch.set_num_threads(threads)
    logging.basicConfig(level=logging.WARNING, format=f"worker {index}: %(message)s")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    config = _on_device(parse_study(config_text, source=source), device)
    plan = build_plan(config)
    try:
        with open_store(url, retry=StorageRetry(storage_retry)) as store:
            storage = open_optuna_storage(url, config, store)
            try:
                report = Worker(
                    plan, store, storage, worker_index=index, interrupts=interrupts
                ).run()
            finally:
                storage.remove_session()
                storage.engine.dispose()
    except StorageError as error:
        logger.error("stopped: %s", error)
        sys.exit(STORAGE_EXIT_CODE if isinstance(error, StorageUnavailable) else 1)
    if report.storage_error is not None:
        logger.error("stopped: %s; %s", report.storage_error, _RESUME)
        sys.exit(STORAGE_EXIT_CODE)
    _exit_now(INTERRUPTED_EXIT_CODE if report.interrupted else 0)


def _exit_now(code: int) -> None:
    """End a worker whose databases are closed without the interpreter's teardown.

    Finalizing torch and the rest takes about 0.4 s on the 2-core machine, at the end of the
    study when the parent waits for it. Nothing is left to clean up (no child processes, no
    open connections), so the logs and output are flushed and the process exits, as
    multiprocessing's own forked children do.
    """
    logging.shutdown()
    _flush_output()
    os._exit(code)
