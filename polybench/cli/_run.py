"""`polybench run` and `polybench status`: thin shells over `polybench.runner`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer

from polybench.cli._app import Storage, app
from polybench.cli._output import print_table


@app.command(
    "run",
    epilog=(
        "Example: polybench run studies/quickstart.yaml   (--workers auto: one worker per "
        "physical core / the study's threads)\n\n"
        "Many machines: polybench run study.yaml --storage "
        "postgresql+psycopg://user:password@host:5432/db (on each; see docs/scaling.md).\n\n"
        "GPUs: polybench run study.yaml --devices auto --workers-per-device 2"
    ),
)
def run(
    study: Path = typer.Argument(..., help="The study file (YAML), e.g. studies/quickstart.yaml."),
    storage: Storage = None,
    workers: str = typer.Option(
        "auto",
        "--workers",
        help="Worker processes on this machine sharing the storage: a number, or auto (one per "
        "physical core divided by the study's threads, at most the planned runs; with --devices, "
        "devices x --workers-per-device).",
    ),
    devices: str = typer.Option(
        None,
        "--devices",
        help="Place workers round-robin on these devices: auto (every visible GPU) or a list "
        "such as cuda:0,cuda:1. Unset: the study's device setting.",
    ),
    workers_per_device: int = typer.Option(
        1, "--workers-per-device", min=1, help="With --devices: workers per device (small trials)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Validate the study file and print the plan; train nothing."
    ),
    storage_retry: float = typer.Option(
        120.0,
        "--storage-retry",
        min=0,
        metavar="SECONDS",
        help=(
            "How long to keep retrying when the database drops a connection, restarts or is "
            "locked, before the worker stops (exit 75) and gives its trial back to the queue."
        ),
    ),
) -> None:
    """Run (or resume) a study: search each (task, loss) under an equal budget, then confirm
    the best parameters over seeds. Running it again resumes; Ctrl-C stops cleanly."""
    import logging

    from rich.console import Console
    from rich.logging import RichHandler

    from polybench.config import ConfigError
    from polybench.runner import run_study
    from polybench.runner._placement import PlacementError

    console = Console()
    logging.basicConfig(
        level=logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=Console(stderr=True), show_path=False)],
    )
    try:
        summary = run_study(
            study,
            storage=storage,
            workers=workers,
            dry_run=dry_run,
            devices=devices,
            workers_per_device=workers_per_device,
            storage_retry=storage_retry,
        )
    except ConfigError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    except PlacementError as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(2) from None
    if dry_run:
        console.print(summary.plan.describe(), highlight=False)
        console.print(_layout_line(summary.layout), highlight=False)
        console.print(f"storage: {summary.storage} (nothing was written)", highlight=False)
        return
    _print_outcome(summary, console)


def _print_outcome(summary: Any, console: Any) -> None:
    """The summary table and one line of counts; exits non-zero unless the study finished
    (75: database lost, 130: stopped on request, 1: runs left to do)."""
    if summary.table is not None:
        print_table(_summary_table(summary.table, summary.study), console)
    states = ", ".join(f"{n} {s}" for s, n in sorted(summary.runs_by_state.items()))
    console.print(
        f"{summary.stored_runs} of {summary.planned_runs} planned runs stored ({states}) in "
        f"{summary.storage}; {summary.wall_time:.0f} s; {_layout_line(summary.layout)}.",
        highlight=False,
    )
    if summary.storage_lost:
        console.print(
            "A worker lost the results database (see above); nothing is lost: run the same "
            "command again once the database is back.",
            highlight=False,
        )
        raise typer.Exit(75)
    if summary.interrupted:
        console.print("Stopped on request; run the same command again to resume.", highlight=False)
        raise typer.Exit(130)
    if not summary.complete:
        console.print(
            "Some planned runs are not finished (a worker died or a search had no complete "
            "trial); run the same command again to resume.",
            highlight=False,
        )
        raise typer.Exit(1)


@app.command(
    "status", epilog="Example: polybench status quickstart --storage sqlite:///polybench.db"
)
def status(
    study: str | None = typer.Argument(None, help="A study name; omit it to list every study."),
    storage: Storage = None,
    as_json: bool = typer.Option(
        False, "--json", help="Print JSON (one object per row) instead of a table."
    ),
) -> None:
    """Show where studies stand (from any machine that reaches the database).

    Piped (not a terminal), the table is tab-separated: polybench status | cut -f1
    """
    from rich.console import Console
    from rich.table import Table

    from polybench.runner import progress_table, study_status

    console = Console()
    try:
        frame = study_status(storage, study)
    except ValueError as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(frame.to_json(orient="records", date_format="iso", indent=2))
        return
    if study is not None:
        print_table(progress_table(frame), console)
        return
    table = Table(title="studies", title_justify="left")
    for column in frame.columns:
        table.add_column(column, justify="left" if column in ("study", "created_at") else "right")
    for row in frame.itertuples(index=False):
        table.add_row(*["" if v is None else str(v) for v in row])
    print_table(table, console)
    if not len(frame):
        from polybench.db import display_url, resolve_storage_url

        typer.echo(
            f"No studies in {display_url(resolve_storage_url(storage))}. Start one with "
            "`polybench init` and `polybench run quickstart.yaml`, or pass --storage URL.",
            err=True,
        )


def _summary_table(frame, study: str):  # type: ignore[no-untyped-def]
    from rich.table import Table

    table = Table(title=f"{study}: summary", title_justify="left")
    metric = frame.attrs.get("metric", frame["metric"].iloc[0] if len(frame) else "")
    for name in (
        "task",
        "loss",
        "best params",
        f"val {metric}",
        f"test {metric} (mean ± sd)",
        "seeds",
        "train samples/s",
    ):
        text = name in ("task", "loss", "best params")
        # fold long names onto two lines rather than cut them off with an ellipsis
        table.add_column(
            name, justify="left" if text else "right", overflow="fold" if text else "ellipsis"
        )
    for row in frame.itertuples(index=False):
        table.add_row(
            row.task,
            row.loss,
            _params(row.best_params),
            _number(row.val_score),
            "" if _missing(row.test_mean) else f"{row.test_mean:.4f} ± {_number(row.test_std)}",
            str(row.n_seeds),
            "" if _missing(row.train_throughput) else f"{row.train_throughput:,.0f}",
        )
    return table


def _layout_line(layout) -> str:  # type: ignore[no-untyped-def]
    if layout is None:
        return ""
    placed = sorted({d for d in layout.devices if d is not None})
    on = f" on {', '.join(placed)}" if placed else ""
    return f"workers: {layout.workers} x {layout.threads} thread(s){on} ({layout.reason})"


def _missing(value) -> bool:  # type: ignore[no-untyped-def]
    return value is None or (isinstance(value, float) and math.isnan(value))


def _number(value) -> str:  # type: ignore[no-untyped-def]
    return "" if _missing(value) else f"{value:.4f}"


def _params(text) -> str:  # type: ignore[no-untyped-def]
    import json

    if not text:
        return ""
    try:
        params = json.loads(text)
    except (TypeError, ValueError):
        return str(text)
    return (
        ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
        or "(defaults)"
    )
