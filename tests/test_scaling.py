"""Many workers on one PostgreSQL database: exact run counts and bounded connections.

Sixteen worker processes (tiny digits trials) share one study through the `pg_url` fixture's own
schema. While they run, a sampler thread polls `pg_stat_activity` for connections carrying the
schema's `application_name` (every connection of this test, the parent's and the workers', and
no one else's), so the peak it sees is this study's alone. docs/scaling.md quotes the numbers.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from polybench.db import open_store
from polybench.runner import run_study

WORKERS = 16
# Measured on the 2-core machine: a peak of 51 = 3 per process for 16 workers and the parent
# (polybench's store: 1; Optuna's storage: 1 for the trial loop, 1 for its heartbeat thread).
# The bound allows one more per process for a transient pool checkout (docs/scaling.md).
CONNECTIONS_PER_WORKER_BOUND = 4


def many_workers_study(tmp_path: Path) -> Path:
    path = tmp_path / "many.yaml"
    path.write_text(
        """\
name: many
seed: 0
threads: 1
heartbeat: {interval_seconds: 2, grace_seconds: 30}
tasks:
  - task: digits
    model: small_cnn
    subsample: 0.1
    epochs: 1
losses:
  - loss: cross_entropy
  - loss: poly1_cross_entropy
    search: {epsilon: {low: -1.0, high: 4.0}}
  - loss: focal
    search: {gamma: {low: 0.0, high: 4.0}}
search: {trials: 8, sampler: random, pruner: none}
confirm: {seeds: 2}
"""
    )
    return path


class ConnectionSampler(threading.Thread):
    """Polls pg_stat_activity every `interval` s; `peak` is the most connections seen at once."""

    def __init__(self, application_name: str, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.application_name = application_name
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        from conftest import _postgres_connect

        with _postgres_connect(application_name="polybench-test-sampler") as connection:
            while not self._stop_event.is_set():
                row = connection.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                    (self.application_name,),
                ).fetchone()
                self.peak = max(self.peak, int(row[0]))
                self.samples += 1
                self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)


@pytest.mark.slow
@pytest.mark.postgres
def test_sixteen_workers_on_postgresql_finish_exactly_the_planned_runs(tmp_path: Path, pg_url: str):
    path = many_workers_study(tmp_path)
    schema = make_url(pg_url).query["application_name"]
    sampler = ConnectionSampler(schema)
    sampler.start()
    started = time.monotonic()
    try:
        summary = run_study(path, storage=pg_url, workers=WORKERS, progress=False)
    finally:
        sampler.stop()
    elapsed = time.monotonic() - started

    # 8 search trials for each of 3 losses (cross_entropy searches label_smoothing), and 2
    # confirm seeds each
    planned = 3 * 8 + 3 * 2
    assert summary.planned_runs == planned
    assert summary.worker_exit_codes == (0,) * WORKERS
    with open_store(pg_url) as store:
        runs = store.runs(study="many")
    assert len(runs) == planned, runs[["loss", "phase", "seed", "state"]]
    assert set(runs["state"]) == {"complete"}
    assert runs.groupby(["loss", "phase"]).size().to_dict() == {
        ("cross_entropy", "confirm"): 2,
        ("cross_entropy", "search"): 8,
        ("focal", "confirm"): 2,
        ("focal", "search"): 8,
        ("poly1_cross_entropy", "confirm"): 2,
        ("poly1_cross_entropy", "search"): 8,
    }
    assert summary.complete

    assert sampler.samples > 10, "the sampler must have watched the study run"
    per_worker = sampler.peak / WORKERS
    print(
        f"\n{WORKERS} workers, {planned} runs in {elapsed:.0f} s; peak connections "
        f"{sampler.peak} ({per_worker:.2f} per worker, {sampler.samples} samples)"
    )
    assert sampler.peak >= 2  # the parent's store and at least one worker were seen
    assert sampler.peak <= CONNECTIONS_PER_WORKER_BOUND * (WORKERS + 1)


def test_a_confirm_seed_taken_by_another_worker_is_skipped_not_a_crash(tmp_path, sqlite_url):
    """Reproduced by the 16-worker test: a worker counts a waiting confirm seed, another worker
    takes it first, and Optuna hands the first one a fresh trial without a seed. That trial
    used to raise KeyError('confirm_seed') and kill the worker (exit code 1)."""
    import optuna

    from polybench.config import load_study
    from polybench.runner import build_plan
    from polybench.runner._trials import SKIPPED
    from polybench.runner._worker import TrialSkipped, Worker, open_optuna_storage

    path = tmp_path / "taken.yaml"
    path.write_text(
        many_workers_study(tmp_path).read_text().replace("name: many", "name: taken")
        .replace("trials: 8", "trials: 1").replace("seeds: 2", "seeds: 1")
    )  # fmt: skip
    run_study(path, storage=sqlite_url, progress=False)
    config = load_study(path)
    plan = build_plan(config)
    pair = next(p for p in plan.pairs if p.loss_entry.loss == "poly1_cross_entropy")
    with open_store(sqlite_url) as store:
        before = len(store.runs(study="taken"))
        worker = Worker(plan, store, open_optuna_storage(sqlite_url, config, store))
        study = worker._confirm_study(pair)
        # no confirm seed waits any more: what the late worker gets is a fresh trial
        study.optimize(
            lambda trial: worker._confirm_objective(pair, trial), n_trials=1, catch=(TrialSkipped,)
        )
        after = len(store.runs(study="taken"))
    last = study.get_trials()[-1]
    assert last.state == optuna.trial.TrialState.FAIL and SKIPPED in last.user_attrs
    assert after == before  # no run was stored for it
