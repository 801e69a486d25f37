"""Trial bookkeeping shared by every worker: budgets, retries and confirm seeds.

Every trial occupies a *slot*: a fresh search trial opens a new slot, a retried trial (its
worker died, or the user pressed Ctrl-C) takes over the slot of the trial it replaces, and a
confirm trial's slot is its (seed, parameters). One slot is one polybench run: the run row is
keyed by the slot's first trial number (`origin_trial`), so a retry rewrites the same row and a
finished study stores exactly its planned number of runs.

Workers never lock each other out. A trial that finds, when it starts, that its slot is taken
(the budget was filled by another worker a moment earlier, or a confirm seed was enqueued twice)
is *skipped*: it ends as FAIL with the user attribute `skipped` and stores no run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from polybench.vocab import FAILED

if TYPE_CHECKING:
    from polybench.db import Store
    from polybench.runner._plan import PairPlan

logger = logging.getLogger(__name__)

ORIGIN = "origin_trial"  # number of the first trial of this slot (set on retries)
SKIPPED = "skipped"  # why a trial stored no run (its slot was taken)
LOST = "lost_workers"  # how many workers died while running this slot
RUN_ID = "run_id"  # the polybench run of this slot
CONFIRM_SEED = "confirm_seed"
CONFIRM_PARAMS = "confirm_params"  # canonical JSON text of the confirmed parameters
EPOCHS = "epochs_trained"  # epochs a finished trial trained (the `budget: epochs` ledger)
MAX_LOST_RETRIES = 1
# Grid sampler's own bookkeeping: a retry must evaluate the same grid point.
_KEPT_SYSTEM_ATTRS = ("grid_id", "search_space")


def origin(trial: FrozenTrial) -> int:
    """The slot of `trial`: its own number, or that of the first trial it retries."""
    return int(trial.user_attrs.get(ORIGIN, trial.number))


def is_skipped(trial: FrozenTrial) -> bool:
    return SKIPPED in trial.user_attrs


def is_retry(trial: FrozenTrial) -> bool:
    return ORIGIN in trial.user_attrs


@dataclass(frozen=True)
class SlotCounts:
    """Where the trials of one Optuna study stand, counted in slots (= runs)."""

    used: int  # slots opened (finished, running or waiting)
    finished: int  # slots whose latest trial finished and will not be retried
    complete: int
    pruned: int
    failed: int
    running: int
    waiting: int


def slot_counts(trials: Sequence[FrozenTrial]) -> SlotCounts:
    """Count the slots of a study's trials; the latest trial of a slot speaks for it."""
    latest: dict[int, FrozenTrial] = {}
    for trial in sorted(trials, key=lambda t: t._trial_id):
        if not is_skipped(trial):
            latest[origin(trial)] = trial
    states = [t.state for t in latest.values()]
    return SlotCounts(
        used=len(latest),
        finished=sum(s.is_finished() for s in states),
        complete=states.count(TrialState.COMPLETE),
        pruned=states.count(TrialState.PRUNED),
        failed=states.count(TrialState.FAIL),
        running=states.count(TrialState.RUNNING),
        waiting=states.count(TrialState.WAITING),
    )


def epochs_committed(trials: Sequence[FrozenTrial], max_epochs: int) -> int:
    """Training epochs the slots of `trials` spent or may still spend: a finished slot counts
    the epochs it trained, at least 1 (so trials that fail at once still use the budget up),
    `max_epochs` when unknown; an unfinished one counts `max_epochs`."""
    latest: dict[int, FrozenTrial] = {}
    for trial in sorted(trials, key=lambda t: t._trial_id):
        if not is_skipped(trial):
            latest[origin(trial)] = trial
    total = 0
    for trial in latest.values():
        spent = trial.user_attrs.get(EPOCHS) if trial.state.is_finished() else None
        total += max_epochs if spent is None else max(1, int(spent))
    return total


def has_budget(trials: Sequence[FrozenTrial], pair: PairPlan) -> bool:
    """Whether `pair`'s search may open another slot: fewer than `pair.trials` slots, or with
    an epoch budget, fewer epochs committed than the budget."""
    if pair.epoch_budget is None:
        return slot_counts(trials).used < pair.trials
    return epochs_committed(trials, pair.max_epochs) < pair.epoch_budget


