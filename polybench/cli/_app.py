"""The typer application that every command module registers on."""

from __future__ import annotations

from typing import Annotated

import typer

import polybench

# The `--storage` option every command that touches the results database takes.
Storage = Annotated[
    str | None,
    typer.Option(
        "--storage",
        metavar="URL",
        help=(
            "SQLAlchemy URL of the results database; default $POLYBENCH_STORAGE, else "
            "sqlite:///polybench.db in the working directory."
        ),
    ),
]

app = typer.Typer(
    name="polybench",
    help=(
        "Benchmark classification losses (PolyLoss, focal, cross-entropy) fairly: search each "
        "loss's hyperparameters with Optuna under an equal budget, confirm over seeds, store "
        "every run in SQL, and report whether the differences are real."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"polybench {polybench.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_show_version,
        is_eager=True,
        help="Print polybench's version and exit.",
    ),
) -> None:
    """polybench: is your loss really better? Search, confirm over seeds, and test it."""
