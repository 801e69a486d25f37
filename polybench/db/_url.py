"""Storage URLs: which database to use, how to show it safely, and how to connect to it.

`--storage URL`, else the environment variable `POLYBENCH_STORAGE`, else `sqlite:///polybench.db`
in the working directory. Plain `postgresql://` URLs are mapped to psycopg 3
(`postgresql+psycopg://`), so polybench and Optuna get the same, working URL.
"""

from __future__ import annotations

import os
import re
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from polybench.db._errors import StorageError

STORAGE_ENV = "POLYBENCH_STORAGE"
DEFAULT_STORAGE_URL = "sqlite:///polybench.db"
SUPPORTED_BACKENDS = ("sqlite", "postgresql")
SQLITE_BUSY_TIMEOUT_S = 30.0
POSTGRES_CONNECT_TIMEOUT_S = 10
# Engine execution option: the store's write transactions take SQLite's write lock at BEGIN.
WRITE_OPTION = "polybench_write"

_DRIVER_ALIASES = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}
# user:password@ in a string that SQLAlchemy cannot parse (scheme typos included)
_PASSWORD_IN_URL = re.compile(r"(?P<head>(?:^|[/\s])[^:/@\s]*:)(?P<password>[^@\s]*)(?P<tail>@)")
_EXAMPLES = "sqlite:///polybench.db or postgresql://user:password@host:5432/dbname"


def resolve_storage_url(url: str | None = None) -> str:
    """The SQLAlchemy URL to use: `url`, else `$POLYBENCH_STORAGE`, else the local SQLite file.

    >>> resolve_storage_url("postgresql://postgres@127.0.0.1:5432/test")
    'postgresql+psycopg://postgres@127.0.0.1:5432/test'
    """
    chosen = (url or "").strip() or os.environ.get(STORAGE_ENV, "").strip()
    return sqlalchemy_url(chosen or DEFAULT_STORAGE_URL)


def sqlalchemy_url(url: str) -> str:
    """`url` with `postgresql://` (and `postgres://`) mapped to psycopg 3; raises StorageError
    with one clear line if it cannot be parsed."""
    parsed = parse_url(url)
    driver = _DRIVER_ALIASES.get(parsed.drivername)
    if driver is None:
        return url
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def parse_url(url: str) -> URL:
    """The parsed SQLAlchemy URL, or StorageError naming the (password-hidden) URL."""
    try:
        return make_url(url)
    except (ArgumentError, ValueError) as error:
        raise StorageError(
            f"cannot parse storage URL {display_url(url)!r}: {one_line(error)}; "
            f"expected for example {_EXAMPLES}"
        ) from None


def display_url(url: str) -> str:
    """`url` with any password replaced by `***`, safe to print and log."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return _PASSWORD_IN_URL.sub(r"\g<head>***\g<tail>", url)


def one_line(error: BaseException, url: str | None = None) -> str:
    """The driver's reason for `error` on one line, without any password in `url`."""
    reason = str(getattr(error, "orig", None) or error)
    reason = reason.split("\n(Background on this error", 1)[0]
    reason = " ".join(reason.split())
    if url is not None:
        password = _password(url)
        if password:
            reason = reason.replace(password, "***")
    return reason or type(error).__name__


def storage_error(
    url: str, action: str, error: BaseException, *, during: str | None = None
) -> StorageError:
    """A one-line StorageError: `cannot <action> <url> [(during)]: <driver's reason>[; what to
    do]`."""
    reason = one_line(error, url)
    advice = next((text for key, text in _ADVICE if key in reason.lower()), None)
    where = f"{display_url(url)} ({during})" if during else display_url(url)
    return StorageError(f"cannot {action} {where}: {reason}" + (f"; {advice}" if advice else ""))


# What to do about the driver errors people meet, keyed by a piece of the driver's message.
_ADVICE = (
    (
        "readonly database",
        "the file or its folder is read-only; make both writable (SQLite writes -wal and -shm "
        "files beside it), or use a copy",
    ),
    (
        "file is not a database",
        "the file is damaged or not a SQLite database; restore it from a backup or point "
        "--storage at another file",
    ),
    (
        "malformed",
        "the file is damaged; restore it from a backup, or try `sqlite3 FILE .recover`",
    ),
    (
        "database is locked",
        "another program holds a write lock on it; close that program (or wait) and try again",
    ),
    (
        "unable to open database file",
        "check that the path exists and that its folder is readable and writable",
    ),
    ("disk i/o error", "check the disk and the file's permissions"),
    (
        "connection refused",
        "is the database server running and listening on that host and port?",
    ),
    ("password authentication failed", "check the user name and password in the URL"),
)


