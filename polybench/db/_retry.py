"""Transient storage faults: recognise them and retry with bounded exponential backoff.

A dropped connection, a PostgreSQL server restarting or a SQLite database locked by another
writer are not training failures: the write is retried (0.5 s, 1 s, 2 s, ... at most 15 s
apart) until it succeeds or `seconds` (default 120) have passed. Then `StorageUnavailable`
says, in one line, which database, what was being written and for how long it was tried.
Every write polybench makes is idempotent (upserts keyed by trial, run and epoch), so
repeating a transaction whose commit was lost does not double anything.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from polybench.db._errors import StorageError
from polybench.db._url import display_url, one_line

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_RETRY_SECONDS = 120.0
FIRST_DELAY_S = 0.5
MAX_DELAY_S = 15.0
# A storage call that took longer than this was held up (a lock, a server away), and so, most
# likely, were every other worker's heartbeats: see `StorageRetry.stalled_within`.
STALL_S = 2.0

# SQLSTATEs of faults that go away by themselves: connection exceptions (class 08), the
# server shutting down or starting up (57P01-57P03), serialization failures and deadlocks.
_TRANSIENT_SQLSTATES = ("08", "57P01", "57P02", "57P03", "40001", "40P01", "53300")
# Driver messages of the same faults, for errors that carry no SQLSTATE (SQLite, lost sockets).
_TRANSIENT_MESSAGES = (
    "database is locked",
    "database table is locked",
    "database is busy",
    "server closed the connection",
    "terminating connection",
    "connection refused",
    "connection is closed",
    "connection already closed",
    "the connection is lost",
    "consuming input failed",
    "could not receive data",
    "could not send data",
    "the database system is",  # ... starting up / shutting down / in recovery mode
    "connection reset",
    "broken pipe",
    "no connection to the server",
    "ssl syscall error",
    "connection timeout expired",
    "timeout expired",
)
# Faults that retrying cannot fix even though they arrive as connection errors.
_PERMANENT_MESSAGES = ("password authentication failed", "does not exist", "no pg_hba.conf")


class StorageUnavailable(StorageError):
    """The results database stayed unreachable (or locked) for the whole retry budget."""


def is_transient(error: BaseException) -> bool:
    """Whether `error` (or an error it was raised from) is a fault that may go away by itself:
    a lost or refused connection, a server restarting, a locked SQLite database."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _transient_here(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _transient_here(error: BaseException) -> bool:
    from sqlalchemy import exc

    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, exc.DisconnectionError | exc.TimeoutError):
        return True
    message = str(getattr(error, "orig", None) or error).lower()
    if any(text in message for text in _PERMANENT_MESSAGES):
        return False
    sqlstate = getattr(getattr(error, "orig", error), "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(_TRANSIENT_SQLSTATES):
        return True
    if isinstance(error, ConnectionError | TimeoutError):
        return True
    kinds = (exc.OperationalError, exc.InterfaceError)
    try:
        import sqlite3

        kinds += (sqlite3.OperationalError,)
    except ImportError:  # pragma: no cover - Python without sqlite3
        pass
    try:
        import psycopg

        kinds += (psycopg.OperationalError, psycopg.InterfaceError)
    except ImportError:  # pragma: no cover - psycopg is a dependency
        pass
    return isinstance(error, kinds) and any(text in message for text in _TRANSIENT_MESSAGES)


class StorageRetry:
    """Retries callables on transient storage faults for up to `seconds` in all.

    One instance is shared by a process's results store and Optuna storage. Calls nested
    inside a retried call are not retried on their own (the outer call repeats them), and
    `brief(s)` shortens the budget for clean-up after the database was given up on.
    """

    def __init__(self, seconds: float = DEFAULT_RETRY_SECONDS) -> None:
        if not seconds >= 0:
            raise ValueError(f"storage retry seconds must be >= 0, got {seconds}")
        self.seconds = float(seconds)
        self._local = threading.local()
        self._last_stall: float | None = None

    def note_stall(self) -> None:
        """Record that a storage call was held up just now (called by this class's retries,
        and by callers that time their own calls, such as Optuna's heartbeats)."""
        self._last_stall = time.monotonic()

    def stalled_within(self, seconds: float) -> bool:
        """Whether a storage call of this process was held up in the last `seconds`: then other
        workers' heartbeats were held up too, and are not evidence that those workers died."""
        last = self._last_stall
        return last is not None and time.monotonic() - last < seconds

    def call(self, function: Callable[[], T], *, what: str, url: str) -> T:
        """`function()`, repeated on transient faults; raises StorageUnavailable when the
        budget is spent, and any other error at once."""
        if getattr(self._local, "depth", 0):
            return function()
        self._local.depth = 1
        try:
            return self._call(function, what=what, url=url)
        finally:
            self._local.depth = 0

    def _call(self, function: Callable[[], T], *, what: str, url: str) -> T:
        budget = getattr(self._local, "budget", None)
        seconds = self.seconds if budget is None else min(budget, self.seconds)
        started = time.monotonic()
        delay = FIRST_DELAY_S
        attempt = 0
        while True:
            attempt += 1
            try:
                value = function()
            except Exception as error:
                if not is_transient(error):
                    raise
                waited = time.monotonic() - started
                if waited + delay > seconds:
                    raise StorageUnavailable(
                        f"cannot reach the results database {display_url(url)} while "
                        f"{what}: {one_line(_root(error), url)} (tried {attempt} times over "
                        f"{waited:.0f} s; the limit is {seconds:g} s, set with --storage-retry)"
                    ) from error
                logger.info("%s: %s; retrying in %.1f s", what, one_line(_root(error), url), delay)
                time.sleep(delay)
                delay = min(delay * 2, MAX_DELAY_S)
                continue
            if attempt > 1 or time.monotonic() - started > STALL_S:
                self.note_stall()
            return value

    @contextmanager
    def brief(self, seconds: float) -> Iterator[None]:
        """Within the block, give up after `seconds` (clean-up once the database failed)."""
        previous = getattr(self._local, "budget", None)
        self._local.budget = seconds
        try:
            yield
        finally:
            self._local.budget = previous


def _root(error: BaseException) -> BaseException:
    """The driver error under Optuna's and SQLAlchemy's wrappers, for the message."""
    cause = error.__cause__
    return cause if cause is not None and is_transient(cause) else error
