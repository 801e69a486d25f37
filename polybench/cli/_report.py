"""`polybench report` and `polybench export`: a study's answers in the terminal and in files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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
        str,
        typer.Option(
            "--format",
            help="table (terminal), md, latex, html, csv, json or tsv; or page: a Markdown "
            "page with the figures and the runs (Parquet) in --figures DIR (needs --output).",
        ),
    ] = "table",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (the same as --format json).")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
    alpha: Annotated[float, typer.Option(help="Significance level of the verdicts.")] = 0.05,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite the --output file if it exists.")
    ] = False,
    margin: Annotated[
        float | None,
        typer.Option(
            help="Equivalence margin in the metric's units (0.005 = half a point of accuracy); "
            "default: the study's report.margin. With it a loss can be called equivalent."
        ),
    ] = None,
    figures: Annotated[
        Path | None,
        typer.Option(
            "--figures",
            metavar="DIR",
            help="Also write the dashboard's figures (sensitivity, accuracy-throughput, average "
            "ranks) to DIR as PNG and SVG, through Kaleido and a Chromium.",
        ),
    ] = None,
    mde: Annotated[
        float | None,
        typer.Option(
            "--mde",
            metavar="DELTA",
            help="Instead of the report: what the seeds could detect, and how many seeds a "
            "difference of DELTA (metric units) needs at 80% power.",
        ),
    ] = None,
) -> None:
    """Per task: is each loss better or worse than cross-entropy, equivalent, or inconclusive?

    Columns: best params, validation score, test mean [95% t-interval over seeds], seeds (and
    failed seeds), Δ to cross-entropy [paired 95% t-interval], p-value (Holm-adjusted), d_z,
    g_av, the minimum detectable difference at 80% power, verdict, throughput, rank. Below: one
    verdict per task; across tasks: average ranks, Friedman (exact p with few tasks), Wilcoxon,
    probability of improvement and interquartile mean. A --metric other than the study's own
    is labelled exploratory.
    Then the budget ledger (trials complete/pruned/failed, epochs, compute seconds per loss),
    the expected best validation score after k = 1, 2, 4, ... trials, and which sources of
    variance the confirm seeds varied.

    Piped (not a terminal), the table is tab-separated, followed by the verdicts.

    Examples: polybench report quickstart --format md --output quickstart.md;
    polybench report quickstart --margin 0.005; polybench report quickstart --mde 0.01;
    polybench report reference --format page --figures docs/results --output docs/results.md
    """
    from polybench import report

    if as_json:
        format = "json"
    if format == "page":
        _page(storage, study, figures, output, force, metric=metric, alpha=alpha, margin=margin)
        return
    try:
        report.check_format(format)
        if output is not None:
            report.check_output([output], force=force)
        table = report.summary(
            storage, study, task=task, loss=loss, metric=metric, alpha=alpha, margin=margin
        )
        if mde is not None:
            text = report.render_power(report.power_table(table, mde), format)
            _write(text, output)
            return
        spent = report.budget(storage, study, task=task, loss=loss, metric=metric)
        if figures is not None:
            drawn = report.study_figures(storage, study, metric=metric)
            for path in report.write_figures(drawn, figures):
                typer.echo(f"wrote {path}", err=True)
        if format == "table" and output is None:
            from rich.console import Console

            console = Console()
            if console.is_terminal:
                console.print(report.terminal_report(table, alpha))
                for part in report.budget_renderables(spent):
                    console.print(part)
            else:
                text = report.render(table, "tsv", alpha) + report.budget_text(spent, "tsv")
                typer.echo(text, nl=False)
            return
        text = report.render(table, format, alpha) + report.budget_text(spent, format)
    except ValueError as error:
        raise _fail(error) from None
    _write(text, output)


def _page(
    storage: str | None,
    study: str,
    figures: Path | None,
    output: Path | None,
    force: bool,
    **options: Any,
) -> None:
    """`--format page`: the page to --output, its figures and runs into --figures."""
    from polybench import report

    if figures is None or output is None:
        raise _fail(
            ValueError(
                "--format page writes a Markdown page and the files it links: give both "
                "--figures DIR and --output FILE.md"
            )
        )
    try:
        report.check_output([output], force=force)
        published = report.publish(storage, study, figures, output, **options)
    except ValueError as error:
        raise _fail(error) from None
    for path in published.files:
        typer.echo(f"wrote {path}", err=True)
    _write(published.text, output)


def _write(text: str, output: Path | None) -> None:
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