def create_storage_engine(url: str, *, read_only: bool = False) -> Engine:
    """An Engine for `url`, set up for several writers (or, `read_only`, for reading only).

    SQLite: WAL journal, a 30 s busy timeout and foreign keys on every connection; transactions
    opened through `engine.execution_options(polybench_write=True)` start with
    `BEGIN IMMEDIATE`, so a writer waits for the lock instead of failing half way.
    PostgreSQL: psycopg 3 with a connect timeout and pre-ping. `read_only` SQLite opens the
    file with `mode=ro` (never created, never written) and StorageError when it is missing.
    """
    parsed = parse_url(sqlalchemy_url(url))
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise StorageError(
            f"cannot use storage {display_url(url)!r}: backend {backend!r} is not supported; "
            f"polybench stores results in {' or '.join(SUPPORTED_BACKENDS)} "
            f"(for example {_EXAMPLES})"
        )
    if backend == "sqlite" and is_sqlite_memory(parsed):
        raise StorageError(
            f"cannot use storage {display_url(url)!r}: it is a SQLite database in memory, which "
            "each worker process would get a copy of and which vanishes when polybench exits; "
            "give a file instead, e.g. sqlite:///polybench.db"
        )
    options: dict[str, Any] = {}
    if backend == "sqlite" and read_only:
        parsed = _sqlite_read_only(url, parsed)
    if backend == "sqlite":
        options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
    else:
        options["pool_pre_ping"] = True
        if "connect_timeout" not in parsed.query:
            options["connect_args"] = {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S}
    try:
        engine = create_engine(parsed, **options)
    except (ArgumentError, NoSuchModuleError, ImportError) as error:
        raise storage_error(url, "open storage", error) from None
    if backend == "sqlite":
        _configure_sqlite(engine, read_only=read_only)
    return engine


def _sqlite_read_only(url: str, parsed: URL) -> URL:
    """`parsed` as a `file:...?mode=ro` URI; StorageError naming the path when it is missing."""
    from pathlib import Path
    from urllib.parse import quote

    database = str(parsed.database)
    if database.startswith("file:"):
        return parsed.update_query_dict({"mode": "ro", "uri": "true"})
    path = Path(database).expanduser().resolve()
    if not path.is_file():
        raise StorageError(
            f"no results database at {path} (from storage URL {display_url(url)!r}); check "
            "--storage and $POLYBENCH_STORAGE, or create it with `polybench run STUDY.yaml`"
        )
    query = {"mode": "ro", "uri": "true"}
    wal = path.with_name(path.name + "-wal")
    if not os.access(path.parent, os.W_OK) and not wal.exists():
        # Nobody can write here (no journal can be created), and a WAL database cannot be
        # opened read-only without creating its -shm file: read it as an immutable file.
        query["immutable"] = "1"
    return parsed.set(database=f"file:{quote(str(path))}").update_query_dict(query)


def is_sqlite_memory(parsed: URL) -> bool:
    """Whether a parsed sqlite URL names an in-memory database (`sqlite://`, `:memory:`)."""
    database = parsed.database or ""
    return (
        database in ("", ":memory:")
        or database.startswith("file::memory:")
        or parsed.query.get("mode") == "memory"
    )


def _configure_sqlite(engine: Engine, *, read_only: bool = False) -> None:
    # SQLAlchemy's documented recipe: the driver emits no BEGIN of its own, we emit it, so DDL
    # is transactional and writers can ask for the write lock up front.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()
        if not read_only:  # switching the journal writes to the file
            set_sqlite_journal(dbapi_connection)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def set_sqlite_journal(dbapi_connection: Any) -> None:
    """The journal of every connection that writes to a SQLite database: WAL, synced at
    checkpoints (`synchronous = NORMAL`), so a commit costs no fsync. A crashed process loses
    nothing; a power cut may lose the last commits, never the database. The store's and
    Optuna's connections use the same, so both halves of a run are equally durable."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def _password(url: str) -> str | None:
    try:
        return make_url(url).password  # type: ignore[return-value]
    except (ArgumentError, ValueError):
        match = _PASSWORD_IN_URL.search(url)
        return match.group("password") if match else None
