"""The typer application that every command module registers on."""

from __future__ import annotations

from typing import Annotated

import typer
from typer.core import TyperCommand, TyperGroup

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


def _flags_without_placeholder(params: list) -> list:
    """Flags (`--dry-run`, `--json`, `--help`) take no value, so help shows no `<bool>`."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class _Command(TyperCommand):
    def get_params(self, ctx):  # type: ignore[no-untyped-def]
        return _flags_without_placeholder(super().get_params(ctx))


class _Group(TyperGroup):
    def get_params(self, ctx):  # type: ignore[no-untyped-def]
        return _flags_without_placeholder(super().get_params(ctx))


class Typer(typer.Typer):
    """typer.Typer whose commands show flags without a value placeholder (`db` uses it too)."""

    def __init__(self, *args, cls=None, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("context_settings", {"help_option_names": ["-h", "--help"]})
        super().__init__(*args, cls=cls or _Group, **kwargs)

    def command(self, *args, cls=None, **kwargs):  # type: ignore[no-untyped-def,override]
        return super().command(*args, cls=cls or _Command, **kwargs)


app = Typer(
    name="polybench",
    help=(
        "Benchmark classification losses (PolyLoss, focal, cross-entropy) fairly: search each "
        "loss's hyperparameters with Optuna under an equal budget, confirm over seeds, store "
        "every run in SQL, and report whether the differences are real."
    ),
    no_args_is_help=True,
    add_completion=True,
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
