"""The results store: idempotent writes from many workers, filtered reads as DataFrames.

>>> from polybench.db import open_store
>>> with open_store("sqlite:///polybench.db") as store:  # doctest: +SKIP
...     store.ensure_study("quickstart", open("studies/quickstart.yaml").read())
...     run_id = store.start_run(study="quickstart", task="digits", model="small_cnn",
...         loss="poly1_cross_entropy", params={"epsilon": 1.0}, seed=0, phase="search",
...         optuna_study="quickstart/digits/poly1_cross_entropy", trial_number=0,
...         environment={"host": "box", "device": "cpu"})
...     store.runs(study="quickstart", loss="poly1_cross_entropy")
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

import polybench
from polybench.db._frames import (
    EPOCH_COLUMNS,
    LOSS_COST_COLUMNS,
    RUN_COLUMNS,
    STUDY_COLUMNS,
    add_param_columns,
    frame,
)
from polybench.db._migrations import ensure_current
from polybench.db._models import (
    ENVIRONMENT_KEYS,
    METRICS,
    SEED_KEYS,
    Base,
    Epoch,
    LossCost,
    Run,
    Study,
)
from polybench.db._retry import StorageRetry
from polybench.db._url import (
    WRITE_OPTION,
    create_storage_engine,
    display_url,
    resolve_storage_url,
    storage_error,
)
from polybench.errors import UnknownName, did_you_mean
from polybench.vocab import (
    FINISHED_STATES,
    PHASES,
    RUNNING,
    SEARCH,
    TRAIN_THROUGHPUT,
    params_text,
)

if TYPE_CHECKING:
    import pandas as pd

Filter = str | Sequence[str] | None
# Bound parameters per IN (...) list: well under SQLite's and PostgreSQL's limits.
_IN_CHUNK = 500
T = TypeVar("T")
_ACTIONS = {
    "ensure_study": "recording the study",
    "start_run": "starting a run",
    "record_epoch": "recording an epoch",
    "finish_run": "recording how a run ended",
    "runs": "reading runs",
    "epochs": "reading epochs",
    "studies": "reading studies",
    "record_loss_costs": "recording loss costs",
    "loss_costs": "reading loss costs",
}


def open_store(
    url: str | None = None, *, retry: StorageRetry | None = None, read_only: bool = False
) -> Store:
    """Open the results store at `url` (else `$POLYBENCH_STORAGE`, else `sqlite:///polybench.db`).

    A database without polybench's tables gets them (migrated to the newest schema); one that is
    behind this polybench raises StorageError telling you to run `polybench db upgrade`. So do an
    unparsable or unreachable URL, with the password hidden and the driver's reason.
    Once open, reads and writes retry transient faults (a lost connection, a locked SQLite
    file) as `retry` says (default: for up to 2 minutes), then raise StorageUnavailable.
    `read_only=True` (status, reports, exports, the dashboard) creates and writes nothing: a
    missing SQLite file or a database without polybench's tables is a StorageError.
    """
    resolved = resolve_storage_url(url)
    engine = create_storage_engine(resolved, read_only=read_only)
    retry = retry or StorageRetry()
    try:
        if resolved.startswith("sqlite"):
            # Processes opening one fresh SQLite file together wait for the one migrating it
            # (PostgreSQL serialises that with an advisory lock; an unreachable server at
            # start-up is reported at once, as it is more often a wrong URL).
            retry.call(
                lambda: ensure_current(engine, resolved, read_only=read_only),
                what="open storage",
                url=resolved,
            )
        else:
            ensure_current(engine, resolved, read_only=read_only)
    except BaseException:
        engine.dispose()
        raise
    return Store(engine, resolved, retry=retry)


def _retried(method: Callable[..., T]) -> Callable[..., T]:
    """Repeat a store method (one transaction, idempotent) on transient faults."""
    what = _ACTIONS.get(method.__name__, method.__name__)

    @functools.wraps(method)
    def wrapper(self: Store, *args: Any, **kwargs: Any) -> T:
        try:
            return self.retry.call(lambda: method(self, *args, **kwargs), what=what, url=self.url)
        except DBAPIError as error:  # not transient: a damaged, read-only or foreign database
            raise storage_error(self.url, "use", error, during=what) from None

    return wrapper


class Store:
    """Read and write polybench's results tables; use `open_store` to get one.

    Writes are short transactions, safe from many processes at once: `start_run` is idempotent
    per Optuna trial, `record_epoch` per (run, epoch). Reads filter in SQL and return DataFrames
    with the columns of `RUN_COLUMNS` / `EPOCH_COLUMNS`. Close it (or use `with`) when done.
    """

    def __init__(self, engine: Engine, url: str, *, retry: StorageRetry | None = None) -> None:
        self._engine = engine
        self.retry = retry or StorageRetry()
        self._writer = engine.execution_options(**{WRITE_OPTION: True})
        self.url = url
        """The SQLAlchemy URL, password included: hand it to Optuna for the same database."""

    @property
    def display_url(self) -> str:
        """The URL with any password hidden, for messages and logs."""
        return display_url(self.url)

    def close(self) -> None:
        """Release the store's connections."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.display_url!r})"

    # ---- writes -------------------------------------------------------------------------------

    @_retried
    def ensure_study(self, name: str, config_text: str) -> None:
        """Record study `name` with its study file's text; a study already there keeps its
        creation time and gets the newest text and polybench version."""
        values = {
            "name": name,
            "config_text": config_text,
            "created_at": _now(),
            "polybench_version": polybench.__version__,
        }
        with self._writer.begin() as connection:
            statement = _upsert(
                connection.dialect.name,
                "polybench_study",
                ("name",),
                ("config_text", "polybench_version"),
            )
            connection.execute(statement, values)

    @_retried
    def start_run(
        self,
        *,
        study: str,
        task: str,
        model: str,
        loss: str,
        params: Mapping[str, Any],
        seed: int,
        phase: str,
        optuna_study: str | None,
        trial_number: int | None,
        environment: Mapping[str, Any] | Any,
        seeds: Mapping[str, int | None] | None = None,
    ) -> int:
        """Record a run as `running` and return its id.

        Idempotent per (optuna_study, trial_number): the same trial again gets the same run id,
        reset to running with its old metrics and epochs cleared. Runs without an Optuna trial
        (either is None) always get a new row. `environment` has the keys host, device,
        torch_version, threads, git_commit (a dataclass with those fields works too). `seeds`
        may give `init_seed`, `order_seed` and `data_seed` (where each source of randomness of
        the run came from); missing ones are stored as NULL.
        """
        _check_choice("phase", phase, PHASES)
        seeds = dict(seeds or {})
        unknown = sorted(set(seeds) - set(SEED_KEYS))
        if unknown:
            raise UnknownName("seed key", unknown[0], SEED_KEYS)
        values: dict[str, Any] = {
            "task": task,
            "model": model,
            "loss": loss,
            "params": _json_params(params),
            "seed": int(seed),
            **{key: None if seeds.get(key) is None else int(seeds[key]) for key in SEED_KEYS},
            "phase": phase,
            "state": RUNNING,
            "failure_reason": None,
            "optuna_study": optuna_study,
            "trial_number": None if trial_number is None else int(trial_number),
            **dict.fromkeys(METRICS),
            TRAIN_THROUGHPUT: None,
            "eval_throughput": None,
            "wall_time": None,
            "epochs_done": 0,
            **_environment(environment),
            "started_at": _now(),
            "finished_at": None,
        }
        with self._writer.begin() as connection:
            values["study_id"] = self._study_id(connection, study)
            if optuna_study is None or trial_number is None:
                return connection.scalar(insert(Run).values(values).returning(Run.id))
            key = ("optuna_study", "trial_number")
            updated = tuple(name for name in values if name not in key)
            statement = _upsert(connection.dialect.name, "polybench_run", key, updated, "id")
            run_id = connection.execute(statement, values).scalar_one()
            connection.execute(delete(Epoch).where(Epoch.run_id == run_id))
            return run_id

    @_retried
    def record_epoch(
        self,
        run_id: int,
        epoch: int,
        train_loss: float | None,
        val_loss: float | None,
        val_accuracy: float | None,
        lr: float | None,
        seconds: float | None,
        train_throughput: float | None,
        *,
        val_macro_f1: float | None = None,
        val_balanced_accuracy: float | None = None,
        val_ece: float | None = None,
    ) -> None:
        """Write one epoch of run `run_id` now, so a killed run still shows its curve.

        Idempotent per (run_id, epoch): writing an epoch again replaces it. The run's
        `epochs_done` becomes the number of epochs written so far. The validation metrics
        (`EPOCH_METRICS`) are what a pruner watching the study's objective saw.
        """
        given = locals()
        values = {"run_id": int(run_id), "epoch": int(epoch)}
        values |= {name: _number(given[name]) for name in EPOCH_COLUMNS if name not in values}
        with self._writer.begin() as connection:
            self._check_run(connection, run_id)
            key = ("run_id", "epoch")
            updated = tuple(name for name in values if name not in key)
            statement = _upsert(connection.dialect.name, "polybench_epoch", key, updated)
            connection.execute(statement, values)
            count = select(func.count()).where(Epoch.run_id == run_id).scalar_subquery()
            connection.execute(update(Run).where(Run.id == run_id).values(epochs_done=count))

    @_retried
    def mark_best_search(self, run_id: int) -> None:
        """Mark search run `run_id` as the one whose parameters its (task, loss) confirms, and
        no other search run of its Optuna study (the runner calls this as it picks them)."""
        with self._writer.begin() as connection:
            self._check_run(connection, run_id)
            run = connection.execute(
                select(Run.study_id, Run.task, Run.loss, Run.optuna_study).where(Run.id == run_id)
            ).one()
            same = update(Run).where(
                Run.study_id == run.study_id,
                Run.task == run.task,
                Run.loss == run.loss,
                Run.optuna_study.is_not_distinct_from(run.optuna_study),
                Run.phase == SEARCH,
            )
            connection.execute(same.values(best_search=Run.id == run_id))

    @_retried
    def finish_run(
        self,
        run_id: int,
        *,
        state: str,
        failure_reason: str | None = None,
        metrics: Mapping[str, float | None],
        train_throughput: float | None,
        eval_throughput: float | None,
        wall_time: float | None,
        epochs_done: int | None,
    ) -> None:
        """Record how run `run_id` ended: state complete, pruned or failed, its metrics (keys from
        `METRICS`; missing ones and NaN are stored as NULL), throughputs (samples/s), wall time (s).
        `epochs_done=None` keeps the count of epochs written so far (a run that was cut short).
        """
        _check_choice("state", state, FINISHED_STATES)
        unknown = sorted(set(metrics) - set(METRICS))
        if unknown:
            raise UnknownName("metric", unknown[0], METRICS, owner=f"finish_run(run_id={run_id})")
        values = {
            "state": state,
            "failure_reason": failure_reason,
            **{name: _number(metrics.get(name)) for name in METRICS},
            TRAIN_THROUGHPUT: _number(train_throughput),
            "eval_throughput": _number(eval_throughput),
            "wall_time": _number(wall_time),
            "finished_at": _now(),
        }
        if epochs_done is not None:
            values["epochs_done"] = int(epochs_done)
        with self._writer.begin() as connection:
            self._check_run(connection, run_id)
            connection.execute(update(Run).where(Run.id == run_id).values(values))

    @_retried
    def record_loss_costs(
        self,
        *,
        study: str,
        task: str,
        costs: Iterable[Any],
        batch_size: int,
        num_classes: int,
        device: str,
        host: str | None = None,
    ) -> int:
        """Store loss cost ratios (`polybench.losses._cost.LossCost`: loss, ratio, ratio_low,
        ratio_high, seconds, rounds) for `task` of `study`, measured on `(batch_size,
        num_classes)` logits on `device`. The first measurement per (study, task, loss) is kept:
        workers that measured at the same moment insert nothing. Returns the rows inserted."""
        measured_at = _now()
        inserted = 0
        with self._writer.begin() as connection:
            study_id = self._study_id(connection, study)
            insert_for = (
                postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
            )
            for cost in costs:
                statement = insert_for(LossCost).values(
                    study_id=study_id,
                    task=task,
                    loss=cost.loss,
                    batch_size=int(batch_size),
                    num_classes=int(num_classes),
                    device=str(device),
                    ratio=float(cost.ratio),
                    ratio_low=float(cost.ratio_low),
                    ratio_high=float(cost.ratio_high),
                    seconds=float(cost.seconds),
                    rounds=int(cost.rounds),
                    host=host,
                    measured_at=measured_at,
                )
                statement = statement.on_conflict_do_nothing(
                    index_elements=["study_id", "task", "loss"]
                ).returning(LossCost.id)
                inserted += len(connection.execute(statement).all())
        return inserted

    # ---- reads --------------------------------------------------------------------------------

    @_retried
    def loss_costs(self, study: Filter = None, task: Filter = None) -> pd.DataFrame:
        """Stored loss cost ratios, one row per (study, task, loss); columns `LOSS_COST_COLUMNS`."""
        columns = [Study.name, *(getattr(LossCost, name) for name in list(LOSS_COST_COLUMNS)[1:])]
        statement = (
            select(*columns)
            .join(Study, LossCost.study_id == Study.id)
            .order_by(Study.name, LossCost.task, LossCost.loss)
        )
        if study is not None:
            statement = statement.where(Study.name.in_(_values(study)))
        if task is not None:
            statement = statement.where(LossCost.task.in_(_values(task)))
        with self._engine.connect() as connection:
            rows = connection.execute(statement).all()
        return frame(rows, LOSS_COST_COLUMNS)

    @_retried
    def runs(
        self,
        study: Filter = None,
        task: Filter = None,
        loss: Filter = None,
        phase: Filter = None,
        state: Filter = None,
    ) -> pd.DataFrame:
        """Runs matching every given filter (a value or a list of values), ordered by run id.

        Columns: `RUN_COLUMNS` in order, then one float64 `param_<name>` column per
        hyperparameter found in the selected runs' params, sorted by name.
        """
        columns = [
            Run.id,
            Study.name,
            *(getattr(Run, name) for name in list(RUN_COLUMNS)[2:]),
        ]
        statement = select(*columns).join(Study, Run.study_id == Study.id).order_by(Run.id)
        for column, wanted in (
            (Study.name, study),
            (Run.task, task),
            (Run.loss, loss),
            (Run.phase, phase),
            (Run.state, state),
        ):
            if wanted is not None:
                statement = statement.where(column.in_(_values(wanted)))
        with self._engine.connect() as connection:
            rows = connection.execute(statement).all()
        params_index = list(RUN_COLUMNS).index("params")
        params = [row[params_index] or {} for row in rows]
        rows = [
            (*row[:params_index], params_text(p), *row[params_index + 1 :])
            for row, p in zip(rows, params, strict=True)
        ]
        return add_param_columns(frame(rows, RUN_COLUMNS), params)

    @_retried
    def epochs(self, study: Filter = None, run_ids: Iterable[int] | None = None) -> pd.DataFrame:
        """Epoch rows of the runs in `study` and/or `run_ids`, ordered by run id and epoch;
        columns `EPOCH_COLUMNS`."""
        columns = [getattr(Epoch, name) for name in EPOCH_COLUMNS]
        base = select(*columns).order_by(Epoch.run_id, Epoch.epoch)
        if study is not None:
            base = base.join(Run, Epoch.run_id == Run.id).join(Study, Run.study_id == Study.id)
            base = base.where(Study.name.in_(_values(study)))
        rows: list[Any] = []
        with self._engine.connect() as connection:
            if run_ids is None:
                rows = list(connection.execute(base).all())
            else:
                wanted = sorted({int(run_id) for run_id in run_ids})
                for start in range(0, len(wanted), _IN_CHUNK):
                    chunk = wanted[start : start + _IN_CHUNK]
                    rows.extend(connection.execute(base.where(Epoch.run_id.in_(chunk))).all())
        return frame(rows, EPOCH_COLUMNS)

    @_retried
    def studies(self) -> pd.DataFrame:
        """One row per study: name, creation time, polybench version, study file text, run count."""
        runs = func.count(Run.id)
        statement = (
            select(Study.name, Study.created_at, Study.polybench_version, Study.config_text, runs)
            .outerjoin(Run, Run.study_id == Study.id)
            .group_by(Study.id)
            .order_by(Study.created_at, Study.name)
        )
        with self._engine.connect() as connection:
            rows = connection.execute(statement).all()
        return frame(rows, STUDY_COLUMNS)

    # ---- helpers ------------------------------------------------------------------------------

    def _study_id(self, connection: Connection, name: str) -> int:
        study_id = connection.scalar(select(Study.id).where(Study.name == name))
        if study_id is None:
            known = list(connection.scalars(select(Study.name).order_by(Study.name)))
            raise ValueError(
                f"study {name!r} is not in {self.display_url}; known studies: "
                f"{', '.join(known) or 'none'}; call ensure_study first."
                + did_you_mean(name, known)
            )
        return study_id

    def _check_run(self, connection: Connection, run_id: int) -> None:
        # Lock the run row first (PostgreSQL; SQLite's writer already holds the database lock),
        # so every write takes the run before its epochs, as start_run does: no deadlocks.
        query = select(Run.id).where(Run.id == run_id).with_for_update(key_share=True)
        if connection.scalar(query) is None:
            raise ValueError(f"run_id {run_id} is not a run in {self.display_url}")


