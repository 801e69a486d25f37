"""`polybench losses`: every registered loss with its hyperparameters (a shell over
`polybench.losses.describe_losses`)."""

from __future__ import annotations

from typing import Any

import typer

from polybench.cli._app import app


@app.command("losses")
def losses_command(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List every loss with its hyperparameters: default, valid range, tunable (search range).

    Example: [bold]polybench losses[/bold]  or  [bold]polybench losses --json | jq '.[].name'[/bold]
    """
    from polybench.cli._output import print_listing
    from polybench.losses import describe_losses

    def fill(table: Any, console: Any) -> None:
        for row in rows:
            first = True
            for hp in row["hyperparams"]:
                search = (
                    f"yes [{hp['search_low']:g}, {hp['search_high']:g}]" if hp["tunable"] else "no"
                )
                if console.is_terminal:
                    name = f"[bold]{row['name']}[/bold]\n{row['summary']}" if first else ""
                else:  # one self-contained line per hyperparameter for grep and cut
                    name = row["name"]
                table.add_row(
                    name,
                    hp["name"],
                    repr(hp["default"]),
                    hp["range"] + (" or None" if hp["optional"] else ""),
                    search,
                    hp["help"],
                    end_section=hp is row["hyperparams"][-1],
                )
                first = False
            if not row["hyperparams"]:
                table.add_row(row["name"], "", "", "", "", row["summary"], end_section=True)

    rows = describe_losses()
    columns = ("loss", "hyperparameter", "default", "valid", "tunable (search)", "meaning")
    print_listing(rows, as_json=as_json, title="polybench losses", columns=columns, fill=fill)
