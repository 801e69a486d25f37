"""The summary table for people: a rich table in the terminal, Markdown, LaTeX, HTML or CSV."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from polybench.report._summary import format_p, format_params, ranking, verdicts

if TYPE_CHECKING:
    from rich.console import Group

    from polybench.stats import FriedmanResult

REPORT_FORMATS = ("table", "md", "latex", "html", "csv", "json", "tsv")


def check_format(fmt: str) -> str:
    """`fmt` if it is a report format; ValueError naming the allowed ones otherwise."""
    if fmt not in REPORT_FORMATS:
        raise ValueError(
            f"unknown report format {fmt!r}; expected one of {', '.join(REPORT_FORMATS)}"
        )
    return fmt


def display_frame(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary with numbers formatted for reading; one text column per reported quantity."""
    metric = summary.attrs.get("metric", "accuracy")
    baseline = summary.attrs.get("baseline", "cross_entropy")
    confidence = summary.attrs.get("confidence", 0.95)
    columns = ["task", "loss", "best params", f"val {metric}"]
    columns += [f"test {metric} ({confidence:.0%} CI)", "seeds"]
    columns += [f"Δ vs {baseline} ({confidence:.0%} CI)", "p (Holm)", "g", "train samples/s"]
    columns += ["rank", "note"]
    rows = []
    for _, row in summary.iterrows():
        rows.append(
            {
                "task": row["task"],
                "loss": row["loss"],
                "best params": format_params(row["best_params"]),
                f"val {metric}": _number(row["val_score"]),
                f"test {metric} ({confidence:.0%} CI)": _with_interval(
                    row["test_mean"], row["ci_low"], row["ci_high"]
                ),
                "seeds": str(row["n_seeds"]),
                f"Δ vs {baseline} ({confidence:.0%} CI)": _with_interval(
                    row["delta"], row["delta_ci_low"], row["delta_ci_high"], signed=True
                )
                if row["loss"] != baseline
                else "",
                "p (Holm)": _p(row),
                "g": "" if pd.isna(row["hedges_g"]) else f"{row['hedges_g']:+.2f}",
                "train samples/s": _rate(row["train_throughput"]),
                "rank": "" if pd.isna(row["rank"]) else f"{row['rank']:g}",
                "note": row["note"] if isinstance(row["note"], str) else "",
            }
        )
    return pd.DataFrame(rows, columns=columns)


def _number(value: float, signed: bool = False) -> str:
    if pd.isna(value):
        return ""
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def _with_interval(value: float, low: float, high: float, signed: bool = False) -> str:
    if pd.isna(value):
        return ""
    if pd.isna(low):
        return _number(value, signed)
    return f"{_number(value, signed)} [{_number(low, signed)}, {_number(high, signed)}]"


def _p(row: pd.Series) -> str:
    if pd.isna(row["p_value"]):
        return ""
    return f"{format_p(row['p_value'])} ({format_p(row['p_holm'])})"


def _rate(value: float) -> str:
    return "" if pd.isna(value) else f"{value:,.0f}"


def ranking_lines(result: FriedmanResult) -> list[str]:
    """Average ranks across tasks, the Friedman test and the Nemenyi critical difference."""
    if not len(result.average_ranks):
        return []
    ranks = ", ".join(f"{loss} {rank:.2f}" for loss, rank in result.average_ranks.items())
    lines = [f"Average rank over {len(result.tasks)} task(s) (1 = best): {ranks}."]
    if np.isnan(result.statistic):
        lines.append(f"No Friedman test: {result.note}.")
        return lines
    lines.append(
        f"Friedman chi2={result.statistic:.3f}, p={format_p(result.p_value)}; Iman-Davenport "
        f"F={result.iman_davenport:.3f}, p={format_p(result.iman_davenport_p)}; Nemenyi "
        f"critical difference {result.critical_difference:.3f} at alpha={result.alpha}."
    )
    different = result.pairwise[result.pairwise["significant"]]
    pairs = ", ".join(f"{a} vs {b}" for a, b in different[["loss_a", "loss_b"]].to_numpy())
    lines.append(f"Rank differences beyond it: {pairs or 'none'}.")
    if result.note:
        lines.append(f"Note: {result.note}.")
    return lines


