"""A worker: takes trials from Optuna's storage until the study's plan is done.

Every worker, in this process or another, on this machine or another, runs the same loop over
the plan's (task, loss) pairs: run a search trial while the pair's budget has free slots, then,
once every search slot has finished, enqueue the confirm seeds of the best parameters and run
those. Trials go through `study.optimize(n_trials=1)` so that Optuna's heartbeats watch them.
"""

from __future__ import annotations

import logging
import math
import signal
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState

from polybench.config import DIRECTIONS, StudyConfig, TaskEntry
from polybench.db._retry import StorageRetry, StorageUnavailable
from polybench.runner import _trials
from polybench.runner._plan import ConfirmSeed, PairPlan, StudyPlan
from polybench.runner._registry import PRUNERS, SAMPLERS, SearchContext
from polybench.vocab import (
    BASELINE_LOSS,
    COMPLETE,
    CONFIRM,
    FAILED,
    PRUNED,
    SEARCH,
    TRAIN_THROUGHPUT,
    metric_for_objective,
    params_text,
)

if TYPE_CHECKING:
    from polybench.db import Store

logger = logging.getLogger(__name__)

# A worker with nothing to run while others hold the last trials (a pair's search must end
# before its confirm runs start; the study's final trials) looks again after POLL_SECONDS,
# doubling up to POLL_MAX_SECONDS: quick to take the next trial at the end of a short search,
# few reads of the database when the wait is long.
POLL_SECONDS = 0.1
POLL_MAX_SECONDS = 1.0
# How long a worker that lost the database tries to give its trial back before it stops.
GIVE_BACK_SECONDS = 10.0


class TrialSkipped(Exception):
    """The trial's slot was already taken; it stores no run."""


class TrialFailed(Exception):
    """Training raised or diverged; the run is stored as failed with this reason."""


class TrialInterrupted(Exception):
    """The user interrupted the trial; it was queued again for the next run."""


class TrialTakenOver(Exception):
    """Another worker failed this trial as stale and queued it again: this worker's heartbeats
    could not be written (the database was locked or unreachable for longer than the grace
    period) while it was still training. This worker leaves the trial and its run alone."""


class StorageLost(BaseException):
    """The results database stayed unreachable; the worker stops.

    A BaseException, so that Optuna passes it through without telling the trial FAIL (that
    would need the database it just lost, and would spend the trial's slot): the trial was
    given back to the queue where the database allowed it, else its heartbeat goes stale and
    the next run retries it.
    """

    def __init__(self, error: StorageUnavailable) -> None:
        super().__init__(str(error))
        self.error = error


class Interrupts:
    """SIGINT / SIGTERM become a stop request: training is interrupted at once, bookkeeping is
    not (a signal outside `fitting()` only asks the loop to stop after the current step)."""

    def __init__(self) -> None:
        self.requested = False
        self._fitting = False

    def install(self) -> None:
        """Handle SIGINT and SIGTERM from now on (a worker process's entry point)."""
        try:
            signal.signal(signal.SIGINT, self._handle)
            signal.signal(signal.SIGTERM, self._handle)
        except ValueError:  # not the main thread: the caller handles interrupts
            logger.debug("signal handlers not installed (not the main thread)")

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Handle SIGINT and SIGTERM inside the block, then the caller's handlers again."""
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        self.install()
        try:
            yield
        finally:
            for sig, handler in previous.items():
                with suppress(ValueError, TypeError):  # not the main thread / not set from Python
                    signal.signal(sig, handler)

    def _handle(self, signum: int, frame: Any) -> None:
        first = not self.requested
        self.requested = True
        if first and self._fitting:
            raise KeyboardInterrupt

    @contextmanager
    def fitting(self) -> Iterator[None]:
        self._fitting = True
        try:
            if self.requested:
                raise KeyboardInterrupt
            yield
        finally:
            self._fitting = False

    def sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.requested and time.monotonic() < end:
            time.sleep(min(0.1, max(0.0, end - time.monotonic())))


