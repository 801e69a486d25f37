"""Worker processes for tests/test_db.py, kept light (no pandas, no CLI) so spawning is quick."""

from __future__ import annotations

import os
import signal

from polybench.db import open_store

WORKERS = 4
RUNS_PER_WORKER = 25
SHARED_TRIALS = 3
EPOCHS = 2


def write_runs(url: str, worker: int, barrier) -> None:
    barrier.wait()  # all four open a database that has no tables yet, at the same moment
    with open_store(url) as store:
        store.ensure_study("race", "workers: 4\n")
        trials = [(f"race/digits/loss{worker}", n) for n in range(RUNS_PER_WORKER)]
        trials += [("race/digits/shared", n) for n in range(SHARED_TRIALS)]
        for optuna_study, trial in trials:
            run_id = store.start_run(
                study="race",
                task="digits",
                model="small_cnn",
                loss=optuna_study.rsplit("/", 1)[1],
                params={"worker": worker, "trial": trial},
                seed=trial,
                phase="search",
                optuna_study=optuna_study,
                trial_number=trial,
                environment={"host": f"worker-{worker}", "threads": 1},
            )
            for epoch in range(EPOCHS):
                store.record_epoch(run_id, epoch, 1.0, 1.0, worker + trial / 100, 0.1, 0.1, 1.0)
            store.finish_run(
                run_id,
                state="complete",
                metrics={"val_accuracy": worker + trial / 100},
                train_throughput=1.0,
                eval_throughput=1.0,
                wall_time=0.1,
                epochs_done=EPOCHS,
            )


def killed_mid_run(url: str) -> None:
    store = open_store(url)
    run_id = store.start_run(
        study="s",
        task="digits",
        model="small_cnn",
        loss="focal",
        params={"gamma": 2.0},
        seed=0,
        phase="search",
        optuna_study="s/digits/focal",
        trial_number=0,
        environment={"host": "bench-01", "device": "cpu"},
    )
    for epoch in range(2):
        store.record_epoch(run_id, epoch, 2.0 - epoch, 1.5, 0.4 + epoch / 10, 0.1, 1.0, 500.0)
    os.kill(os.getpid(), signal.SIGKILL)