@functools.cache
def _upsert(
    dialect: str,
    table: str,
    key: tuple[str, ...],
    updated: tuple[str, ...],
    returning: str | None = None,
) -> Any:
    """INSERT ... ON CONFLICT (key) DO UPDATE SET updated = excluded values [RETURNING]: one
    atomic, race-safe statement on SQLite and PostgreSQL; built once, values bound per call."""
    insert_for = postgresql.insert if dialect == "postgresql" else sqlite.insert
    target = Base.metadata.tables[table]
    statement = insert_for(target)
    statement = statement.on_conflict_do_update(
        index_elements=[target.c[name] for name in key],
        set_={name: statement.excluded[name] for name in updated},
    )
    return statement.returning(target.c[returning]) if returning else statement


def _now() -> datetime:
    return datetime.now(UTC)


def _number(value: Any) -> float | None:
    """A float for the database; None and NaN become NULL."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _values(wanted: str | Sequence[str]) -> list[str]:
    return [wanted] if isinstance(wanted, str) else list(wanted)


def _check_choice(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise UnknownName(name, value, allowed)


def _json_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Params as plain JSON values (numpy scalars become Python numbers); NaN is refused."""

    def plain(value: Any) -> Any:
        if hasattr(value, "item"):
            return value.item()
        raise TypeError(f"{type(value).__name__} is not JSON serializable")

    try:
        return json.loads(json.dumps(dict(params), default=plain, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise ValueError(f"params {dict(params)!r} cannot be stored as JSON: {error}") from None


def _environment(environment: Mapping[str, Any] | Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(environment) and not isinstance(environment, type):
        environment = dataclasses.asdict(environment)
    unknown = sorted(set(environment) - set(ENVIRONMENT_KEYS))
    if unknown:
        raise UnknownName("environment key", unknown[0], ENVIRONMENT_KEYS)
    values = {key: environment.get(key) for key in ENVIRONMENT_KEYS}
    if values["threads"] is not None:
        values["threads"] = int(values["threads"])
    return {
        key: value if key == "threads" or value is None else str(value)
        for key, value in values.items()
    }


__all__ = ["Store", "open_store"]
