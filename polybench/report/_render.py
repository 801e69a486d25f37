"""The summary table for people: a rich table in the terminal, Markdown, LaTeX, HTML or CSV."""

from __future__ import annotations

import html
import io
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from polybench import stats
from polybench.report._summary import (
    exploratory_note,
    format_p,
    format_params,
    ranking,
    seed_scores,
    verdicts,
)
from polybench.vocab import ACCURACY, BASELINE_LOSS, TRAIN_THROUGHPUT

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


def _metric_label(summary: pd.DataFrame) -> str:
    metric = summary.attrs.get("metric", ACCURACY.name)
    return f"{metric} (exploratory)" if summary.attrs.get("exploratory") else metric


def display_frame(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary with numbers formatted for reading; one text column per reported quantity."""
    metric = _metric_label(summary)
    baseline = summary.attrs.get("baseline", BASELINE_LOSS)
    confidence = summary.attrs.get("confidence", 0.95)
    test_column = f"test {metric} ({confidence:.0%} CI)"
    delta_column = f"Δ vs {baseline} ({confidence:.0%} CI)"
    columns = ["task", "loss", "best params", f"val {metric}", test_column, "seeds"]
    columns += [delta_column, "p (Holm)", "d_z", "g_av", "MDE (80%)", "verdict"]
    columns += [f"train samples/s ({confidence:.0%} CI)", f"loss cost (x {baseline})"]
    columns += ["rank", "note"]
    rows = []
    for _, row in summary.iterrows():
        is_baseline = row["loss"] == baseline
        rows.append(
            {
                "task": row["task"],
                "loss": row["loss"],
                "best params": format_params(row["best_params"]),
                f"val {metric}": _number(row["val_score"]),
                test_column: _with_interval(row["test_mean"], row["ci_low"], row["ci_high"]),
                "seeds": _seeds(row),
                delta_column: ""
                if is_baseline
                else _with_interval(
                    row["delta"], row["delta_ci_low"], row["delta_ci_high"], signed=True
                ),
                "p (Holm)": _p(row),
                "d_z": _effect(row["d_z"]),
                "g_av": _effect(row["g_av"]),
                "MDE (80%)": "" if pd.isna(row["mde"]) else f"{row['mde']:.4f}",
                "verdict": row["verdict"] if isinstance(row["verdict"], str) else "",
                f"train samples/s ({confidence:.0%} CI)": _rate_interval(row),
                f"loss cost (x {baseline})": _cost(row),
                "rank": "" if pd.isna(row["rank"]) else f"{row['rank']:g}",
                "note": "; ".join(
                    text
                    for text in (row["note"], row.get("throughput_note"))
                    if isinstance(text, str)
                ),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def _seeds(row: pd.Series) -> str:
    if row["n_failed"]:
        return f"{row['n_seeds']} (+{row['n_failed']} failed)"
    return str(row["n_seeds"])


def _effect(value: float) -> str:
    return "" if pd.isna(value) else f"{value:+.2f}"


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


def _rate_interval(row: pd.Series) -> str:
    rate = _rate(row[TRAIN_THROUGHPUT])
    if not rate or pd.isna(row.get("train_throughput_low", np.nan)):
        return rate
    return f"{rate} [{_rate(row['train_throughput_low'])}, {_rate(row['train_throughput_high'])}]"


def _cost(row: pd.Series) -> str:
    ratio = row.get("loss_cost_ratio", np.nan)
    if pd.isna(ratio):
        return ""
    return f"{ratio:.2f}x [{row['loss_cost_low']:.2f}, {row['loss_cost_high']:.2f}]"


def ranking_lines(result: FriedmanResult) -> list[str]:
    """Average ranks across tasks, the Friedman test and (when it rejects) the Nemenyi test."""
    if not len(result.average_ranks):
        return []
    ranks = ", ".join(f"{loss} {rank:.2f}" for loss, rank in result.average_ranks.items())
    lines = [f"Average rank over {len(result.tasks)} task(s) (1 = best): {ranks}."]
    if np.isnan(result.statistic):
        lines.append(f"No Friedman test: {result.note}.")
        return lines
    lines.append(
        f"Friedman chi2={result.statistic:.3f}, p={format_p(result.p_value)} (chi-square); "
        f"Iman-Davenport F={result.iman_davenport:.3f}, p={format_p(result.iman_davenport_p)} "
        f"({result.p_method}): "
        + ("the losses differ" if result.rejected else "no difference shown")
        + f" at alpha={result.alpha}."
    )
    if result.nemenyi_applied:
        different = result.pairwise[result.pairwise["significant"]]
        pairs = ", ".join(f"{a} vs {b}" for a, b in different[["loss_a", "loss_b"]].to_numpy())
        lines.append(
            f"Nemenyi critical difference {result.critical_difference:.3f}; rank differences "
            f"beyond it: {pairs or 'none'}."
        )
    if result.note:
        lines.append(f"Note: {result.note}.")
    return lines


def across_task_lines(summary: pd.DataFrame, alpha: float | None = None) -> list[str]:
    """Everything the report says across tasks: ranks and Friedman (`ranking_lines`), Wilcoxon
    per loss against the baseline, probability of improvement and interquartile means."""
    alpha = summary.attrs.get("alpha", 0.05) if alpha is None else alpha
    lines = ranking_lines(ranking(summary, alpha))
    if summary.empty:
        return lines
    spec = stats.get_metric(summary.attrs.get("metric", ACCURACY.name))
    baseline = summary.attrs.get("baseline", stats.BASELINE)
    means = summary.pivot_table(index="task", columns="loss", values="test_mean", dropna=False)
    means = means.dropna(how="all")
    if len(means) >= 2 and baseline in means:
        table = stats.wilcoxon_vs_baseline(means, baseline, spec.higher_is_better)
        parts = []
        for row in table.itertuples(index=False):
            record = f"{row.loss} {row.wins}-{row.ties}-{row.defeats}"
            if pd.notna(row.p_value):
                record += f" p={format_p(row.p_value)} (Holm {format_p(row.p_holm)})"
            else:
                record += " (no test)"
            parts.append(record)
        if parts:
            lines.append(
                f"Wilcoxon signed-rank against {baseline} over the tasks (wins-ties-defeats): "
                + "; ".join(parts)
                + "."
            )
    scores = seed_scores(summary)
    if scores and any(baseline in by_loss for by_loss in scores.values()):
        improvement = stats.improvement_over_baseline(scores, baseline, spec.higher_is_better)
        parts = [
            f"{row.loss} {row.probability:.2f} [{row.ci_low:.2f}, {row.ci_high:.2f}]"
            for row in improvement.itertuples(index=False)
            if row.n_tasks
        ]
        if parts:
            lines.append(
                f"Probability that a seed of the loss beats a seed of {baseline} on a random task "
                "(0.5 = no difference; 95% stratified bootstrap): " + "; ".join(parts) + "."
            )
    if scores:
        iqm = stats.interquartile_means(scores, spec.higher_is_better)
        parts = [
            f"{row.loss} {row.iqm:.2f} [{row.ci_low:.2f}, {row.ci_high:.2f}]"
            for row in iqm.itertuples(index=False)
        ]
        lines.append(
            "Interquartile mean of scores normalized per task (0 = worst run, 1 = best run; "
            "95% stratified bootstrap): " + "; ".join(parts) + "."
        )
    return lines


def footer_lines(summary: pd.DataFrame) -> list[str]:
    """The footnote under every report: which interval, test, effect sizes and verdict rules."""
    return _footer(summary)


def _footer(summary: pd.DataFrame) -> list[str]:
    ci = summary.attrs.get("ci_method", "95% Student t-interval over seeds")
    baseline = summary.attrs.get("baseline", BASELINE_LOSS)
    alpha = summary.attrs.get("alpha", 0.05)
    margin = summary.attrs.get("margin")
    equivalence = (
        f"equivalent when the 90% paired interval lies inside ±{margin:g} (TOST)"
        if margin
        else "no margin set (report: {margin: ...} or --margin), so nothing is called equivalent"
    )
    lines = [
        f"Intervals: {ci}; the percentile bootstrap is kept in the CSV (boot_low, boot_high). "
        f"Δ = loss minus {baseline} on the seeds both completed; p: two-sided paired t-test, "
        "Holm-adjusted in brackets; d_z: mean over SD of the paired differences (what the test "
        "sees); g_av: Hedges-corrected d_av (comparable across designs); MDE: the difference "
        "detected with 80% power at Holm's strictest level. Verdicts: better / worse when the "
        f"Holm p < {alpha:g}; {equivalence}; inconclusive otherwise."
    ]
    if summary.attrs.get("exploratory"):
        lines.append(exploratory_note(summary))
    return lines


POWER_COLUMNS = [
    "task",
    "loss",
    "n_pairs",
    "sd_diff",
    "alpha_holm",
    "mde",
    "delta",
    "power",
    "seeds_needed",
    "note",
]


def power_table(summary: pd.DataFrame, delta: float) -> pd.DataFrame:
    """Per task and loss: what the confirm seeds could detect, and how many seeds `delta` needs.

    Columns: task, loss, n_pairs, sd_diff (SD of the paired differences), alpha_holm, mde (the
    difference detected with 80% power), delta, power (at `delta` with n_pairs seeds),
    seeds_needed (fewest seeds with 80% power at `delta`, for the same SD), note.
    """
    if not delta > 0:
        raise ValueError(f"--mde needs a positive difference in the metric's units; got {delta}")
    baseline = summary.attrs.get("baseline", stats.BASELINE)
    rows = []
    for _, row in summary[summary["loss"] != baseline].iterrows():
        record = {"task": row["task"], "loss": row["loss"], "delta": delta}
        record |= {"n_pairs": row["n_pairs"], "sd_diff": row["sd_diff"]}
        record |= {"alpha_holm": row["alpha_holm"], "mde": row["mde"]}
        sd, alpha = row["sd_diff"], row["alpha_holm"]
        if pd.isna(sd) or pd.isna(alpha) or row["n_pairs"] < stats.MIN_SEEDS:
            record["note"] = "fewer than 2 paired seeds: no SD of the differences to plan with"
        elif sd == 0:
            record["note"] = "the paired differences do not vary: any difference is detected"
        else:
            effect = delta / sd
            record["power"] = stats.paired_power(effect, int(row["n_pairs"]), alpha)
            record["seeds_needed"] = stats.seeds_needed(effect, alpha)
        rows.append(record)
    table = pd.DataFrame(rows, columns=POWER_COLUMNS)
    table["seeds_needed"] = table["seeds_needed"].astype("Int64")
    table["n_pairs"] = table["n_pairs"].astype("Int64")
    table["note"] = table["note"].astype(object).where(table["note"].notna(), None)
    table.attrs = dict(summary.attrs) | {"detect": delta}
    return table


def power_lines(table: pd.DataFrame) -> list[str]:
    """One sentence per task and loss from `power_table`."""
    lines = []
    if table.attrs.get("exploratory"):
        lines.append(exploratory_note(table))
    baseline = table.attrs.get("baseline", stats.BASELINE)
    for row in table.itertuples(index=False):
        head = f"{row.task}, {row.loss} vs {baseline}"
        if isinstance(row.note, str) and pd.isna(row.power):
            lines.append(f"{head}: {row.note}.")
            continue
        lines.append(
            f"{head}: SD of the paired differences {row.sd_diff:.4f} over {row.n_pairs} seeds; "
            f"with {row.n_pairs} seeds only differences above {row.mde:.4f} would be detected "
            f"(80% power, alpha {row.alpha_holm:.3g}); a difference of {row.delta:g} has power "
            f"{row.power:.2f} now and needs {row.seeds_needed} seeds for 80%."
        )
    return lines


def render_power(table: pd.DataFrame, fmt: str = "md") -> str:
    """The `--mde` answer as text: sentences (md, table, tsv, html, latex) or the numbers
    (csv, json)."""
    check_format(fmt)
    if fmt == "csv":
        return table.to_csv(index=False)
    if fmt == "json":
        return table.to_json(orient="records", indent=2) + "\n"
    lines = power_lines(table)
    if fmt == "md":
        return "\n".join(f"- {line}" for line in lines) + "\n"
    if fmt == "html":
        return "<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>\n"
    if fmt == "latex":
        return "\n\n".join(_latex_escape(line) for line in lines) + "\n"
    return "\n".join(lines) + "\n"


def render(summary: pd.DataFrame, fmt: str = "md", alpha: float | None = None) -> str:
    """The report as text: `md` (table, verdicts, ranks), `latex` (a table for papers), `html`
    (table and verdicts), `csv` or `json` (the raw summary numbers, machine-readable: one
    object per task and loss), or `tsv` (the terminal table tab-separated, then the verdicts;
    what `polybench report` prints into a pipe)."""
    check_format(fmt)
    if fmt == "csv":
        return summary.to_csv(index=False)  # metric_role says primary or exploratory per row
    if fmt == "json":
        return summary.to_json(orient="records", indent=2) + "\n"
    if fmt == "tsv":
        table = display_frame(summary)
        rows = [list(table.columns), *table.astype(str).itertuples(index=False)]
        lines = [
            "\t".join(str(v).replace("\t", " ").replace("\n", " ") for v in row) for row in rows
        ]
        lines += ["", *verdicts(summary, alpha), *across_task_lines(summary, alpha)]
        return "\n".join(lines + _footer(summary)) + "\n"
    if fmt == "table":
        from rich.console import Console

        # record only: the text is returned, not also printed to stdout
        console = Console(record=True, width=200, force_terminal=False, file=io.StringIO())
        console.print(terminal_report(summary, alpha))
        return console.export_text()
    table = display_frame(summary)
    lines = verdicts(summary, alpha) + across_task_lines(summary, alpha)
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
    for char, escaped in (("\\", r"\textbackslash "), ("{", r"\{"), ("}", r"\}"), ("_", r"\_"),
                          ("%", r"\%"), ("&", r"\&"), ("#", r"\#")):  # fmt: skip
        text = text.replace(char, escaped)
    return text.replace("Δ", r"$\Delta$").replace("±", r"$\pm$")


def terminal_report(summary: pd.DataFrame, alpha: float | None = None) -> Group:
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
    lines = verdicts(summary, alpha) + across_task_lines(summary, alpha)
    parts = [rich_table, *(Text(line) for line in lines)]
    parts += [Text(line, style="dim") for line in _footer(summary)]
    return Group(*parts)
