"""Plotly figures of a study's runs: the pictures the dashboard shows, as pure functions.

Every builder takes pandas frames with the columns of `polybench.report` (the runs frame has
`run_id, loss, phase, state, params, seed, <metrics>, train_throughput, param_<name>...`; the
epochs frame has `run_id, epoch, train_loss, val_loss, val_accuracy, lr, seconds,
train_throughput`) and returns a `plotly.graph_objects.Figure`; none of them reads a database or
knows about Streamlit, so they work the same in a notebook and are tested without a browser.

Colours follow the loss, in the same order everywhere (cross-entropy, the baseline, always first
and grey), so a loss has one colour on every chart of the dashboard.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from polybench.vocab import (
    ACCURACY,
    BASELINE_LOSS,
    CONFIRM,
    LOSS,
    METRICS,
    PARAM_PREFIX,
    SEARCH,
    TRAIN_LOSS,
    TRAIN_THROUGHPUT,
)


def loss_order() -> tuple[str, ...]:
    """Every registered loss in the one order all charts and tables use: the built-in losses in
    the registry order of `polybench.losses` (cross-entropy, the baseline, first), then plug-in
    losses (registered from outside `polybench`) alphabetically."""
    from polybench.losses import LOSSES

    builtin = [name for name, cls in LOSSES.items() if cls.__module__.startswith("polybench.")]
    return tuple(builtin + sorted(set(LOSSES) - set(builtin)))


_BASELINE_COLOR = "#5f6b7a"
_PALETTE = (
    "#1F77B4",
    "#D62728",
    "#2CA02C",
    "#FF7F0E",
    "#9467BD",
    "#17BECF",
    "#E377C2",
    "#8C564B",
    "#BCBD22",
)
PHASE_SYMBOLS = {SEARCH: "circle", CONFIRM: "diamond"}

METRIC_LABELS = {
    **{metric.val_column: f"validation {metric.title}" for metric in METRICS.values()},
    LOSS.val_column: "validation loss",
    **{metric.test_column: f"test {metric.title}" for metric in METRICS.values()},
    TRAIN_LOSS: "training loss",
    "lr": "learning rate",
    "seconds": "seconds per epoch",
    TRAIN_THROUGHPUT: "training throughput (samples/s)",
    "eval_throughput": "evaluation throughput (samples/s)",
}


@dataclass(frozen=True)
class Band:
    """A horizontal reference band: `mean` with the interval [`low`, `high`], e.g. the CE score."""

    label: str
    mean: float
    low: float
    high: float


def metric_label(name: str) -> str:
    """The axis title of a metric column (`val_accuracy` -> `validation accuracy`)."""
    if name.startswith(PARAM_PREFIX):
        return name.removeprefix(PARAM_PREFIX)
    return METRIC_LABELS.get(name, name.replace("_", " "))


def ordered_losses(losses: Iterable[str]) -> list[str]:
    """Distinct loss names in registry order (baseline first); unknown names after, sorted."""
    distinct = set(losses)
    order = loss_order()
    known = [name for name in order if name in distinct]
    return known + sorted(distinct - set(order))


def loss_colors(losses: Iterable[str]) -> dict[str, str]:
    """One colour per loss, stable across charts and studies (cross-entropy is always grey)."""
    colors: dict[str, str] = {}
    extra = 0
    order = loss_order()
    for name in ordered_losses(losses):
        if name == BASELINE_LOSS:
            colors[name] = _BASELINE_COLOR
        elif name in order:
            colors[name] = _PALETTE[(order.index(name) - 1) % len(_PALETTE)]
        else:
            colors[name] = _PALETTE[(len(order) - 1 + extra) % len(_PALETTE)]
            extra += 1
    return colors


def tuned_params(runs: pd.DataFrame, loss: str | None = None) -> list[str]:
    """The `param_<name>` columns that vary across `runs` (of one loss if given), sorted."""
    frame = runs if loss is None else runs[runs["loss"] == loss]
    names = []
    for column in sorted(c for c in frame.columns if c.startswith(PARAM_PREFIX)):
        values = pd.to_numeric(frame[column], errors="coerce").dropna()
        if values.nunique() > 1:
            names.append(column)
    return names


def describe_params(params: object) -> str:
    """A run's parameters as one short line (`epsilon=2.31, gamma=1.5`), for hover labels."""
    if isinstance(params, str):
        try:
            params = json.loads(params) if params else {}
        except json.JSONDecodeError:
            return params
    if not isinstance(params, dict) or not params:
        return "defaults"
    parts = []
    for name, value in sorted(params.items()):
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        parts.append(f"{name}={shown}")
    return ", ".join(parts)