@dataclass
class WorkerReport:
    """What one worker did: trials it ran and whether it stopped on a request."""

    trials: int = 0
    interrupted: bool = False
    storage_error: str | None = None  # why the worker stopped early: the database was lost


@contextmanager
def optuna_errors_only() -> Iterator[None]:
    """Optuna logs only errors inside the block (its per-trial lines would interleave with the
    progress table), then at the caller's level again."""
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(previous)


def open_optuna_storage(
    url: str, config: StudyConfig, store: Store | None, retry: StorageRetry | None = None
) -> optuna.storages.RDBStorage:
    """Optuna's RDB storage on polybench's URL, with heartbeats (and retries when `store`).

    Its calls retry transient faults like the store's (`retry`, default the store's), and its
    tables are created under a lock, so workers starting together on a new database all work.
    """
    from polybench.runner._storage import RetryingRDBStorage, schema_lock

    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    else:
        kwargs["engine_kwargs"] = {"pool_pre_ping": True}
    retry = retry or (store.retry if store is not None else StorageRetry())
    with schema_lock(url):
        return RetryingRDBStorage(
            url,
            retry=retry,
            heartbeat_interval=config.heartbeat.interval_seconds,
            grace_period=config.heartbeat.grace_seconds,
            heartbeat_stale_trial_callback=(
                _trials.StaleTrialHandler(store) if store is not None else None
            ),
            **kwargs,
        )


