"""Shared fixtures: real, isolated results databases for every test that needs one.

- `sqlite_url`: `sqlite:///<tmp>/polybench.db`, a file of this test's own (not yet created).
- `pg_url`: a `postgresql+psycopg://` URL on the server at 127.0.0.1:5432, database `test`,
  whose search_path is a fresh schema of this test's own (dropped afterwards), so tests never
  see each other's rows; Optuna given the same URL puts its tables there too. Without a
  reachable server the test is skipped, except under CI (`CI=true`), where it fails.
  `POLYBENCH_TEST_POSTGRES` overrides the server URL.
- `storage_url`: parametrized over both (ids `sqlite` and `postgresql`, the latter marked
  `postgres`); `store`: an open `polybench.db.Store` on `storage_url`, closed afterwards.

All URLs are plain strings to pass as `storage=` / `--storage`, to `open_store`, or to Optuna.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

POSTGRES_SERVER_URL = os.environ.get(
    "POLYBENCH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)


def _postgres_connect(**options: Any) -> Any:
    import psycopg
    from sqlalchemy.engine import make_url

    server = make_url(POSTGRES_SERVER_URL)
    return psycopg.connect(
        host=server.host,
        port=server.port or 5432,
        user=server.username,
        password=server.password,
        dbname=server.database,
        autocommit=True,
        **options,
    )


@pytest.fixture(scope="session")
def _postgres_server() -> str:
    """The test server's URL, once it answered; skip (fail under CI=true) when it does not."""
    import psycopg

    try:
        _postgres_connect(connect_timeout=5).close()
    except psycopg.OperationalError as error:
        reason = " ".join(str(error).split())
        message = f"PostgreSQL test server {POSTGRES_SERVER_URL} is unreachable: {reason}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message} (CI=true: the server must be up; .ci/run starts it)")
        pytest.skip(message)
    return POSTGRES_SERVER_URL


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a SQLite file in this test's temporary folder (created on first use)."""
    return f"sqlite:///{tmp_path / 'polybench.db'}"


@pytest.fixture
def pg_url(_postgres_server: str) -> Iterator[str]:
    """URL of a fresh PostgreSQL schema of this test's own, dropped after the test."""
    from sqlalchemy.engine import make_url

    schema = f"pb_test_{uuid.uuid4().hex[:16]}"
    with _postgres_connect() as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    url = (
        make_url(_postgres_server)
        .set(drivername="postgresql+psycopg")
        .update_query_dict({"options": f"-csearch_path={schema}", "application_name": schema})
        .render_as_string(hide_password=False)
    )
    yield url
    with _postgres_connect() as connection:
        # Connections the test left open (stores not closed, killed workers) must not block
        # the drop; they all carry the schema's name as their application_name.
        connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            (schema,),
        )
        connection.execute("SET lock_timeout = '20s'")
        connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def storage_url(request: pytest.FixtureRequest) -> str:
    """A fresh results database URL, once SQLite and once PostgreSQL."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture
def store(storage_url: str) -> Iterator[Any]:
    """An open `polybench.db.Store` on `storage_url` (tables created), closed afterwards."""
    from polybench.db import open_store

    with open_store(storage_url) as opened:
        yield opened
