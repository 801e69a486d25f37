"""Tables that work in a terminal and in a pipe.

In a terminal, tables are rich tables whose name columns (study, task, loss, model, ...) never
wrap, so a name is never broken across lines. When standard output is not a terminal
(`polybench losses | grep poly1_sigmoid_focal`, `| cut -f2`, `| column -t -s $'\\t'`), the same
table is printed as tab-separated values: one header line, one line per row, no wrapping, no
borders, no markup.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

# Columns that hold names people grep for; they never wrap in a terminal.
NAME_COLUMNS = frozenset({"study", "task", "loss", "model", "hyperparameter", "metric"})


def plain(cell: Any) -> str:
    """The text of a rich cell (markup removed), on one line."""
    from rich.text import Text

    if isinstance(cell, Text):
        text = cell.plain
    elif isinstance(cell, str):
        text = Text.from_markup(cell).plain
    else:
        text = str(cell)
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def table_rows(table: Table) -> tuple[list[str], list[list[str]]]:
    """The header and rows of a rich table as plain one-line strings."""
    header = [plain(column.header) for column in table.columns]
    columns = [[plain(cell) for cell in column.cells] for column in table.columns]
    rows = [list(row) for row in zip(*columns, strict=True)] if columns else []
    return header, rows


def tsv(table: Table) -> str:
    """The table as tab-separated values (tabs and newlines inside cells become spaces)."""
    header, rows = table_rows(table)
    lines = ["\t".join(cell.replace("\t", " ") for cell in row) for row in [header, *rows]]
    return "\n".join(lines) + "\n"


def keep_names_whole(table: Table) -> Table:
    """Make the name columns of `table` wide enough for their longest name, and never wrap."""
    for column in table.columns:
        if plain(column.header) not in NAME_COLUMNS:
            continue
        words = [
            word
            for cell in column.cells
            for line in [plain(cell)]
            for word in line.split()
            if "_" in word or word.isidentifier()
        ]
        longest = max((len(word) for word in words), default=0)
        column.min_width = max(column.min_width or 0, longest)
        column.overflow = "fold"
    return table


def print_table(table: Table, console: Console | None = None) -> None:
    """Print `table`: a rich table in a terminal, TSV when stdout is a pipe or a file."""
    import sys

    from rich.console import Console

    console = console or Console()
    if console.is_terminal:
        console.print(keep_names_whole(table))
        return
    sys.stdout.write(tsv(table))
    sys.stdout.flush()


def print_listing(
    rows: list[dict[str, Any]],
    *,
    as_json: bool,
    title: str,
    columns: Sequence[str],
    fill: Callable[[Table, Console], None],
) -> None:
    """Print a `polybench losses / tasks / models` listing: `rows` as JSON with `--json`, else
    a table of `columns` (long text folds) that `fill(table, console)` adds the rows to."""
    if as_json:
        import json

        import typer

        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    fill(table, console)
    print_table(table, console)