class Worker:
    """Runs trials of one study plan until nothing is left or a stop is requested."""

    def __init__(
        self,
        plan: StudyPlan,
        store: Store,
        storage: optuna.storages.BaseStorage,
        *,
        worker_index: int = 0,
        interrupts: Interrupts | None = None,
        on_trial: Callable[[], None] | None = None,
    ) -> None:
        self.plan = plan
        self.config = plan.config
        self.store = store
        self.storage = storage
        self.worker_index = worker_index
        self.interrupts = interrupts or Interrupts()
        self.on_trial = on_trial
        self.report = WorkerReport()
        self._studies: dict[str, optuna.Study] = {}
        self._tasks: dict[tuple[str, int], Any] = {}
        self._no_best_warned: set[str] = set()
        self._run_id: int | None = None
        # Per pair (its search study's name): found searched, and found done (search and
        # confirm), so never read again for that (nothing of it runs or waits, and only a
        # running trial can be queued again); and the best search parameters with the number
        # of search trials they were picked from. Without these the loop re-read every finished
        # pair's runs before each trial (most of the runner's time outside `fit`,
        # `benchmarks/runner.py`).
        self._searched: set[str] = set()
        self._done: set[str] = set()
        self._best: dict[str, tuple[int, dict[str, Any] | None]] = {}

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> WorkerReport:
        """Run trials until the plan is done, a stop is requested or the database is lost
        (`report.storage_error` then says why, in one line)."""
        try:
            return self._loop()
        except StorageLost as lost:
            self.report.storage_error = str(lost.error)
        except Exception as error:
            fault = storage_fault(error)
            if fault is None:
                raise
            self.report.storage_error = str(fault)
        return self.report

    def _loop(self) -> WorkerReport:
        poll = POLL_SECONDS
        while not self.interrupts.requested:
            outcome = self._run_one()
            if outcome == "done":
                return self.report
            if outcome == "ran":
                poll = POLL_SECONDS
                continue
            self.interrupts.sleep(poll)
            poll = min(2 * poll, POLL_MAX_SECONDS)
        self.report.interrupted = True
        return self.report

    def _run_one(self) -> str:
        """Run one trial: 'ran', 'busy' (others hold what is left) or 'done' (nothing left).

        Every pair's search trials come before any confirm run. Then, while some workers run a
        pair's last search trials, the others confirm the pairs already searched, instead of
        waiting at that pair's boundary between search and confirm.
        """
        busy = False
        for step in (self._search_step, self._confirm_step):
            for pair in self.plan.pairs:
                outcome = step(pair)
                if outcome == "ran":
                    return outcome
                busy = busy or outcome == "busy"
        return "busy" if busy else "done"

    def _search_step(self, pair: PairPlan) -> str:
        """Run a search trial of `pair` if one is left: 'ran', 'busy' (others run its last
        ones) or 'done' (searched: nothing runs or waits, so nothing can be queued again)."""
        if pair.search_study in self._searched:
            return "done"
        study = self._search_study(pair)
        trials = study.get_trials(deepcopy=False)
        counts = _trials.slot_counts(trials)
        if counts.waiting or _trials.has_budget(trials, pair):
            self._optimize(study, lambda trial: self._search_objective(pair, trial))
            return "ran"
        if counts.running:
            _fail_stale(study)
            return "busy"
        self._searched.add(pair.search_study)
        return "done"

    def _confirm_step(self, pair: PairPlan) -> str:
        """Run a confirm run of a searched `pair` if one is left: 'ran', 'busy' or 'done'."""
        if pair.search_study in self._done:
            return "done"
        if pair.search_study not in self._searched:
            return "busy"  # its last search trials run elsewhere: the search step said so
        outcome = self._next_confirm(pair)
        if outcome == "done":
            self._done.add(pair.search_study)
        return outcome

    def _next_confirm(self, pair: PairPlan) -> str:
        if not pair.confirm_seeds:
            return "done"
        best = self._best_params(pair, self._search_study(pair).get_trials(deepcopy=False))
        if best is None:
            return "done"
        study = self._confirm_study(pair)
        key = params_text(best)
        trials = [
            t
            for t in _trials.enqueue_confirm(study, pair.confirm_seeds, best, key)
            if t.user_attrs.get(_trials.CONFIRM_PARAMS) == key
        ]
        counts = _trials.slot_counts(trials)
        if counts.waiting:
            self._optimize(study, lambda trial: self._confirm_objective(pair, trial))
            return "ran"
        if counts.running:
            _fail_stale(study)
            return "busy"
        return "done"

    def _optimize(self, study: optuna.Study, objective: Callable[[optuna.Trial], Any]) -> None:
        running: list[optuna.Trial] = []

        def guarded(trial: optuna.Trial) -> Any:
            self._run_id = None
            running.append(trial)
            try:
                return objective(trial)
            except StorageUnavailable as error:
                self._give_back(trial, error)
                raise StorageLost(error) from None
            except optuna.exceptions.UpdateFinishedTrialError:
                raise TrialTakenOver from None

        try:
            study.optimize(
                guarded,
                n_trials=1,
                catch=(TrialSkipped, TrialFailed, TrialInterrupted, TrialTakenOver),
                gc_after_trial=False,
            )
        except ValueError:  # Optuna's "Cannot tell a FAIL trial": it was taken over
            if not running or not self._taken_over(running[0]):
                raise
            logger.warning(
                "%s trial %d: another worker retried it while this worker could not write to "
                "the database (its heartbeats went stale); this worker leaves it",
                study.study_name,
                running[0].number,
            )
        self.report.trials += 1
        if self.on_trial is not None:
            self.on_trial()

    # -- Optuna studies ------------------------------------------------------------------------

    def _seed(self, name: str) -> int:
        """A sampler seed that differs per study, worker and resume, yet is reproducible."""
        base = zlib.crc32(f"{self.config.seed}/{name}".encode())
        existing = 0
        try:
            study_id = self.storage.get_study_id_from_name(name)
            existing = len(self.storage.get_all_trials(study_id, deepcopy=False))
        except KeyError:
            pass
        return (base + 7919 * self.worker_index + 104729 * existing) % (2**31)

    def _search_study(self, pair: PairPlan) -> optuna.Study:
        name = pair.search_study
        if name not in self._studies:
            search = self.config.search
            context = SearchContext(
                seed=self._seed(name),
                trials=pair.trials,
                epochs=pair.max_epochs,
                objectives=len(search.objectives),
                grid=pair.grid,
            )
            has_space = bool(pair.space)
            sampler_name = search.sampler if has_space else "random"
            self._studies[name] = optuna.create_study(
                study_name=name,
                storage=self.storage,
                directions=[DIRECTIONS[m] for m in search.objectives],
                sampler=SAMPLERS[sampler_name](context),
                pruner=PRUNERS[search.pruner](context),
                load_if_exists=True,
            )
            _name_metrics(self._studies[name], list(search.objectives))
        return self._studies[name]

    def _confirm_study(self, pair: PairPlan) -> optuna.Study:
        name = pair.confirm_study
        if name not in self._studies:
            metric = metric_for_objective(self.config.search.objectives[0])
            self._studies[name] = optuna.create_study(
                study_name=name,
                storage=self.storage,
                direction=metric.direction,
                sampler=optuna.samplers.RandomSampler(seed=self._seed(name)),
                load_if_exists=True,
            )
            _name_metrics(self._studies[name], [metric.test_column])
        return self._studies[name]

    def _best_params(
        self, pair: PairPlan, trials: list[optuna.trial.FrozenTrial]
    ) -> dict[str, Any] | None:
        """The parameters of `pair`'s best search run (`stats.best_search_runs`, the rule the
        report and the dashboard share), marked in the store as the one its confirm runs train.

        `trials` are the search study's, all finished. The pick is made afresh whenever their
        number changed (a top-up search, or a retried trial, may have found a better run).
        """
        picked = self._best.get(pair.search_study)
        if picked is None or picked[0] != len(trials):
            picked = (len(trials), self._pick_best(pair, trials))
            self._best[pair.search_study] = picked
        return picked[1]

    def _pick_best(
        self, pair: PairPlan, trials: list[optuna.trial.FrozenTrial]
    ) -> dict[str, Any] | None:
        from polybench.stats import best_search_runs

        runs = self.store.runs(
            study=self.config.name,
            task=pair.task_entry.name,
            loss=pair.loss_entry.name,
            phase=SEARCH,
        )
        runs = runs[runs["optuna_study"] == pair.search_study]
        best = best_search_runs(runs, self.config.search.objectives[0], stored=False)
        if best.empty:
            if pair.search_study not in self._no_best_warned:
                self._no_best_warned.add(pair.search_study)
                logger.warning(
                    "%s: no search trial completed, so there is nothing to confirm",
                    pair.search_study,
                )
            return None
        run = best.iloc[0]
        if not run["best_search"]:
            self.store.mark_best_search(int(run["run_id"]))
        slot = int(run["trial_number"])
        latest = [t for t in _trials.latest_per_slot(trials) if _trials.origin(t) == slot]
        return dict(latest[0].params)

    # -- objectives ----------------------------------------------------------------------------

    def _search_objective(self, pair: PairPlan, trial: optuna.Trial) -> Any:
        if _trials.ORIGIN not in trial.user_attrs:
            trials = trial.study.get_trials(deepcopy=False)
            if _trials.over_budget(trials, trial.number, pair):
                trial.set_user_attr(_trials.SKIPPED, "the budget was filled by another worker")
                raise TrialSkipped
        values = {param.name: param.suggest(trial) for param in pair.space}
        loss_params, settings = pair.split(values)
        search = self.config.search
        return self._train(
            pair,
            trial,
            phase=SEARCH,
            loss_params=loss_params,
            settings=settings,
            seeds=ConfirmSeed(
                seed=self.config.seed,
                init_seed=self.config.seed,
                order_seed=self.config.seed,
                data_seed=None,
            ),
            prune=not search.multi_objective and search.pruner != "none",
        )

    def _confirm_objective(self, pair: PairPlan, trial: optuna.Trial) -> Any:
        if _trials.CONFIRM_SEED not in trial.user_attrs:
            # The waiting seed this worker counted was taken by another worker in between, so
            # Optuna created a fresh trial: there is no seed to confirm here.
            trial.set_user_attr(_trials.SKIPPED, "the confirm seed was taken by another worker")
            raise TrialSkipped
        trials = trial.study.get_trials(deepcopy=False)
        if not _trials.is_retry(trial) and _trials.duplicate_confirm(trials, trial):
            trial.set_user_attr(_trials.SKIPPED, "this confirm seed was enqueued twice")
            raise TrialSkipped
        values = {param.name: param.suggest(trial) for param in pair.space}
        loss_params, settings = pair.split(values)
        return self._train(
            pair,
            trial,
            phase=CONFIRM,
            loss_params=loss_params,
            settings=settings,
            seeds=pair.confirm_seed(int(trial.user_attrs[_trials.CONFIRM_SEED])),
            prune=False,
        )

    def _train(
        self,
        pair: PairPlan,
        trial: optuna.Trial,
        *,
        phase: str,
        loss_params: dict[str, Any],
        settings: dict[str, Any],
        seeds: ConfirmSeed,
        prune: bool,
    ) -> Any:
        """Train one run of `trial`, store it and return the trial's objective value(s)."""
        from polybench.train import fit

        data_seed = self._data_seed(pair.task_entry, seeds.data_seed)
        task = self._task(pair.task_entry, data_seed)
        run_id = self._start_run(pair, trial, phase, {**loss_params, **settings}, seeds, data_seed)
        try:
            with self.interrupts.fitting():
                result = fit(
                    task,
                    pair.model,
                    pair.loss_entry.loss,
                    loss_params,
                    seed=seeds.init_seed,
                    order_seed=seeds.order_seed,
                    device=self.config.device,
                    threads=self.config.threads,
                    amp=self.config.amp,
                    channels_last=self.config.channels_last,
                    compile=self.config.compile,
                    on_epoch=self._epoch_recorder(run_id, trial, prune),
                    evaluate_test=phase == CONFIRM,
                    **_training_options(pair.task_entry, settings),
                )
        except StorageUnavailable:
            raise
        except optuna.exceptions.UpdateFinishedTrialError:
            raise TrialTakenOver from None  # its run row is the retry's now: leave it alone
        except KeyboardInterrupt:
            self._finish_failed(run_id, "interrupted by the user; runs again on resume")
            _trials.requeue(trial.study, trial, lost_worker=False)
            raise TrialInterrupted from None
        except Exception as error:
            reason = f"{type(error).__name__}: {error}"
            logger.warning("%s trial %d failed: %s", trial.study.study_name, trial.number, reason)
            self._finish_failed(run_id, reason)
            trial.set_user_attr("failure_reason", reason)
            trial.set_user_attr(_trials.EPOCHS, 0)
            raise TrialFailed(reason) from None
        return self._finish(run_id, trial, phase, result)

    def _start_run(
        self,
        pair: PairPlan,
        trial: optuna.Trial,
        phase: str,
        params: dict[str, Any],
        seeds: ConfirmSeed,
        data_seed: int,
    ) -> int:
        """Store the run of `trial`'s slot as running (a retry rewrites its slot's row)."""
        run_id = self.store.start_run(
            study=self.config.name,
            task=pair.task_entry.name,
            model=pair.model,
            loss=pair.loss_entry.name,
            params=params,
            seed=seeds.seed,
            seeds={
                "init_seed": seeds.init_seed,
                "order_seed": seeds.order_seed,
                "data_seed": data_seed,
            },
            phase=phase,
            optuna_study=trial.study.study_name,
            trial_number=_trials.origin(trial),
            environment=_environment(self.config.device),
        )
        self._run_id = run_id
        trial.set_user_attr(_trials.RUN_ID, run_id)
        return run_id

    def _epoch_recorder(
        self, run_id: int, trial: optuna.Trial, prune: bool
    ) -> Callable[[Any], bool]:
        """`fit`'s `on_epoch`: store each epoch; when `prune`, report the study's objective
        to the pruner (which reads its direction from the study) and say whether to stop."""
        watched = self.config.search.objectives[0]

        def on_epoch(record: Any) -> bool:
            self.store.record_epoch(
                run_id,
                record.epoch,
                record.train_loss,
                record.val_loss,
                record.val_accuracy,
                record.lr,
                record.seconds,
                record.train_throughput,
                val_macro_f1=record.val_macro_f1,
                val_balanced_accuracy=record.val_balanced_accuracy,
                val_ece=record.val_ece,
            )
            if not prune:
                return False
            value = getattr(record, watched)
            if value is None or not math.isfinite(value):
                return False
            trial.report(float(value), record.epoch)
            return trial.should_prune()

        return on_epoch

    def _finish(self, run_id: int, trial: optuna.Trial, phase: str, result: Any) -> Any:
        """Store `result` on the run and turn it into `trial`'s outcome: its objective
        value(s), or TrialPruned / TrialFailed. A complete run whose objective is not finite
        is stored as failed."""
        objectives = self.config.search.objectives
        metrics = dict(result.metrics)
        state, reason = result.state, result.failure_reason
        if phase == SEARCH:
            wanted = [m for m in objectives if m != TRAIN_THROUGHPUT]
        else:
            wanted = [metric_for_objective(objectives[0]).test_column]
        if state == COMPLETE and any(
            metrics.get(m) is None or not math.isfinite(metrics[m]) for m in wanted
        ):
            state, reason = FAILED, f"the objective is not finite: {metrics}"
        self.store.finish_run(
            run_id,
            state=state,
            failure_reason=reason,
            metrics=metrics,
            train_throughput=result.train_throughput,
            eval_throughput=result.eval_throughput,
            wall_time=result.wall_time,
            epochs_done=result.epochs_done,
        )
        trial.set_user_attr(TRAIN_THROUGHPUT, result.train_throughput)
        trial.set_user_attr(_trials.EPOCHS, int(result.epochs_done))
        if state == PRUNED:
            raise optuna.TrialPruned(f"pruned after epoch {result.epochs_done}")
        if state != COMPLETE:
            trial.set_user_attr("failure_reason", reason)
            raise TrialFailed(reason or "training failed")
        if phase == CONFIRM:
            return metrics[wanted[0]]
        values = [
            result.train_throughput if m == TRAIN_THROUGHPUT else metrics[m] for m in objectives
        ]
        return values[0] if len(values) == 1 else values

    def _taken_over(self, trial: optuna.Trial) -> bool:
        """Whether `trial`, still running here, was finished by another worker's stale check."""
        stored = [t for t in trial.study.get_trials(deepcopy=False) if t.number == trial.number]
        return bool(stored) and stored[0].state == TrialState.FAIL

    def _finish_failed(self, run_id: int, reason: str) -> None:
        _trials.finish_failed(self.store, run_id, reason)

    def _give_back(self, trial: optuna.Trial, error: StorageUnavailable) -> None:
        """After the database was lost mid-trial: put the trial back in the queue (not a
        spent FAIL) and end its run row, keeping its epochs, if the database allows it within
        a few seconds; otherwise the next run finds the trial's heartbeat stale and retries it."""
        run_id, self._run_id = self._run_id, None
        try:
            with self.store.retry.brief(GIVE_BACK_SECONDS):
                _trials.requeue(trial.study, trial, lost_worker=False)
                trial.set_user_attr("failure_reason", str(error))
                trial.study.tell(trial, state=TrialState.FAIL)
                if run_id is not None:
                    self._finish_failed(
                        run_id, "the results database was unreachable; runs again on resume"
                    )
        except Exception as cleanup:
            logger.info("could not give the trial back yet (%s); the next run retries it", cleanup)

    def _data_seed(self, spec: TaskEntry, varied: int | None) -> int:
        """The split's seed: a confirm seed's own when `split` is varied, else the task's
        `data_seed` option, else the study seed."""
        if varied is not None:
            return varied
        return int(spec.options.get("data_seed", self.config.seed))

    def _task(self, spec: TaskEntry, data_seed: int) -> Any:
        key = (spec.name, data_seed)  # one entry per condition: labels differ, options too
        if key not in self._tasks:
            from polybench.tasks import load_task

            options = spec.options | {"data_seed": data_seed}
            self._tasks[key] = load_task(spec.task, **options)
            record_loss_costs(self.store, self.config, spec, self._tasks[key])
        return self._tasks[key]