def _empty_figure(message: str, title: str | None = None) -> go.Figure:
    figure = go.Figure()
    figure.add_annotation(text=message, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    figure.update_layout(title=title, height=320)
    return figure


def _numeric(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """`frame` with `columns` as floats and the rows where any of them is missing dropped."""
    out = frame.copy()
    for column in columns:
        out[column] = pd.to_numeric(out[column], errors="coerce")
    return out.dropna(subset=list(columns))


def _style(figure: go.Figure, *, title: str, x: str, y: str, height: int = 460) -> go.Figure:
    figure.update_layout(
        title=title,
        xaxis_title=x,
        yaxis_title=y,
        height=height,
        legend_title_text="loss",
        hovermode="closest",
        margin={"l": 60, "r": 20, "t": 60, "b": 50},
        template="plotly_white",
    )
    return figure


def tradeoff_figure(
    runs: pd.DataFrame,
    *,
    metric: str = ACCURACY.val_column,
    throughput: str = TRAIN_THROUGHPUT,
    front: pd.DataFrame | None = None,
) -> go.Figure:
    """Score against throughput: one colour per loss, circles for search and diamonds for confirm.

    `front`, if given, holds the runs on the Pareto front (at least the two axis columns) and is
    drawn as a staircase. Hovering a point shows the run's id, phase, seed and parameters.
    """
    title = f"{metric_label(metric)} against {metric_label(throughput)}"
    points = _numeric(runs, [metric, throughput]) if len(runs) else runs
    if points.empty:
        return _empty_figure("No finished runs with both a score and a throughput yet.", title)
    colors = loss_colors(points["loss"])
    figure = go.Figure()
    for loss in ordered_losses(points["loss"]):
        for phase, symbol in PHASE_SYMBOLS.items():
            group = points[(points["loss"] == loss) & (points["phase"] == phase)]
            if group.empty:
                continue
            custom = np.column_stack(
                [
                    group["run_id"].astype(str),
                    group["phase"].astype(str),
                    group["seed"].astype(str),
                    [describe_params(p) for p in group["params"]],
                ]
            )
            figure.add_trace(
                go.Scatter(
                    x=group[throughput],
                    y=group[metric],
                    mode="markers",
                    name=f"{loss} ({phase})",
                    legendgroup=loss,
                    marker={
                        "color": colors[loss],
                        "symbol": symbol,
                        "size": 12 if phase == CONFIRM else 8,
                        "opacity": 0.95 if phase == CONFIRM else 0.6,
                        "line": {"width": 1, "color": "white"},
                    },
                    customdata=custom,
                    hovertemplate=(
                        f"<b>{loss}</b><br>run %{{customdata[0]}} · %{{customdata[1]}}"
                        " · seed %{customdata[2]}<br>%{customdata[3]}"
                        f"<br>{metric_label(metric)}: %{{y:.4f}}"
                        f"<br>{metric_label(throughput)}: %{{x:,.0f}}<extra></extra>"
                    ),
                )
            )
    if front is not None and len(front):
        line = _numeric(front, [metric, throughput]).sort_values(throughput)
        figure.add_trace(
            go.Scatter(
                x=line[throughput],
                y=line[metric],
                mode="lines",
                name="Pareto front",
                line={"color": "black", "dash": "dash", "width": 1.5, "shape": "hv"},
                hoverinfo="skip",
            )
        )
    return _style(figure, title=title, x=metric_label(throughput), y=metric_label(metric))


def _add_band(figure: go.Figure, band: Band) -> None:
    figure.add_hrect(
        y0=band.low,
        y1=band.high,
        fillcolor=_BASELINE_COLOR,
        opacity=0.15,
        line_width=0,
    )
    figure.add_hline(
        y=band.mean,
        line={"color": _BASELINE_COLOR, "dash": "dot", "width": 1.5},
        annotation_text=band.label,
        annotation_position="top left",
    )


def sensitivity_figure(
    runs: pd.DataFrame,
    *,
    param: str,
    metric: str = ACCURACY.val_column,
    baseline: Band | None = None,
) -> go.Figure:
    """Score against one hyperparameter (`param`, a `param_<name>` column), one colour per loss.

    `baseline` (typically cross-entropy's mean and interval) is drawn as a band across the plot,
    so a reader sees at which values a loss beats the baseline.
    """
    name = metric_label(param)
    title = f"{metric_label(metric)} against {name}"
    points = _numeric(runs, [metric, param]) if param in runs.columns else runs.iloc[0:0]
    if points.empty:
        return _empty_figure(f"No finished runs with a value of {name}.", title)
    colors = loss_colors(points["loss"])
    figure = go.Figure()
    for loss in ordered_losses(points["loss"]):
        group = points[points["loss"] == loss].sort_values(param)
        figure.add_trace(
            go.Scatter(
                x=group[param],
                y=group[metric],
                mode="markers",
                name=loss,
                marker={"color": colors[loss], "size": 9, "opacity": 0.8},
                customdata=np.column_stack(
                    [group["run_id"].astype(str), [describe_params(p) for p in group["params"]]]
                ),
                hovertemplate=(
                    f"<b>{loss}</b> · run %{{customdata[0]}}<br>%{{customdata[1]}}"
                    f"<br>{metric_label(metric)}: %{{y:.4f}}<extra></extra>"
                ),
            )
        )
    if baseline is not None and all(map(math.isfinite, (baseline.low, baseline.high))):
        _add_band(figure, baseline)
    return _style(figure, title=title, x=name, y=metric_label(metric), height=400)


def _bin_edges(values: pd.Series, bins: int) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    if low == high:
        pad = abs(low) * 0.05 or 0.5
        low, high = low - pad, high + pad
    return np.linspace(low, high, bins + 1)


def score_grid(
    x: pd.Series, y: pd.Series, score: pd.Series, x_edges: np.ndarray, y_edges: np.ndarray
) -> np.ndarray:
    """Mean `score` per cell of the grid `x_edges` by `y_edges`: shape (len(y)-1, len(x)-1).

    Bins are closed on the left and the last one also on the right; empty cells are NaN.
    """
    columns = np.clip(np.searchsorted(x_edges, x, side="right") - 1, 0, len(x_edges) - 2)
    rows = np.clip(np.searchsorted(y_edges, y, side="right") - 1, 0, len(y_edges) - 2)
    grid = np.full((len(y_edges) - 1, len(x_edges) - 1), np.nan)
    cells = pd.DataFrame({"row": rows, "column": columns, "score": np.asarray(score, float)})
    for (row, column), value in cells.groupby(["row", "column"])["score"].mean().items():
        grid[row, column] = value
    return grid


MIN_HEATMAP_TRIALS = 10
"""Fewer trials than this are drawn as points, not as a grid of cells."""

MIN_IMPORTANCE_TRIALS = 4
"""Parameter importances from fewer complete trials than this get a warning."""


def sensitivity_heatmap(
    runs: pd.DataFrame,
    *,
    loss: str,
    params: tuple[str, str],
    metric: str = ACCURACY.val_column,
    bins: int = 6,
) -> go.Figure:
    """Mean score over a grid of two hyperparameters of one loss, with the trials on top.

    The grid has at most `bins` cells a side (fewer for few trials); empty cells stay blank.
    Below `MIN_HEATMAP_TRIALS` trials a grid of cells would claim more than the trials show,
    so each trial is drawn as a point coloured by its score instead.
    """
    x, y = params
    title = f"{loss}: {metric_label(metric)} over {metric_label(x)} and {metric_label(y)}"
    group = runs[runs["loss"] == loss]
    points = _numeric(group, [metric, x, y]) if {x, y} <= set(group.columns) else group.iloc[0:0]
    if points.empty:
        return _empty_figure(f"No finished runs of {loss} with both parameters.", title)
    if len(points) < MIN_HEATMAP_TRIALS:
        figure = go.Figure(
            go.Scatter(
                x=points[x],
                y=points[y],
                mode="markers",
                name="trials",
                marker={
                    "color": points[metric],
                    "colorscale": "Viridis",
                    "size": 14,
                    "line": {"width": 1, "color": "black"},
                    "colorbar": {"title": {"text": "score"}},
                },
                customdata=points[[metric]].to_numpy(),
                hovertemplate=(
                    f"{metric_label(x)} %{{x:.3g}}<br>{metric_label(y)} %{{y:.3g}}"
                    "<br>score %{customdata[0]:.4f}<extra></extra>"
                ),
                showlegend=False,
            )
        )
        title += f" ({len(points)} trials: points, too few for a grid)"
        figure = _style(figure, title=title, x=metric_label(x), y=metric_label(y), height=420)
        figure.update_layout(template="plotly_white")
        return figure
    size = min(bins, max(2, math.ceil(math.sqrt(len(points)))))
    x_edges, y_edges = _bin_edges(points[x], size), _bin_edges(points[y], size)
    grid = score_grid(points[x], points[y], points[metric], x_edges, y_edges)
    figure = go.Figure()
    figure.add_trace(
        go.Heatmap(
            x=(x_edges[:-1] + x_edges[1:]) / 2,
            y=(y_edges[:-1] + y_edges[1:]) / 2,
            z=grid,
            colorscale="Viridis",
            hoverongaps=False,
            colorbar={"title": {"text": "mean score"}},
            hovertemplate=(
                f"{metric_label(x)} ≈ %{{x:.3g}}<br>{metric_label(y)} ≈ %{{y:.3g}}"
                "<br>mean score: %{z:.4f}<extra></extra>"
            ),
        )
    )
    figure.add_trace(
        go.Scatter(
            x=points[x],
            y=points[y],
            mode="markers",
            name="trials",
            marker={"color": "white", "size": 7, "line": {"width": 1, "color": "black"}},
            customdata=points[[metric]].to_numpy(),
            hovertemplate="score %{customdata[0]:.4f}<extra></extra>",
            showlegend=False,
        )
    )
    figure = _style(figure, title=title, x=metric_label(x), y=metric_label(y), height=420)
    figure.update_layout(template="plotly_white")
    return figure


def importance_warning(importances: pd.DataFrame, search: pd.DataFrame) -> str | None:
    """A warning for the losses whose importances come from fewer than
    `MIN_IMPORTANCE_TRIALS` complete search trials (`search`: those trials), else None."""
    counts = search["loss"].value_counts() if len(search) else pd.Series(dtype=int)
    few = [
        f"{loss} ({int(counts.get(loss, 0))} trials)"
        for loss in ordered_losses(importances["loss"])
        if int(counts.get(loss, 0)) < MIN_IMPORTANCE_TRIALS
    ]
    if not few:
        return None
    return (
        f"Importances from fewer than {MIN_IMPORTANCE_TRIALS} complete trials are mostly "
        f"noise: {', '.join(few)}. Raise search.trials before reading them."
    )


def importance_figure(importances: pd.DataFrame) -> go.Figure:
    """Horizontal bars of Optuna's parameter importances, one colour per loss.

    `importances` has the columns `loss, param, importance` (importances of one loss sum to 1).
    """
    title = "Hyperparameter importance (Optuna, per loss)"
    if importances.empty:
        return _empty_figure(
            "No loss has two or more tuned parameters with finished trials.", title
        )
    colors = loss_colors(importances["loss"])
    figure = go.Figure()
    for loss in ordered_losses(importances["loss"]):
        group = importances[importances["loss"] == loss].sort_values("importance")
        figure.add_trace(
            go.Bar(
                x=group["importance"],
                y=group["param"].map(metric_label),
                orientation="h",
                name=loss,
                marker_color=colors[loss],
                hovertemplate=f"<b>{loss}</b> %{{y}}: %{{x:.3f}}<extra></extra>",
            )
        )
    figure.update_layout(barmode="group")
    height = 160 + 28 * len(importances)
    return _style(figure, title=title, x="importance", y="parameter", height=min(height, 700))


def learning_curves_figure(
    epochs: pd.DataFrame, runs: pd.DataFrame, *, value: str = ACCURACY.val_column
) -> go.Figure:
    """One line per run of `value` against the epoch, coloured by the run's loss."""
    title = f"{metric_label(value)} per epoch"
    if epochs.empty or runs.empty:
        return _empty_figure("Select runs that have recorded epochs.", title)
    info = runs.set_index("run_id")
    colors = loss_colors(runs["loss"])
    figure = go.Figure()
    for run_id, curve in epochs.sort_values(["run_id", "epoch"]).groupby("run_id", sort=True):
        if run_id not in info.index:
            continue
        run = info.loc[run_id]
        label = f"#{run_id} {run['loss']} ({run['phase']}, seed {run['seed']})"
        figure.add_trace(
            go.Scatter(
                x=curve["epoch"],
                y=curve[value],
                mode="lines+markers",
                name=label,
                legendgroup=str(run["loss"]),
                line={"color": colors[run["loss"]], "width": 2},
                marker={"size": 5},
                hovertemplate=f"{label}<br>epoch %{{x}}: %{{y:.4f}}<extra></extra>",
            )
        )
    figure = _style(figure, title=title, x="epoch", y=metric_label(value), height=420)
    figure.update_layout(legend_title_text="run")
    return figure


def mean_curves(epochs: pd.DataFrame, runs: pd.DataFrame, *, value: str) -> pd.DataFrame:
    """Per loss and epoch: the mean of `value` over the given runs (e.g. a loss's confirm seeds),
    its lowest and highest value and how many runs reached that epoch, in loss order."""
    columns = ["loss", "epoch", "mean", "low", "high", "n_runs"]
    if epochs.empty or runs.empty:
        return pd.DataFrame(columns=columns)
    merged = epochs[["run_id", "epoch", value]].merge(runs[["run_id", "loss"]], on="run_id")
    merged = merged.dropna(subset=[value])
    grouped = merged.groupby(["loss", "epoch"])[value]
    table = pd.DataFrame(
        {
            "mean": grouped.mean(),
            "low": grouped.min(),
            "high": grouped.max(),
            "n_runs": grouped.size(),
        }
    ).reset_index()
    order = {loss: i for i, loss in enumerate(ordered_losses(table["loss"]))}
    table = table.sort_values(
        ["loss", "epoch"], key=lambda c: c.map(order) if c.name == "loss" else c
    )
    return table[columns].reset_index(drop=True)


def mean_curves_figure(
    epochs: pd.DataFrame, runs: pd.DataFrame, *, value: str = ACCURACY.val_column
) -> go.Figure:
    """One line per loss: `value` averaged over its runs per epoch, with a min–max band."""
    title = f"{metric_label(value)} per epoch, mean over confirm seeds (band: min–max)"
    table = mean_curves(epochs, runs, value=value)
    if table.empty:
        return _empty_figure("No confirm run has recorded epochs yet.", title)
    colors = loss_colors(table["loss"])
    figure = go.Figure()
    for loss in ordered_losses(table["loss"]):
        curve = table[table["loss"] == loss]
        _add_line_with_band(
            figure,
            loss,
            colors[loss],
            curve["epoch"],
            curve["mean"],
            (curve["low"], curve["high"], f"{loss} min–max"),
            customdata=curve[["low", "high", "n_runs"]].to_numpy(),
            hovertemplate=f"<b>{loss}</b><br>epoch %{{x}}: mean %{{y:.4f}} "
            "(min %{customdata[0]:.4f}, max %{customdata[1]:.4f}, "
            "%{customdata[2]} runs)<extra></extra>",
            marker={"size": 5},
        )
    figure = _style(figure, title=title, x="epoch", y=metric_label(value), height=420)
    figure.update_layout(legend_title_text="loss")
    return figure


def _add_line_with_band(
    figure: go.Figure,
    loss: str,
    color: str,
    x: pd.Series,
    y: pd.Series,
    band: tuple[pd.Series, pd.Series, str],
    *,
    customdata: np.ndarray,
    hovertemplate: str,
    marker: dict[str, Any] | None = None,
) -> None:
    """`loss`'s line of `y` over `x` in `color`, over its `band` (low, high, hover name)."""
    low, high, band_name = band
    figure.add_trace(_band(x, low, high, color, loss, band_name))
    figure.add_trace(
        go.Scatter(
            x=x,
            y=y,
            mode="lines+markers",
            name=loss,
            legendgroup=loss,
            line={"color": color, "width": 2},
            marker=marker,
            customdata=customdata,
            hovertemplate=hovertemplate,
        )
    )


def _band(
    x: pd.Series, low: pd.Series, high: pd.Series, color: str, loss: str, name: str
) -> go.Scatter:
    """A filled band from `low` to `high` over `x`, grouped with `loss`'s line in the legend."""
    return go.Scatter(
        x=[*x, *list(x)[::-1]],
        y=[*high, *list(low)[::-1]],
        fill="toself",
        fillcolor=_translucent(color),
        line={"width": 0},
        hoverinfo="skip",
        legendgroup=loss,
        showlegend=False,
        name=name,
    )


def _translucent(color: str, alpha: float = 0.18) -> str:
    red, green, blue = (int(color.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({red}, {green}, {blue}, {alpha})"


def average_rank_figure(
    ranks: pd.DataFrame, *, critical_difference: float | None = None
) -> go.Figure:
    """Average rank of each loss across tasks (1 is best), with Nemenyi's critical difference.

    `ranks` has the columns `loss, average_rank`. Losses whose ranks differ by less than the
    critical difference are not distinguishable at the chosen level (Demšar, JMLR 2006).
    """
    title = "Average rank across tasks (1 = best)"
    if ranks.empty:
        return _empty_figure("No task has confirm runs of two or more losses yet.", title)
    ordered = ranks.sort_values("average_rank", ascending=False)
    colors = loss_colors(ordered["loss"])
    figure = go.Figure(
        go.Bar(
            x=ordered["average_rank"],
            y=ordered["loss"],
            orientation="h",
            marker_color=[colors[name] for name in ordered["loss"]],
            text=[f"{value:.2f}" for value in ordered["average_rank"]],
            textposition="outside",
            hovertemplate="%{y}: average rank %{x:.2f}<extra></extra>",
            showlegend=False,
        )
    )
    if critical_difference is not None and math.isfinite(critical_difference):
        best = float(ordered["average_rank"].min())
        figure.add_vrect(
            x0=best,
            x1=best + critical_difference,
            fillcolor="#2CA02C",
            opacity=0.12,
            line_width=0,
            layer="below",
        )
        title += (
            f"<br><sup>green: within Nemenyi's critical difference ({critical_difference:.2f})"
            " of the best, not distinguishable from it</sup>"
        )
    figure = _style(figure, title=title, x="average rank", y="loss", height=140 + 40 * len(ranks))
    figure.update_xaxes(range=[0, max(float(ordered["average_rank"].max()) * 1.15, 1.5)])
    return figure


def interval_figure(
    summary: pd.DataFrame,
    *,
    mean: str,
    low: str,
    high: str,
    label: str,
    baseline: Band | None = None,
) -> go.Figure:
    """Each loss's mean with its interval as an error bar (the Overview's picture of the table).

    `summary` has one row per loss and the columns `loss`, `mean`, `low`, `high` named by the
    arguments; rows without a mean (no confirm runs yet) are left out.
    """
    title = f"{label}: mean and 95% interval over seeds"
    points = _numeric(summary, [mean]) if len(summary) else summary
    if points.empty:
        return _empty_figure("No confirm runs have finished yet.", title)
    points = points.set_index("loss").loc[ordered_losses(points["loss"])].reset_index()
    colors = loss_colors(points["loss"])
    figure = go.Figure()
    for _, row in points.iterrows():
        bottom, top = pd.to_numeric(pd.Series([row[low], row[high]]), errors="coerce")
        has_interval = math.isfinite(bottom) and math.isfinite(top)
        figure.add_trace(
            go.Scatter(
                x=[row["loss"]],
                y=[row[mean]],
                mode="markers",
                name=row["loss"],
                marker={"color": colors[row["loss"]], "size": 13},
                error_y={
                    "type": "data",
                    "array": [top - row[mean]] if has_interval else [0],
                    "arrayminus": [row[mean] - bottom] if has_interval else [0],
                    "color": colors[row["loss"]],
                    "thickness": 2.5,
                    "width": 8,
                },
                hovertemplate=f"{row['loss']}: %{{y:.4f}}<extra></extra>",
                showlegend=False,
            )
        )
    if baseline is not None and all(map(math.isfinite, (baseline.low, baseline.high))):
        _add_band(figure, baseline)
    return _style(figure, title=title, x="loss", y=label, height=380)


def expected_best_figure(curve: pd.DataFrame, *, metric: str = ACCURACY.val_column) -> go.Figure:
    """Expected best `metric` after k search trials, one line per loss with a ±1 SD band.

    `curve` has the columns of `polybench.stats.expected_best_curve` (`loss, k, expected_best,
    spread`). A line that flattens early is a loss that is easy to tune (Dodge et al. 2019).
    """
    title = f"Expected best {metric_label(metric)} after k search trials"
    if curve.empty:
        return _empty_figure("No complete search trials yet.", title)
    colors = loss_colors(curve["loss"])
    figure = go.Figure()
    for loss in ordered_losses(curve["loss"]):
        points = curve[curve["loss"] == loss].sort_values("k")
        upper = points["expected_best"] + points["spread"]
        lower = points["expected_best"] - points["spread"]
        _add_line_with_band(
            figure,
            loss,
            colors[loss],
            points["k"],
            points["expected_best"],
            (lower, upper, f"{loss} ±1 SD"),
            customdata=points[["spread", "n_trials"]].to_numpy(),
            hovertemplate=(
                f"{loss}<br>k=%{{x}}: %{{y:.4f}} ± %{{customdata[0]:.4f}}"
                "<br>from %{customdata[1]} complete trials<extra></extra>"
            ),
        )
    figure = _style(figure, title=title, x="search trials k (log scale)", y=metric_label(metric))
    figure.update_xaxes(type="log", dtick=math.log10(2))
    return figure