def over_budget(trials: Sequence[FrozenTrial], trial_id: int, pair: PairPlan | int) -> bool:
    """Whether a fresh trial with `trial_id` arrives after the budget of `pair` (a `PairPlan`,
    or a number of slots) was filled by the trials opened before it."""
    earlier = [t for t in trials if t._trial_id < trial_id]
    if isinstance(pair, int):
        return len({origin(t) for t in earlier if not is_skipped(t)}) >= pair
    return not has_budget(earlier, pair)


def duplicate_confirm(trials: Sequence[FrozenTrial], trial: FrozenTrial) -> bool:
    """Whether an earlier, unskipped confirm trial already holds this trial's (seed, params)."""
    key = (trial.user_attrs.get(CONFIRM_SEED), trial.user_attrs.get(CONFIRM_PARAMS))
    return any(
        (t.user_attrs.get(CONFIRM_SEED), t.user_attrs.get(CONFIRM_PARAMS)) == key
        and t._trial_id < trial._trial_id
        and not is_skipped(t)
        and not is_retry(t)
        for t in trials
    )


def missing_confirm_seeds(
    trials: Sequence[FrozenTrial], seeds: Sequence[int], params_text: str
) -> list[int]:
    """Seeds of `seeds` that have no unskipped confirm trial with these parameters."""
    held = {
        t.user_attrs.get(CONFIRM_SEED)
        for t in trials
        if not is_skipped(t) and t.user_attrs.get(CONFIRM_PARAMS) == params_text
    }
    return [seed for seed in seeds if seed not in held]


def enqueue_confirm(
    study: optuna.Study, seeds: Sequence[int], params: dict[str, Any], params_text: str
) -> None:
    """Enqueue one confirm trial per missing seed (a second worker doing the same at the same
    moment only adds duplicates, which skip themselves when they start)."""
    trials = study.get_trials(deepcopy=False)
    for seed in missing_confirm_seeds(trials, seeds, params_text):
        study.enqueue_trial(params, user_attrs={CONFIRM_SEED: seed, CONFIRM_PARAMS: params_text})


def requeue(study: optuna.Study, trial: FrozenTrial, *, lost_worker: bool) -> bool:
    """Put a copy of `trial` back in the queue (WAITING) to run the same slot again.

    A trial whose worker died is retried `MAX_LOST_RETRIES` time(s); a trial the user
    interrupted is always retried. Returns whether a retry was queued.
    """
    slot = origin(trial)
    newer = [
        t
        for t in study.get_trials(deepcopy=False)
        if t._trial_id > trial._trial_id and origin(t) == slot and not is_skipped(t)
    ]
    if newer:  # already queued again (a worker gave it back before its heartbeat went stale)
        return True
    user_attrs = {k: v for k, v in trial.user_attrs.items() if k != SKIPPED}
    user_attrs[ORIGIN] = slot
    if lost_worker:
        user_attrs[LOST] = int(user_attrs.get(LOST, 0)) + 1
        if user_attrs[LOST] > MAX_LOST_RETRIES:
            return False
    system_attrs = {k: v for k, v in trial.system_attrs.items() if k in _KEPT_SYSTEM_ATTRS}
    if "fixed_params" in trial.system_attrs:
        system_attrs["fixed_params"] = trial.system_attrs["fixed_params"]
    study.add_trial(
        optuna.trial.create_trial(
            state=TrialState.WAITING,
            params=trial.params,
            distributions=trial.distributions,
            user_attrs=user_attrs,
            system_attrs=system_attrs,
        )
    )
    return True


class StaleTrialHandler:
    """Optuna's heartbeat callback: a trial whose worker stopped sending heartbeats has been
    marked FAIL; record why on its run and retry it once."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        retried = requeue(study, trial, lost_worker=True)
        reason = (
            "worker stopped sending heartbeats; retried"
            if retried
            else f"worker stopped sending heartbeats {int(trial.user_attrs.get(LOST, 0)) + 1} "
            "times; not retried again"
        )
        logger.warning("%s trial %d: %s", study.study_name, trial.number, reason)
        run_id = trial.user_attrs.get(RUN_ID)
        if run_id is not None:
            self._store.finish_run(
                int(run_id),
                state=FAILED,
                failure_reason=reason,
                metrics={},
                train_throughput=None,
                eval_throughput=None,
                wall_time=None,
                epochs_done=None,
            )
