"""Alembic environment for polybench's own tables (never Optuna's).

polybench runs these scripts itself (`polybench db upgrade`), passing an open connection in
`config.attributes["connection"]`. From a checkout the `alembic` command works as well:
`alembic -x storage=sqlite:///polybench.db upgrade head` (without `-x storage` it uses
`$POLYBENCH_STORAGE`, else `sqlite:///polybench.db`).
"""

from __future__ import annotations

from sqlalchemy import Connection

from alembic import context
from polybench.db._models import VERSION_TABLE, Base, include_name
from polybench.db._url import create_storage_engine, resolve_storage_url

config = context.config


def _configure(**options: object) -> None:
    context.configure(
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        include_name=include_name,
        compare_type=True,
        **options,
    )


def _run_on(connection: Connection) -> None:
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def _storage_url() -> str:
    return resolve_storage_url(context.get_x_argument(as_dictionary=True).get("storage"))


if context.is_offline_mode():
    _configure(url=_storage_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()
elif (connection := config.attributes.get("connection")) is not None:
    _run_on(connection)
else:
    engine = create_storage_engine(_storage_url())
    try:
        with engine.begin() as connection:
            _run_on(connection)
    finally:
        engine.dispose()
