"""`polybench db upgrade|current|downgrade`: create, inspect and migrate the results database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

import typer

from polybench.cli._app import Storage, Typer, app

db_app = Typer(
    name="db",
    help=(
        "Create, inspect and migrate polybench's tables in the results database (Optuna's "
        "tables in the same database are never touched)."
    ),
    no_args_is_help=True,
)
app.add_typer(db_app, name="db")

Result = TypeVar("Result")


def _one_line_errors(run: Callable[[], Result]) -> Result:
    """Run `run`; a StorageError becomes one `Error: ...` line on stderr and exit status 1."""
    from polybench.db import StorageError

    try:
        return run()
    except StorageError as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(1) from None


@db_app.command("upgrade")
def upgrade_command(
    revision: Annotated[
        str, typer.Argument(help="Revision to migrate to; the newest by default.")
    ] = "head",
    storage: Storage = None,
) -> None:
    """Create polybench's tables, or migrate them to the newest schema.

    Example: polybench db upgrade --storage postgresql://postgres@127.0.0.1:5432/test
    """
    from polybench.db import upgrade

    typer.echo(_one_line_errors(lambda: upgrade(storage, revision)).describe())


@db_app.command("current")
def current_command(storage: Storage = None) -> None:
    """Show the database's polybench schema revision and the newest this polybench knows.

    Example: polybench db current --storage sqlite:///polybench.db
    """
    from polybench.db import current

    typer.echo(_one_line_errors(lambda: current(storage)).describe())


@db_app.command("downgrade")
def downgrade_command(
    revision: Annotated[
        str, typer.Argument(help="Revision to go back to, e.g. 0001; `base` drops the tables.")
    ],
    storage: Storage = None,
) -> None:
    """Migrate polybench's tables back to an older revision, for an older polybench.

    Example: polybench db downgrade 0001 --storage sqlite:///polybench.db
    """
    from polybench.db import downgrade

    typer.echo(_one_line_errors(lambda: downgrade(revision, storage)).describe())
