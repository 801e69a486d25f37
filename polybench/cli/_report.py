"""`polybench report` and `polybench export`: a study's answers in the terminal and in files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from polybench.cli._app import Storage, app

Tasks = Annotated[
    list[str] | None,
    typer.Option("--task", metavar="TASK", help="Only this task (repeat for several)."),
]
Losses = Annotated[
    list[str] | None,
    typer.Option("--loss", metavar="LOSS", help="Only this loss (repeat for several)."),
]


def _fail(error: Exception) -> typer.Exit:
    typer.echo(f"Error: {error}", err=True)
    return typer.Exit(1)


@app.command("report")
def report_command(
    study: Annotated[str, typer.Argument(help="Name of the study (its `name:` in the YAML).")],
    storage: Storage = None,
    task: Tasks = None,
    loss: Losses = None,
    metric: Annotated[
        str | None,
        typer.Option(
            help="accuracy, macro_f1, balanced_accuracy or ece; default: the study's metric."
        ),
    ] = None,
    format: Annotated[
        str, typer.Option("--format", help="table (terminal), md, latex, html or csv.")
    ] = "table",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
    alpha: Annotated[float, typer.Option(help="Significance level of the verdicts.")] = 0.05,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite the --output file if it exists.")
    ] = False,
) -> None:
    """Per task: which loss is best, by how much over cross-entropy, and does it beat noise?

    Columns: best params, validation score, test mean [95% bootstrap CI over seeds],
    Δ to cross-entropy [CI], p-value (Holm-adjusted), Hedges' g, throughput, rank.
    Below: one verdict per task, average ranks and a Friedman test across tasks.

    Example: polybench report quickstart --format md --output quickstart.md
    """
    from polybench import report

    try:
        report.check_format(format)
        if output is not None:
            report.check_output([output], force=force)
        table = report.summary(storage, study, task=task, loss=loss, metric=metric)
        if format == "table" and output is None:
            from rich.console import Console

            console = Console()
            if not console.is_terminal:
                console = Console(width=max(console.width, 200))
            console.print(report.terminal_report(table, alpha))
            return
        text = report.render(table, format, alpha)
    except ValueError as error:
        raise _fail(error) from None
    if output is None:
        typer.echo(text, nl=False)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as error:
            raise _fail(
                ValueError(
                    f"cannot write {str(output)!r}: {error.strerror or error}; choose a file in "
                    "a folder you can write to"
                )
            ) from None
        typer.echo(f"wrote {output}", err=True)


@app.command("export")
def export_command(
    study: Annotated[str, typer.Argument(help="Name of the study to export.")],
    to: Annotated[
        Path,
        typer.Option(
            "--to",
            metavar="FILE",
            help=(
                "runs.csv, runs.parquet or runs.jsonl (epochs go to runs_epochs.<ext>), or "
                "runs.xlsx (sheets runs and epochs)."
            ),
        ),
    ],
    storage: Storage = None,
    task: Tasks = None,
    loss: Losses = None,
    phase: Annotated[str | None, typer.Option(help="search or confirm; default both.")] = None,
    state: Annotated[
        str | None, typer.Option(help="complete, pruned, failed or running; default all.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite the export files if they exist.")
    ] = False,
) -> None:
    """Write a study's runs and epochs to CSV, Parquet, Excel or JSON lines (by extension).

    Example: polybench export quickstart --to runs.parquet
    """
    from polybench import report

    try:
        written = report.export(
            storage, study, to, task=task, loss=loss, phase=phase, state=state, force=force
        )
    except ValueError as error:
        raise _fail(error) from None
    for path in written:
        typer.echo(f"wrote {path}")
