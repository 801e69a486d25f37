"""Trial bookkeeping shared by every worker: budgets, retries and confirm seeds.

Every trial occupies a *slot*: a fresh search trial opens a new slot, a retried trial (its
worker died, or the user pressed Ctrl-C) takes over the slot of the trial it replaces, and a
confirm trial's slot is its (seed, parameters). One slot is one polybench run: the run row is
keyed by the slot's first trial number (`origin_trial`), so a retry rewrites the same row and a
finished study stores exactly its planned number of runs.

Workers never lock each other out. A trial that finds, when it starts, that its slot is taken
(the budget was filled by another worker a moment earlier, or a confirm seed was enqueued twice)
is *skipped*: it ends as FAIL with the user attribute `skipped` and stores no run.

All of it goes through Optuna's public API: trials are ordered by their `number` (the order in
which they were opened in their study) and the slot bookkeeping lives in user attributes; a
retry is queued with `Study.enqueue_trial`, like a confirm seed.
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


# Either kind of trial: the bookkeeping reads only their `number` and `user_attrs`.
AnyTrial = FrozenTrial | optuna.Trial


def origin(trial: AnyTrial) -> int:
    """The slot of `trial`: its own number, or that of the first trial it retries."""
    return int(trial.user_attrs.get(ORIGIN, trial.number))


def is_skipped(trial: AnyTrial) -> bool:
    return SKIPPED in trial.user_attrs


def is_retry(trial: AnyTrial) -> bool:
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


def latest_per_slot(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    """The latest unskipped trial of each slot of one study's `trials`, which speaks for it."""
    latest: dict[int, FrozenTrial] = {}
    for trial in sorted(trials, key=lambda t: t.number):
        if not is_skipped(trial):
            latest[origin(trial)] = trial
    return list(latest.values())


def slot_counts(trials: Sequence[FrozenTrial]) -> SlotCounts:
    """Count the slots of a study's trials; the latest trial of a slot speaks for it."""
    states = [t.state for t in latest_per_slot(trials)]
    return SlotCounts(
        used=len(states),
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
    total = 0
    for trial in latest_per_slot(trials):
        spent = trial.user_attrs.get(EPOCHS) if trial.state.is_finished() else None
        total += max_epochs if spent is None else max(1, int(spent))
    return total


def has_budget(trials: Sequence[FrozenTrial], pair: PairPlan) -> bool:
    """Whether `pair`'s search may open another slot: fewer than `pair.trials` slots, or with
    an epoch budget, fewer epochs committed than the budget."""
    if pair.epoch_budget is None:
        return slot_counts(trials).used < pair.trials
    return epochs_committed(trials, pair.max_epochs) < pair.epoch_budget


def over_budget(trials: Sequence[FrozenTrial], number: int, pair: PairPlan | int) -> bool:
    """Whether a fresh trial numbered `number` arrives after the budget of `pair` (a
    `PairPlan`, or a number of slots) was filled by the trials opened before it."""
    earlier = [t for t in trials if t.number < number]
    if isinstance(pair, int):
        return len({origin(t) for t in earlier if not is_skipped(t)}) >= pair
    return not has_budget(earlier, pair)


def duplicate_confirm(trials: Sequence[FrozenTrial], trial: AnyTrial) -> bool:
    """Whether an earlier, unskipped confirm trial already holds this trial's (seed, params)."""
    key = (trial.user_attrs.get(CONFIRM_SEED), trial.user_attrs.get(CONFIRM_PARAMS))
    return any(
        (t.user_attrs.get(CONFIRM_SEED), t.user_attrs.get(CONFIRM_PARAMS)) == key
        and t.number < trial.number
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
) -> list[FrozenTrial]:
    """Enqueue one confirm trial per missing seed (a second worker doing the same at the same
    moment only adds duplicates, which skip themselves when they start); return the study's
    trials, the enqueued ones included."""
    trials = study.get_trials(deepcopy=False)
    missing = missing_confirm_seeds(trials, seeds, params_text)
    for seed in missing:
        study.enqueue_trial(params, user_attrs={CONFIRM_SEED: seed, CONFIRM_PARAMS: params_text})
    return study.get_trials(deepcopy=False) if missing else trials


def requeue(study: optuna.Study, trial: AnyTrial, *, lost_worker: bool) -> bool:
    """Queue a retry of `trial` (WAITING) that runs the same slot with the same parameters.

    A trial whose worker died is retried `MAX_LOST_RETRIES` time(s); a trial the user
    interrupted is always retried. Returns whether a retry was queued. The retry is an
    enqueued trial (its parameters fixed, so a grid sampler does not spend another grid point
    on it); one whose trial died before drawing its parameters draws them afresh.
    """
    slot = origin(trial)
    newer = [
        t
        for t in study.get_trials(deepcopy=False)
        if t.number > trial.number and origin(t) == slot and not is_skipped(t)
    ]
    if newer:  # already queued again (a worker gave it back before its heartbeat went stale)
        return True
    user_attrs = {k: v for k, v in trial.user_attrs.items() if k != SKIPPED}
    user_attrs[ORIGIN] = slot
    if lost_worker:
        user_attrs[LOST] = int(user_attrs.get(LOST, 0)) + 1
        if user_attrs[LOST] > MAX_LOST_RETRIES:
            return False
    params = trial.params
    if params:
        study.enqueue_trial(params, user_attrs=user_attrs)
    else:
        study.add_trial(optuna.trial.create_trial(state=TrialState.WAITING, user_attrs=user_attrs))
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
            finish_failed(self._store, int(run_id), reason)


def finish_failed(store: Store, run_id: int, reason: str) -> None:
    """Store the run `run_id` as failed for `reason`, with no metrics."""
    store.finish_run(
        run_id,
        state=FAILED,
        failure_reason=reason,
        metrics={},
        train_throughput=None,
        eval_throughput=None,
        wall_time=None,
        epochs_done=None,
    )
