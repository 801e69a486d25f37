"""Alembic migrations of polybench's tables, configured in code so they run from a wheel too.

The scripts live in the top-level `alembic/` folder of a checkout and are shipped inside the
wheel as `polybench/_migrations`. The version table is `polybench_alembic_version`, because
Optuna keeps its own `alembic_version` in the same database.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from alembic import command
from polybench.db._errors import StorageError
from polybench.db._models import VERSION_TABLE, is_polybench_table
from polybench.db._retry import is_transient
from polybench.db._url import (
    WRITE_OPTION,
    create_storage_engine,
    display_url,
    parse_url,
    resolve_storage_url,
    storage_error,
)

log = logging.getLogger(__name__)

# pg_advisory_xact_lock key that serialises polybench migrations on one PostgreSQL database.
_POSTGRES_LOCK_KEY = zlib.crc32(VERSION_TABLE.encode())


@dataclass(frozen=True)
class MigrationStatus:
    """Where a database stands: its polybench revision (None: no polybench tables) and head."""

    url: str
    revision: str | None
    head: str
    exists: bool = True

    @property
    def is_current(self) -> bool:
        return self.revision == self.head

    def describe(self) -> str:
        """One line for people, e.g. `sqlite:///x.db: revision 0002 (head)`."""
        where = display_url(self.url)
        if not self.exists:
            return f"{where}: no database yet; `polybench db upgrade` creates it"
        if self.revision is None:
            return f"{where}: no polybench tables yet (head is {self.head})"
        if self.is_current:
            return f"{where}: revision {self.revision} (head)"
        return f"{where}: revision {self.revision}, head is {self.head}"


def script_location() -> Path:
    """The folder holding env.py and versions/: inside the installed package, else the checkout."""
    packaged = Path(str(files("polybench") / "_migrations"))
    checkout = Path(__file__).resolve().parents[2] / "alembic"
    for folder in (packaged, checkout):
        if (folder / "env.py").is_file():
            return folder
    raise StorageError(
        f"polybench's migration scripts are missing: looked in {packaged} and {checkout}; "
        "reinstall polybench"
    )


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic Config for polybench's scripts; env.py migrates `connection` when given."""
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision the installed polybench knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "polybench ships at least one migration"
    return head


def known_revisions() -> list[str]:
    """All revisions of the installed polybench, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def current_revision(connection: Connection) -> str | None:
    """The polybench revision recorded in the database (None: never migrated), read-only."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def has_polybench_tables(connection: Connection) -> bool:
    return any(is_polybench_table(name) for name in inspect(connection).get_table_names())


@contextmanager
def migration_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds polybench's migration lock, so concurrent first uses of a new
    database migrate it once: SQLite's write lock (BEGIN IMMEDIATE), a PostgreSQL advisory lock."""
    with engine.execution_options(**{WRITE_OPTION: True}).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _POSTGRES_LOCK_KEY}
            )
        yield connection


def migrate(engine: Engine, url: str, revision: str, *, direction: str = "upgrade") -> str | None:
    """Run Alembic `direction` (upgrade or downgrade) to `revision` under the migration lock;
    returns the revision the database is at afterwards."""
    try:
        with migration_transaction(engine) as connection:
            return _migrate_on(connection, revision, direction)
    except CommandError as error:
        raise StorageError(
            f"cannot {direction} {display_url(url)} to {revision!r}: {error}; "
            f"known revisions: base, {', '.join(known_revisions())}, head"
        ) from None
    except DBAPIError as error:
        raise storage_error(url, f"{direction} {revision!r} on", error) from None


def _migrate_on(connection: Connection, revision: str, direction: str) -> str | None:
    config = alembic_config(connection)
    if direction == "upgrade":
        command.upgrade(config, revision)
    else:
        command.downgrade(config, revision)
    return current_revision(connection)


