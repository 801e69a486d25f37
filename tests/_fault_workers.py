"""Processes for tests/test_faults.py, kept light (no pandas, no CLI) so spawning is quick."""

from __future__ import annotations

import optuna

from polybench.db import open_store
from polybench.runner._worker import open_optuna_storage

STUDY = """\
name: race
tasks: [{task: digits}]
losses: [{loss: cross_entropy}]
"""


def first_use(url: str, config, index: int, barrier, results) -> None:
    """What `polybench run` does before its first trial, started by N processes at once.

    `config` is STUDY parsed by the parent: checking it would import torch (the models'
    registry) in every process, for nothing this race is about."""
    barrier.wait()
    try:
        with open_store(url) as store:
            store.ensure_study("race", STUDY)
            storage = open_optuna_storage(url, config, store)
            study = optuna.create_study(
                study_name="race/digits/cross_entropy", storage=storage, load_if_exists=True
            )
            study.enqueue_trial({}, user_attrs={"worker": index})
        results.put((index, "ok"))
    except BaseException as error:  # reported to the test, which shows it
        results.put((index, f"{type(error).__name__}: {error}"))
        raise
