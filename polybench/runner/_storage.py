"""Optuna's RDB storage as polybench uses it: transient faults retried, first use under a lock.

Optuna's `RDBStorage` turns a dropped connection into `StorageInternalError`, and a trial whose
bookkeeping fails is marked FAIL; `RetryingRDBStorage` repeats each storage call on a transient
fault (see `polybench.db.StorageRetry`) before anything reaches Optuna's trial logic.
Heartbeats are the exception: a missed heartbeat is not retried (the next one comes soon). And
right after this process's own calls were held up, no other worker's trial is failed as stale:
their heartbeats were held up by the same fault.

Creating Optuna's tables is not safe when several processes start on an empty database at
once (SQLite: `UNIQUE constraint failed: alembic_version`; PostgreSQL: duplicate type
`studydirection`). `schema_lock` serialises it: a session advisory lock on PostgreSQL, an
exclusive `flock` on a lock file in the temporary folder named after the SQLite file (SQLite
databases are shared by processes of one machine).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import tempfile
import time
import warnings
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from polybench.db._retry import STALL_S, StorageRetry, is_transient
from polybench.db._url import set_sqlite_journal

logger = logging.getLogger(__name__)

# pg_advisory_lock key that serialises the creation of Optuna's tables on one database.
_OPTUNA_LOCK_KEY = zlib.crc32(b"optuna alembic_version")

# RDBStorage methods called by Optuna (directly or through its _CachedStorage wrapper).
_RETRIED = (
    "create_new_study",
    "delete_study",
    "set_study_user_attr",
    "set_study_system_attr",
    "get_study_id_from_name",
    "get_study_name_from_id",
    "get_study_directions",
    "get_study_user_attrs",
    "get_study_system_attrs",
    "get_all_studies",
    "create_new_trial",
    "_create_new_trial",
    "set_trial_param",
    "_set_trial_param",
    "get_trial_id_from_study_id_trial_number",
    "get_trial_number_from_id",
    "get_trial_param",
    "get_best_trial",
    "_get_best_trial_id",
    "set_trial_state_values",
    "set_trial_intermediate_value",
    "set_trial_user_attr",
    "set_trial_system_attr",
    "get_trial",
    "get_all_trials",
    "_get_trials",
    "get_n_trials",
)


class RetryingRDBStorage(optuna.storages.RDBStorage):
    """`RDBStorage` whose calls retry transient faults through `retry`."""

    def __init__(self, url: str, *, retry: StorageRetry, **kwargs: Any) -> None:
        self.retry = retry
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            retry.call(
                lambda: super(RetryingRDBStorage, self).__init__(url, **kwargs),
                what="opening Optuna's storage",
                url=url,
            )
        if self.engine.dialect.name == "sqlite":
            _serialize_sqlite(self.engine)
            self.engine.dispose()  # the connections Optuna opened so far lack the settings

    def record_heartbeat(self, trial_id: int) -> None:
        started = time.monotonic()
        try:
            super().record_heartbeat(trial_id)
        except Exception as error:
            if not is_transient(error):
                raise
            self.retry.note_stall()
            logger.info("heartbeat of trial %d missed: %s", trial_id, error)
            return
        if time.monotonic() - started > STALL_S:
            self.retry.note_stall()

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        """Trials whose heartbeats stopped, except right after this process's own storage
        calls were held up (a lock, a server restarting): every worker's heartbeats were held
        up then too, so they get a fresh grace period instead of being failed and retried."""
        grace = self.grace_period or 2 * (self.heartbeat_interval or 0)
        if self.retry.stalled_within(grace):
            return []
        return self.retry.call(
            lambda: super(RetryingRDBStorage, self)._get_stale_trial_ids(study_id),
            what="looking for stale trials",
            url=self.url,
        )


def _serialize_sqlite(engine: Any) -> None:
    """Optuna's SQLite connections: the store's journal settings, and every transaction takes
    the write lock when it begins (`BEGIN IMMEDIATE`).

    Optuna commits several times per trial; with WAL and `synchronous = NORMAL` (instead of
    SQLite's default fsync per commit) that bookkeeping costs a quarter. And it takes a queued
    trial by reading it WAITING and then writing RUNNING in one session: Python's sqlite3 only
    begins a transaction at the write, so another worker could take the same trial between the
    two, and both ran it (the second to finish died with "Cannot tell a COMPLETE trial").
    Optuna's `with_for_update` is a no-op on SQLite; a transaction holding the write lock from
    its start is SQLite's equivalent, SQLAlchemy's documented recipe for pysqlite.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        set_sqlite_journal(dbapi_connection)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _retried(name: str) -> Callable[..., Any]:
    method = getattr(optuna.storages.RDBStorage, name)
    what = f"calling Optuna's {name.strip('_')}"

    @functools.wraps(method)
    def wrapper(self: RetryingRDBStorage, *args: Any, **kwargs: Any) -> Any:
        return self.retry.call(lambda: method(self, *args, **kwargs), what=what, url=self.url)

    return wrapper


for _name in _RETRIED:
    if hasattr(optuna.storages.RDBStorage, _name):
        setattr(RetryingRDBStorage, _name, _retried(_name))


@contextlib.contextmanager
def schema_lock(url: str) -> Iterator[None]:
    """Hold polybench's lock for creating Optuna's tables in the database at `url`."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database
        if not database or database == ":memory:" or parsed.query.get("mode") == "memory":
            yield
            return
        # Never open the database file itself: closing any descriptor of it drops the POSIX
        # locks SQLite holds on it in this process. Lock a file named after it instead.
        key = zlib.crc32(str(Path(database).resolve()).encode())
        lock_path = Path(tempfile.gettempdir()) / f"polybench-optuna-schema-{key:08x}.lock"
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)  # closing releases the flock
        return
    if backend == "postgresql":
        engine = create_engine(parsed, poolclass=_null_pool())
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _OPTUNA_LOCK_KEY})
                connection.commit()
                try:
                    yield
                finally:
                    with contextlib.suppress(Exception):  # a lost connection released it too
                        connection.execute(
                            text("SELECT pg_advisory_unlock(:key)"), {"key": _OPTUNA_LOCK_KEY}
                        )
                        connection.commit()
        finally:
            engine.dispose()
        return
    yield


def _null_pool() -> Any:
    from sqlalchemy.pool import NullPool

    return NullPool