def _footer(summary: pd.DataFrame) -> list[str]:
    ci = summary.attrs.get("ci_method", "percentile bootstrap over seeds")
    return [
        f"Intervals: {ci}. Δ = loss minus {summary.attrs.get('baseline', 'cross_entropy')}; "
        "p: two-sided t-test (paired when the seeds pair up, else Welch), Holm-adjusted in "
        "brackets; g: Hedges' g."
    ]


def render(summary: pd.DataFrame, fmt: str = "md", alpha: float = 0.05) -> str:
    """The report as text: `md` (table, verdicts, ranks), `latex` (a table for papers), `html`
    (table and verdicts), `csv` or `json` (the raw summary numbers, machine-readable: one
    object per task and loss), or `tsv` (the terminal table tab-separated, then the verdicts;
    what `polybench report` prints into a pipe)."""
    check_format(fmt)
    if fmt == "csv":
        return summary.to_csv(index=False)
    if fmt == "json":
        return summary.to_json(orient="records", indent=2) + "\n"
    if fmt == "tsv":
        table = display_frame(summary)
        rows = [list(table.columns), *table.astype(str).itertuples(index=False)]
        lines = [
            "\t".join(str(v).replace("\t", " ").replace("\n", " ") for v in row) for row in rows
        ]
        lines += ["", *verdicts(summary, alpha), *ranking_lines(ranking(summary, alpha))]
        return "\n".join(lines + _footer(summary)) + "\n"
    if fmt == "table":
        from rich.console import Console

        console = Console(record=True, width=200, force_terminal=False)
        console.print(terminal_report(summary, alpha))
        return console.export_text()
    table = display_frame(summary)
    lines = verdicts(summary, alpha) + ranking_lines(ranking(summary, alpha))
    if fmt == "md":
        body = [markdown_table(table), ""]
        body += [f"- {line}" for line in lines] + ["", *_footer(summary)]
        return "\n".join(body) + "\n"
    if fmt == "latex":
        styler = table.style.hide(axis="index").format(escape="latex")
        styler = styler.format_index(escape="latex", axis=1)
        caption = " ".join(_footer(summary))
        latex = styler.to_latex(hrules=True, caption=_latex_escape(caption))
        return latex.replace("Δ vs", r"$\Delta$ vs")  # pdflatex has no Unicode Δ
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    footer = html.escape(" ".join(_footer(summary)))
    return (
        table.to_html(index=False, border=0, escape=True) + f"\n<ul>{items}</ul>\n<p>{footer}</p>\n"
    )


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of a frame of text (pipes escaped)."""

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    header = "| " + " | ".join(cell(c) for c in frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join([header, rule, *rows])


def _latex_escape(text: str) -> str:
    for char, escaped in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&")):
        text = text.replace(char, escaped)
    return text.replace("Δ", r"$\Delta$")


def terminal_report(summary: pd.DataFrame, alpha: float = 0.05) -> Group:
    """The rich renderable that `polybench report` prints: table, verdicts, ranks, footnote."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = display_frame(summary)
    study = summary.attrs.get("study", "")
    rich_table = Table(title=f"polybench report {study}".strip(), show_lines=False)
    for column in table.columns:
        justify = "left" if column in ("task", "loss", "best params", "note") else "right"
        # names are never broken across lines: their column is as wide as the longest one
        longest = int(table[column].astype(str).str.len().max()) if len(table) else 0
        min_width = longest if column in ("task", "loss") else None
        rich_table.add_column(column, justify=justify, overflow="fold", min_width=min_width)
    for row in table.itertuples(index=False):
        rich_table.add_row(*[str(v) for v in row])
    lines = verdicts(summary, alpha) + ranking_lines(ranking(summary, alpha))
    parts = [rich_table, *(Text(line) for line in lines), Text(_footer(summary)[0], style="dim")]
    return Group(*parts)
