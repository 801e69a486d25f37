"""A study's figures as static files: the dashboard's own Plotly figures, written by Kaleido.

`study_figures` builds, for every task of a study, the figures the dashboard shows for it (the
sensitivity plot of each tuned hyperparameter with cross-entropy's band, and the score against
training throughput with the Pareto front) and the average ranks across tasks. `write_figures`
saves them as PNG and SVG through Kaleido, which drives a Chromium it finds on the machine (on
Debian `/usr/bin/chromium`). `polybench report STUDY --figures DIR` calls both.

>>> from polybench import report
>>> figures = report.study_figures("sqlite:///polybench.db", "reference")  # doctest: +SKIP
>>> report.write_figures(figures, "docs/results")                          # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from polybench import charts, stats
from polybench.vocab import BASELINE_LOSS, COMPLETE, PARAM_PREFIX, SEARCH, TRAIN_THROUGHPUT, Metric

if TYPE_CHECKING:
    import plotly.graph_objects as go

FIGURE_FORMATS = ("png", "svg")
SWEEP_PARAM = PARAM_PREFIX + "epsilon"


@dataclass(frozen=True)
class StudyFigure:
    """One figure of a study: `name` is its file stem, `caption` says what it shows and from
    which runs (for the page that embeds it)."""

    name: str
    title: str
    caption: str
    figure: go.Figure


def baseline_band(runs: pd.DataFrame, column: str) -> charts.Band | None:
    """Cross-entropy's score on `column` as a band: its 95% interval over the confirm seeds,
    or the range of its complete search runs when it has fewer than two confirm runs (what the
    dashboard's sensitivity view draws)."""
    base = runs[runs["loss"] == BASELINE_LOSS]
    seeds = stats.seed_summary(base, metrics=[column])
    if len(seeds) and seeds["n_seeds"].iloc[0] >= stats.MIN_SEEDS:
        row = seeds.iloc[0]
        label = f"{BASELINE_LOSS}: 95% CI over {int(row['n_seeds'])} confirm seeds"
        return charts.Band(label, float(row["mean"]), float(row["ci_low"]), float(row["ci_high"]))
    scores = stats.search_runs(base)[column].dropna()
    if scores.empty:
        return None
    label = f"{BASELINE_LOSS}: range of {len(scores)} search run(s)"
    return charts.Band(label, float(scores.mean()), float(scores.min()), float(scores.max()))


def pareto_runs(points: pd.DataFrame, metric: str, higher_is_better: bool) -> pd.DataFrame:
    """The runs of `points` that no other run beats on both `metric` and training throughput,
    in throughput order."""
    if points.empty:
        return points
    mask = stats.pareto_front(points, {metric: higher_is_better, TRAIN_THROUGHPUT: True}, by=())
    return points[mask].sort_values(TRAIN_THROUGHPUT)


def study_figures(
    storage: str | None,
    study: str,
    *,
    metric: str | None = None,
    params: Sequence[str] | None = None,
) -> list[StudyFigure]:
    """The figures of `study`, per task and across tasks, from the same chart functions the
    dashboard calls: `sensitivity_<task>_<param>` for each hyperparameter tuned in the task's
    complete search runs (validation score: search runs never see the test split),
    `tradeoff_<task>` (validation score of every complete run against training throughput,
    with the Pareto front) and `average_ranks` (test score of the confirm runs). `params`
    (names without `param_`) limits the sensitivity plots to those hyperparameters."""
    from polybench.report._frames import _check_study, _metric_of, _store, ranking_from_summary
    from polybench.report._frames import summary as summary_of

    with _store(storage) as store:
        row = _check_study(store, study)
        runs = store.runs(study=study)
    spec = stats.get_metric(metric or _metric_of(row["config_text"].iloc[0]))
    figures: list[StudyFigure] = []
    for task in sorted(runs["task"].unique()):
        figures += _task_figures(task, runs[runs["task"] == task], spec, params)
    result = ranking_from_summary(summary_of(storage, study, metric=metric), 0.05)
    ranks = result.average_ranks.rename("average_rank").rename_axis("loss").reset_index()
    cd = result.critical_difference if result.nemenyi_applied else None
    figures.append(
        StudyFigure(
            name="average_ranks",
            title="Average rank across tasks",
            caption=(
                f"Average rank of each loss by mean {charts.metric_label(spec.test_column)} "
                f"over the confirm seeds, across {len(result.tasks)} task(s) (1 = best)."
            ),
            figure=charts.average_rank_figure(ranks, critical_difference=cd),
        )
    )
    return figures


def write_figures(
    figures: Sequence[StudyFigure] | Mapping[str, go.Figure],
    directory: str | Path,
    formats: Sequence[str] = FIGURE_FORMATS,
    *,
    width: int = 900,
) -> list[Path]:
    """Write each figure as `<directory>/<name>.<format>` through Kaleido; returns the paths.

    Kaleido starts one headless Chromium for all of them. Raises ValueError with what to
    install when Kaleido or a Chromium is missing.
    """
    unknown = [f for f in formats if f not in FIGURE_FORMATS]
    if unknown:
        raise ValueError(
            f"unknown figure format {unknown[0]!r}; allowed: {', '.join(FIGURE_FORMATS)}"
        )
    named = (
        [(item.name, item.figure) for item in figures]
        if not isinstance(figures, Mapping)
        else list(figures.items())
    )
    try:
        import plotly.io as pio
    except ImportError as error:  # pragma: no cover - plotly is a dependency
        raise ValueError(f"cannot write figures: {error}") from None
    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(
            f"cannot write figures to {str(folder)!r}: {error.strerror or error}"
        ) from None
    paths = [folder / f"{name}.{fmt}" for name, _ in named for fmt in formats]
    figs = [figure for _, figure in named for _ in formats]
    try:
        pio.write_images(
            figs, paths, format=[p.suffix[1:] for p in paths], width=width, height=None
        )
    except (ImportError, ValueError, RuntimeError) as error:
        raise ValueError(
            f"cannot write figures with Kaleido: {error}. Install it (`pip install kaleido`) "
            "and a Chromium (Debian: `apt-get install chromium`)."
        ) from None
    return paths


def _task_figures(
    task: str, mine: pd.DataFrame, spec: Metric, params: Sequence[str] | None
) -> list[StudyFigure]:
    """The sensitivity plots and the accuracy-throughput figure of one task's runs."""
    val = spec.val_column
    figures: list[StudyFigure] = []
    search = mine[(mine["phase"] == SEARCH) & (mine["state"] == COMPLETE)]
    band = baseline_band(mine, val)
    tuned = charts.tuned_params(search)
    if params is not None:
        tuned = [name for name in tuned if name.removeprefix(PARAM_PREFIX) in params]
    # The sweep the paper plots (epsilon) first, then the others in name order.
    tuned.sort(key=lambda name: (name != SWEEP_PARAM, name))
    for param in tuned:
        figure = charts.sensitivity_figure(search, param=param, metric=val, baseline=band)
        figure.update_layout(title=f"{task}: {figure.layout.title.text}")
        counts = search.dropna(subset=[param]).groupby("loss").size()
        points = ", ".join(f"{loss} {n}" for loss, n in counts.items())
        figures.append(
            StudyFigure(
                name=f"sensitivity_{task}_{param.removeprefix(PARAM_PREFIX)}",
                title=f"{task}: {charts.metric_label(param)} sweep",
                caption=(
                    f"Complete search trials of {task} (points: {points}); grey band: "
                    f"{band.label if band else 'no cross-entropy runs'}."
                ),
                figure=figure,
            )
        )
    complete = mine[mine["state"] == COMPLETE].dropna(subset=[val, TRAIN_THROUGHPUT])
    front = pareto_runs(complete, val, spec.higher_is_better)
    figure = charts.tradeoff_figure(complete, metric=val, front=front)
    figure.update_layout(title=f"{task}: {figure.layout.title.text}")
    figures.append(
        StudyFigure(
            name=f"tradeoff_{task}",
            title=f"{task}: {charts.metric_label(val)} against training throughput",
            caption=(
                f"{len(complete)} complete runs of {task} (circles: search trials, "
                f"diamonds: confirm runs); dashed: the {len(front)} run(s) on the Pareto front."
            ),
            figure=figure,
        )
    )
    return figures