def record_loss_costs(store: Any, config: StudyConfig, spec: TaskEntry, task: Any) -> None:
    """Measure and store the study's loss cost ratios for this task, unless a worker already
    did: forward + backward of each loss (its fixed params) against cross-entropy on logits of
    the task's batch shape, on this worker's device. Never stops the study: a failure is logged,
    except that of the database itself (StorageUnavailable), which stops the worker as anywhere.
    """
    import platform

    from polybench.losses._cost import measure_loss_costs
    from polybench.train import resolve_device

    # Labelled entries (a second cross-entropy with other settings) are not measured: the
    # costs are keyed by the registered loss that `measure_loss_costs` builds.
    losses = {loss.loss: dict(loss.params) for loss in config.losses if loss.label is None}
    losses.setdefault(BASELINE_LOSS, {})
    try:
        stored = store.loss_costs(study=config.name, task=spec.name)
        if set(losses) <= set(stored["loss"]):
            return
        batch_size = min(spec.batch_size or task.defaults.batch_size, len(task.train))
        device = resolve_device(config.device)
        costs = measure_loss_costs(
            losses, batch=batch_size, classes=task.num_classes, device=device, budget_seconds=0.5
        )
        store.record_loss_costs(
            study=config.name,
            task=spec.name,
            costs=costs.values(),
            batch_size=batch_size,
            num_classes=task.num_classes,
            device=str(device),
            host=platform.node(),
        )
    except Exception as error:  # the ratio informs the report; it must not stop training
        if storage_fault(error) is not None:
            raise  # the database is gone: the worker's own fault handling, as anywhere else
        logger.warning("loss cost ratios for task %s not measured: %s", spec.name, error)


def _training_options(spec: TaskEntry, settings: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments of `fit` from the task entry, overridden by tuned settings."""
    options: dict[str, Any] = {
        "epochs": spec.epochs,
        "batch_size": spec.batch_size,
        "optimizer": spec.optimizer.name,
        "lr": spec.optimizer.lr,
        "weight_decay": spec.optimizer.weight_decay,
        "schedule": spec.schedule,
        "model_params": dict(spec.model_options) or None,
    }
    options.update(settings)
    return {name: value for name, value in options.items() if value is not None}


def _environment(device: str) -> Any:
    from polybench.train import environment, resolve_device

    return environment(resolve_device(device))


def storage_fault(error: BaseException) -> StorageUnavailable | None:
    """The StorageUnavailable behind `error`, if any (Optuna may wrap it while telling)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, StorageUnavailable):
            return current
        if isinstance(current, StorageLost):
            return current.error
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _name_metrics(study: optuna.Study, names: list[str]) -> None:
    """Label the study's objectives (`val_accuracy`, ...) so that optuna-dashboard and
    `optuna studies` show them instead of "Objective 0"; written once per study."""
    import warnings

    if study.metric_names == names:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(names)


def _fail_stale(study: optuna.Study) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
