"""What each loss's result cost and how easy it was to tune: the budget section of a report.

`budget(storage, study)` reads the study's runs once and returns a `Budget`: the ledger per
(task, loss) (trials by outcome, epochs trained, compute seconds), the expected best validation
score after k = 1, 2, 4, ... trials with its spread (Dodge et al. 2019), and the sources of
variance the confirm runs varied. `budget_text` renders it as Markdown, HTML, LaTeX or TSV and
`budget_renderables` for the terminal.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from polybench import stats

if TYPE_CHECKING:
    from rich.console import RenderableType

from polybench.report._frames import Filter, _check_study, _metric_of, _select, _store

SOURCES = ("init", "order", "split")
SPREAD_TITLE = "Spread of the confirm runs' test score: between search repeats and within"


@dataclass(frozen=True)
class Budget:
    """The budget section of a study's report.

    `ledger`: `stats.LEDGER_COLUMNS`; `curve`: `stats.EXPECTED_BEST_COLUMNS` on the validation
    metric `metric`; `varied`: the sources of variance the confirm seeds changed (`init`,
    `order`, `split`); `search_repeats`: how often the whole search ran (1: the search itself
    was not varied); `search_spread`: `stats.SEARCH_SPREAD_COLUMNS` on the test metric (rows
    only with repeats).
    """

    study: str
    metric: str
    ledger: pd.DataFrame
    curve: pd.DataFrame
    varied: tuple[str, ...]
    search_repeats: int = 1
    search_spread: pd.DataFrame | None = None

    def variance_line(self) -> str:
        """One sentence: which sources of variance the confirm runs varied, which they did not."""
        varied = list(self.varied)
        fixed = [s for s in SOURCES if s not in varied]
        names = {"init": "weight init", "order": "batch order", "split": "data split"}
        text = "Confirm seeds varied: " + ", ".join(names[s] for s in varied)
        if fixed:
            text += "; held fixed: " + ", ".join(names[s] for s in fixed)
        if self.search_repeats > 1:
            text += f"; the search was repeated {self.search_repeats} times"
        else:
            text += "; the search itself ran once (its variance is not measured)"
        return text + "."


def budget(
    storage: str | None,
    study: str,
    task: Filter = None,
    loss: Filter = None,
    metric: str | None = None,
) -> Budget:
    """The budget section of `study`: ledger, expected-best curve and the varied sources.

    >>> from polybench.report import budget
    >>> budget("sqlite:///polybench.db", "quickstart").ledger  # doctest: +SKIP
    """
    with _store(storage) as store:
        row = _check_study(store, study)
        frame = store.runs(study=study, task=task)
    text = row["config_text"].iloc[0]
    spec = stats.get_metric(metric or _metric_of(text))
    ledger = _select(stats.budget_ledger(frame), "loss", loss).reset_index(drop=True)
    curve = stats.expected_best_curve(frame, spec.val_column, spec.higher_is_better)
    curve = _select(curve, "loss", loss).reset_index(drop=True)
    varied, repeats = _variance_of(text)
    spread = _select(stats.search_spread(frame, spec.test_column), "loss", loss)
    return Budget(study, spec.name, ledger, curve, varied, repeats, spread.reset_index(drop=True))


def _variance_of(config_text: str) -> tuple[tuple[str, ...], int]:
    """(confirm.vary, search.repeats) of a stored study file, with the defaults."""
    import yaml

    try:
        data = yaml.safe_load(config_text) or {}
        vary = (data.get("confirm") or {}).get("vary") or ["init", "order"]
        repeats = int((data.get("search") or {}).get("repeats") or 1)
    except (yaml.YAMLError, AttributeError, TypeError, ValueError):
        return ("init", "order"), 1
    return tuple(s for s in SOURCES if s in vary), repeats


def ledger_display(ledger: pd.DataFrame) -> pd.DataFrame:
    """The ledger as text columns for people."""
    rows = []
    for row in ledger.itertuples(index=False):
        rows.append(
            {
                "task": row.task,
                "loss": row.loss,
                "search complete/pruned/failed": (
                    f"{row.search_complete}/{row.search_pruned}/{row.search_failed}"
                ),
                "search epochs": str(row.search_epochs),
                "search s": f"{row.search_seconds:,.1f}",
                "confirm runs": str(row.confirm_runs),
                "epochs (all)": str(row.epochs_trained),
                "compute s (all)": f"{row.compute_seconds:,.1f}",
            }
        )
    columns = [
        "task",
        "loss",
        "search complete/pruned/failed",
        "search epochs",
        "search s",
        "confirm runs",
        "epochs (all)",
        "compute s (all)",
    ]
    return pd.DataFrame(rows, columns=columns)


def curve_display(curve: pd.DataFrame) -> pd.DataFrame:
    """The expected-best curve as one row per (task, loss) and one column per k: mean ± SD."""
    if curve.empty:
        return pd.DataFrame(columns=["task", "loss", "trials"])
    pairs = zip(curve["expected_best"], curve["spread"], strict=True)
    text = curve.assign(cell=[f"{mean:.4f} ± {spread:.4f}" for mean, spread in pairs])
    table = text.pivot_table(
        index=["task", "loss", "n_trials"], columns="k", values="cell", aggfunc="first"
    )
    table = table.reindex(columns=sorted(table.columns)).fillna("")
    table.columns = [f"k={k}" for k in table.columns]
    table = table.reset_index().rename(columns={"n_trials": "trials"})
    table["trials"] = table["trials"].astype(str)
    return table


def spread_display(spread: pd.DataFrame | None) -> pd.DataFrame:
    """The search-spread table as text columns for people (empty without repeats)."""
    columns = ["task", "loss", "repeats", "SD between repeats", "SD within", "share of search"]
    if spread is None or spread.empty:
        return pd.DataFrame(columns=columns)
    rows = [
        {
            "task": row.task,
            "loss": row.loss,
            "repeats": str(row.repeats),
            "SD between repeats": f"{row.sd_between_repeats:.4f}",
            "SD within": f"{row.sd_within_repeats:.4f}",
            "share of search": "" if pd.isna(row.search_share) else f"{row.search_share:.0%}",
        }
        for row in spread.itertuples(index=False)
    ]
    return pd.DataFrame(rows, columns=columns)


def _titles(result: Budget) -> tuple[str, str]:
    return (
        "Budget ledger: what each loss's result cost (search and confirm runs)",
        f"Expected best validation {result.metric} after k search trials (mean ± SD over "
        "draws of k of the complete trials, with replacement; Dodge et al. 2019)",
    )


def budget_text(result: Budget, fmt: str) -> str:
    """The budget section as `table` (plain text), `md`, `html`, `latex` or `tsv` text (empty
    for the machine-readable `csv` and `json`, whose summary rows carry the ledger columns)."""
    from polybench.report._render import markdown_table

    if fmt == "table":
        from rich.console import Console

        console = Console(record=True, width=200, force_terminal=False)
        for part in budget_renderables(result):
            console.print(part)
        return console.export_text()
    ledger, curve = ledger_display(result.ledger), curve_display(result.curve)
    ledger_title, curve_title = _titles(result)
    line = result.variance_line()
    spread = spread_display(result.search_spread)
    if fmt == "md":
        parts = [f"**{ledger_title}**", "", markdown_table(ledger), ""]
        parts += [f"**{curve_title}**", "", markdown_table(curve), ""]
        if len(spread):
            parts += [f"**{SPREAD_TITLE}**", "", markdown_table(spread), ""]
        return "\n" + "\n".join([*parts, line]) + "\n"
    if fmt == "html":
        return (
            f"<h3>{html.escape(ledger_title)}</h3>\n"
            + ledger.to_html(index=False, border=0)
            + f"\n<h3>{html.escape(curve_title)}</h3>\n"
            + curve.to_html(index=False, border=0)
            + f"\n<p>{html.escape(line)}</p>\n"
        )
    if fmt == "latex":
        tables = []
        for frame, title in ((ledger, ledger_title), (curve, curve_title)):
            styler = frame.style.hide(axis="index").format(escape="latex")
            styler = styler.format_index(escape="latex", axis=1)
            caption = title.replace("±", "$\\pm$")
            tables.append(styler.to_latex(hrules=True, caption=caption).replace("±", "$\\pm$"))
        return "\n" + "\n".join(tables)
    if fmt == "tsv":
        return (
            "\n"
            + ledger.to_csv(sep="\t", index=False)
            + "\n"
            + curve.to_csv(sep="\t", index=False)
            + f"\n{line}\n"
        )
    return ""


def budget_renderables(result: Budget) -> list[RenderableType]:
    """Rich tables for the terminal: the ledger, the expected-best curve, the variance line."""
    from rich.table import Table
    from rich.text import Text

    ledger_title, curve_title = _titles(result)
    parts: list[RenderableType] = []
    frames = [
        (ledger_display(result.ledger), ledger_title),
        (curve_display(result.curve), curve_title),
    ]
    spread = spread_display(result.search_spread)
    if len(spread):
        frames.append((spread, SPREAD_TITLE))
    for frame, title in frames:
        table = Table(title=title, title_justify="left")
        for column in frame.columns:
            text = column in ("task", "loss")
            table.add_column(column, justify="left" if text else "right", no_wrap=text)
        for row in frame.itertuples(index=False):
            table.add_row(*[str(v) for v in row])
        parts.append(table)
    parts.append(Text(result.variance_line()))
    return parts