def _schema_state(connection: Connection) -> tuple[str | None, bool]:
    """The recorded revision, and whether polybench tables exist without one."""
    revision = current_revision(connection)
    return revision, revision is None and has_polybench_tables(connection)


def upgrade(storage: str | None = None, revision: str = "head") -> MigrationStatus:
    """Create or migrate polybench's tables in `storage` to `revision` (default: the newest).

    Optuna's tables in the same database are left alone.
    """
    return _migrate_storage(storage, revision, "upgrade")


def downgrade(revision: str, storage: str | None = None) -> MigrationStatus:
    """Migrate polybench's tables in `storage` back to `revision` (`base` drops them all).

    For operators going back to an older polybench; Optuna's tables are left alone.
    """
    return _migrate_storage(storage, revision, "downgrade")


def _migrate_storage(storage: str | None, revision: str, direction: str) -> MigrationStatus:
    url = resolve_storage_url(storage)
    engine = create_storage_engine(url)
    try:
        reached = migrate(engine, url, revision, direction=direction)
    finally:
        engine.dispose()
    return MigrationStatus(url=url, revision=reached, head=head_revision())


def current(storage: str | None = None) -> MigrationStatus:
    """The polybench revision of `storage` and the head of this polybench; changes nothing
    (a missing SQLite file is reported, not created)."""
    url = resolve_storage_url(storage)
    head = head_revision()
    if _sqlite_file_missing(url):
        return MigrationStatus(url=url, revision=None, head=head, exists=False)
    engine = create_storage_engine(url)
    try:
        with engine.connect() as connection:
            revision = current_revision(connection)
    except DBAPIError as error:
        raise storage_error(url, "open storage", error) from None
    finally:
        engine.dispose()
    return MigrationStatus(url=url, revision=revision, head=head)


def ensure_current(engine: Engine, url: str, *, read_only: bool = False) -> None:
    """Check the schema when a store opens: migrate a database without polybench tables (unless
    `read_only`: then say so), and stop with the command to run when it is behind (or ahead of)
    this polybench."""
    head = head_revision()
    try:
        with engine.connect() as connection:
            revision, tables = _schema_state(connection)
        if revision is None and not read_only:
            # Decide again under the migration lock: another process may be creating the tables
            # right now, and the two reads above are two snapshots (PostgreSQL's READ COMMITTED)
            # that can fall either side of its commit.
            with migration_transaction(engine) as connection:
                revision, tables = _schema_state(connection)
                if revision is None and not tables:
                    log.info("creating polybench's tables in %s", display_url(url))
                    _migrate_on(connection, "head", "upgrade")
                    return
    except DBAPIError as error:
        if url.startswith("sqlite") and is_transient(error):
            raise  # another process is migrating this SQLite file: the caller's retry waits
        # (An unreachable server at start-up is reported at once: more often a wrong URL.)
        raise storage_error(url, "open storage", error) from None
    if revision == head:
        return
    where = display_url(url)
    if revision is None and not tables and read_only:
        raise StorageError(
            f"{where} has no polybench tables, so it holds no results; check --storage and "
            "$POLYBENCH_STORAGE, or fill it with `polybench run STUDY.yaml`"
        )
    if revision is None:
        raise StorageError(
            f"{where} has polybench tables but no {VERSION_TABLE} table, so their schema is "
            f"unknown; stamp it with `alembic stamp` or use a new database"
        )
    if revision in known_revisions():
        raise StorageError(
            f"{where} is at polybench schema revision {revision}, behind this polybench "
            f"(head {head}); run `polybench db upgrade --storage {where}`"
        )
    raise StorageError(
        f"{where} is at polybench schema revision {revision}, which this polybench does not "
        f"know (its head is {head}): the database was written by a newer polybench; upgrade "
        f"polybench, or run `polybench db downgrade {head} --storage {where}` with the newer one"
    )


def _sqlite_file_missing(url: str) -> bool:
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return False
    return not Path(parsed.database).exists()
