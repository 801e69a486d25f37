"""`polybench init`: write an example study file into the working directory (a shell over
`polybench.studies.init_study`)."""

from __future__ import annotations

from pathlib import Path

import typer

from polybench.cli._app import app


@app.command("init")
def init_command(
    name: str = typer.Argument("quickstart", help="Which example study; see --list."),
    directory: Path = typer.Option(
        Path("."), "--dir", metavar="DIR", help="Where to write NAME.yaml."
    ),
    show: bool = typer.Option(False, "--list", help="List the example studies and exit."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write an example study file (quickstart by default) to run, read and edit.

    Example: [bold]polybench init[/bold] then [bold]polybench run quickstart.yaml[/bold]
    """
    from polybench.studies import example_studies, init_study, summary

    if show:
        from rich.table import Table

        from polybench.cli._output import print_table

        table = Table(title="example studies (polybench init NAME)", title_justify="left")
        table.add_column("study", no_wrap=True)
        table.add_column("what it compares", overflow="fold")
        for study, path in example_studies().items():
            table.add_row(study, summary(path))
        print_table(table)
        return
    try:
        path = init_study(name, directory, force=force)
    except (ValueError, FileExistsError) as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(1) from None
    shown = path if directory != Path(".") else path.name
    typer.echo(f"wrote {shown}; run it with:  polybench run {shown}")
