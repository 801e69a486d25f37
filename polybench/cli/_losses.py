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


@app.command("kernels")
def kernels_command(
    build: bool = typer.Option(
        False,
        "--build",
        help="Compile the kernel now if it is not built (a C++ compiler; about 40 s on 2 cores).",
    ),
    verbose: bool = typer.Option(False, "--verbose", help="With --build: the compiler's output."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Show or build the compiled CPU kernel of the softmax losses' small batches.

    At 64 x 10 on one thread, Poly-1, focal and Poly-1 focal cost 1.4-1.8x F.cross_entropy as
    eager torch ops and about 1.0x as this one compiled op. It is never compiled behind your
    back: `make setup` runs `polybench kernels --build`, and without a build every loss uses
    its eager path, which gives the same values to rounding. POLYBENCH_NATIVE=0 turns it off;
    POLYBENCH_KERNEL_DIR moves its cache (default ~/.cache/polybench/kernels).

    Example: [bold]polybench kernels --build[/bold]
    """
    import json

    from polybench.losses import _native

    if build:
        try:
            _native.build(verbose=verbose)
        except RuntimeError as error:
            typer.echo(f"Error: {error}", err=True)
            raise typer.Exit(1) from None
    info = _native.status()
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    typer.echo(f"library: {info['library']}")
    if info["in_use"]:
        typer.echo("in use: the softmax losses' small batches run the compiled kernel")
    elif info["disabled_by"]:
        typer.echo(f"not in use: {info['disabled_by']} turns it off; losses use their eager path")
    elif info["load_error"]:
        typer.echo(f"not in use: it does not load ({info['load_error']}); run with --build")
    else:
        typer.echo("not built: losses use their eager path; `polybench kernels --build` builds it")
