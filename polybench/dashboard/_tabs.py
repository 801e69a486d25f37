"""The six tabs of the dashboard; each draws from a `View` and says plainly what is missing."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from polybench import charts, report, stats
from polybench.dashboard import _data
from polybench.dashboard._view import View
from polybench.vocab import (
    ACCURACY,
    BASELINE_LOSS,
    COMPLETE,
    CONFIRM,
    ECE,
    FAILED,
    LOSS,
    MACRO_F1,
    PARAM_PREFIX,
    PHASES,
    PRUNED,
    RUNNING,
    SEARCH,
    TRAIN_LOSS,
    TRAIN_THROUGHPUT,
)

_CURVE_VALUES = (
    ACCURACY.val_column,
    LOSS.val_column,
    TRAIN_LOSS,
    "lr",
    TRAIN_THROUGHPUT,
    "seconds",
)
_RUN_COLUMNS = [
    "run_id",
    "loss",
    "phase",
    "state",
    "seed",
    "trial_number",
    "params",
    ACCURACY.val_column,
    MACRO_F1.val_column,
    ACCURACY.test_column,
    MACRO_F1.test_column,
    ECE.test_column,
    TRAIN_THROUGHPUT,
    "eval_throughput",
    "wall_time",
    "epochs_done",
    "failure_reason",
    "device",
    "host",
]


# Sensitivity summary columns (`polybench.stats.sensitivity_summary`) as the table shows them.
_SENSITIVITY_NAMES = {
    "loss": "loss",
    "param": "parameter",
    "n_runs": "runs",
    "n_values": "distinct values",
    "value_min": "lowest value",
    "value_max": "highest value",
    "best_value": "best value",
    "best_score": "best score",
    "score_min": "lowest score",
    "score_max": "highest score",
    "score_spread": "score spread",
    "spearman_rho": "Spearman ρ",
    "spearman_p": "Spearman p",
    "note": "note",
}


FIGURE_FORMATS = ("png", "svg")


def chart_config(key: str, image_format: str = "png") -> dict:
    """Plotly's modebar for a chart: no logo, and the camera button ("Download plot") saves the
    figure in `image_format` (PNG at twice the screen resolution, or SVG) as
    `polybench-<key>.<format>`.

    Streamlit passes the config as JSON, so a custom button (which needs a JavaScript function)
    cannot add a second format; the sidebar's "Figure download format" chooses it instead.
    """
    return {
        "displaylogo": False,
        "toImageButtonOptions": {
            "format": image_format,
            "filename": f"polybench-{key}",
            "scale": 2 if image_format == "png" else 1,
        },
    }


def _chart(figure, key: str) -> None:
    image_format = st.session_state.get("figure_format", "png")
    st.plotly_chart(figure, key=key, width="stretch", config=chart_config(key, image_format))


def _in_loss_order(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of `frame` ordered by its `loss` column in `charts.ordered_losses` order (stable
    within a loss)."""
    position = {loss: i for i, loss in enumerate(charts.ordered_losses(frame["loss"]))}
    return frame.sort_values("loss", key=lambda column: column.map(position), kind="stable")


def _fmt(value: float, digits: int = 4) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


# --- Overview -------------------------------------------------------------------------------


def render_overview(view: View) -> None:
    """The summary table of the task, its best loss called out, and each loss's interval; with a
    study to compare, the two studies' summaries of the task side by side."""
    if view.compare:
        _side_by_side(view)
        return
    summary = _data.task_summary(view.storage, view.study, view.task, view.metric)
    _best_loss_callout(view, summary)
    st.subheader("Summary")
    if summary.empty:
        st.info(f"No finished runs of task {view.task} yet.")
        return
    _summary_and_intervals(view, summary, "overview", footer=True)


def _summary_and_intervals(
    view: View, summary: pd.DataFrame, prefix: str, suffix: str = "", *, footer: bool = False
) -> None:
    """A task's summary table (losses in registry order), with the report's footer when asked,
    and its interval chart, keyed `{prefix}_summary{suffix}` and `{prefix}_intervals{suffix}`."""
    table = _in_loss_order(report.display_frame(summary).drop(columns=["task"]))
    st.dataframe(table, hide_index=True, width="stretch", key=f"{prefix}_summary{suffix}")
    if footer:
        st.caption(" ".join(report.footer_lines(summary)))
    _chart(
        charts.interval_figure(
            summary,
            mean="test_mean",
            low="ci_low",
            high="ci_high",
            label=charts.metric_label(view.test_column),
            baseline=_baseline_band(summary),
        ),
        key=f"{prefix}_intervals{suffix}",
    )


def _side_by_side(view: View) -> None:
    """Two studies' summaries of the chosen task in two columns, each with its verdict line."""
    st.subheader(f"Task {view.task}: study {view.study} next to study {view.compare}")
    for column, study in zip(st.columns(2), (view.study, view.compare), strict=True):
        with column:
            st.markdown(f"**Study {study}**")
            summary = _data.task_summary(view.storage, study, view.task, view.metric)
            if summary.empty or summary["test_mean"].isna().all():
                st.info(f"Study {study} has no finished confirm runs of task {view.task}.")
                continue
            lines = report.verdicts(summary)
            st.caption(lines[1] if summary.attrs.get("exploratory") else lines[0])
            _summary_and_intervals(view, summary, "compare", f"_{study}")


def _clauses(summary: pd.DataFrame, baseline: str) -> list[str]:
    rows = summary[(summary["loss"] != baseline) & summary["verdict_text"].notna()]
    return [f"**{loss}** {text}" for loss, text in rows[["loss", "verdict_text"]].to_numpy()]


def _baseline_band(summary: pd.DataFrame) -> charts.Band | None:
    base = summary[summary["loss"] == BASELINE_LOSS]
    if base.empty or pd.isna(base["ci_low"].iloc[0]):
        return None
    row = base.iloc[0]
    label = f"{BASELINE_LOSS}: 95% CI over {int(row['n_seeds'])} seeds"
    return charts.Band(label, row["test_mean"], row["ci_low"], row["ci_high"])


def _best_loss_callout(view: View, summary: pd.DataFrame) -> None:
    confirmed = summary.dropna(subset=["test_mean"]) if len(summary) else summary
    if confirmed.empty:
        search = view.task_runs[
            (view.task_runs["phase"] == SEARCH) & (view.task_runs["state"] == COMPLETE)
        ]
        scores = search[view.val_column].dropna()
        if scores.empty:
            st.info(
                f"No run of task {view.task} has finished yet; the best loss is called out here "
                "once the confirm runs are done. Press Refresh to load new runs."
            )
            return
        best = search.loc[scores.idxmax() if view.higher_is_better else scores.idxmin()]
        st.info(
            "No confirm runs have finished yet (the study is still searching). Best search "
            f"trial so far: **{best['loss']}** with {charts.metric_label(view.val_column)} "
            f"{best[view.val_column]:.4f} ({charts.describe_params(best['params'])})."
        )
        return
    ranked = confirmed.sort_values(["rank", "loss"])
    best = ranked.iloc[0]
    lines = report.verdicts(summary)
    if summary.attrs.get("exploratory"):
        st.warning(lines.pop(0))
    verdict = lines[0].removeprefix(f"{view.task}: ")
    headline, _, details = verdict.partition(". Against ")
    better = summary[summary["verdict"] == "better"]
    if len(better):
        st.success(f"**{view.task}: {headline}**")
    else:
        st.info(f"**{view.task}: {headline}**")
    if details:
        baseline = summary.attrs.get("baseline", BASELINE_LOSS)
        st.markdown(
            f"Against {baseline}, per loss:\n\n"
            + "\n".join(f"- {clause}" for clause in _clauses(summary, baseline))
        )
    label = charts.metric_label(view.test_column)
    columns = st.columns(min(len(ranked), 5))
    for column, (_, row) in zip(columns, ranked.head(5).iterrows(), strict=False):
        column.metric(
            row["loss"],
            _fmt(row["test_mean"]),
            delta=None
            if row["loss"] == best["loss"]
            else f"{row['test_mean'] - best['test_mean']:+.4f}",
            delta_color="normal" if view.higher_is_better else "inverse",
            help=f"{label}, mean over {int(row['n_seeds'])} seed(s); rank {row['rank']:g}",
        )


# --- Trade-off ------------------------------------------------------------------------------


def render_tradeoff(view: View) -> None:
    """Score against training throughput per run, with the Pareto front of the shown runs."""
    left, right = st.columns(2)
    split = left.radio(
        "Score on",
        ("validation", "test"),
        horizontal=True,
        key="tradeoff_split",
        help="Validation scores exist for every run; test scores for the confirm runs.",
    )
    phases = right.multiselect("Phases", list(PHASES), default=list(PHASES), key="tradeoff_phases")
    metric = view.val_column if split == "validation" else view.test_column
    runs = view.task_runs[
        (view.task_runs["state"] == COMPLETE) & view.task_runs["phase"].isin(phases)
    ]
    points = runs.dropna(subset=[metric, TRAIN_THROUGHPUT])
    front = _data.pareto_runs(points, metric, view.higher_is_better)
    _chart(charts.tradeoff_figure(points, metric=metric, front=front), key="tradeoff_chart")
    if points.empty:
        st.info("No complete runs with this score yet; try the validation split or Refresh.")
        return
    st.caption(
        f"{len(points)} complete runs; circles are search trials, diamonds confirm runs. "
        f"The dashed staircase joins the {len(front)} run(s) no other run beats on both "
        "score and throughput."
    )
    shown = front[["run_id", "loss", "phase", "seed", "params", metric, TRAIN_THROUGHPUT]]
    with st.expander("Runs on the Pareto front"):
        st.dataframe(shown, hide_index=True, width="stretch", key="tradeoff_front")
    _throughput_table(view)


def _throughput_table(view: View) -> None:
    """Per loss: throughput with its interval, whether it differs from the baseline's beyond
    noise, and the loss's own cost against cross-entropy (measured once per study)."""
    summary = _data.task_summary(view.storage, view.study, view.task, view.metric)
    if summary.empty:
        return
    confidence = summary.attrs.get("confidence", 0.95)
    baseline = summary.attrs.get("baseline", BASELINE_LOSS)
    table = report.display_frame(summary)
    rate = f"train samples/s ({confidence:.0%} CI)"
    cost = f"loss cost (x {baseline})"
    table = table[["loss", rate, cost]].assign(
        **{f"throughput vs {baseline}": summary["throughput_note"].fillna("").to_numpy()}
    )
    table = _in_loss_order(table)
    st.dataframe(table, hide_index=True, width="stretch", key="tradeoff_throughput")
    noted = summary["throughput_note"].dropna()
    within = [
        loss
        for loss, note in zip(summary.loc[noted.index, "loss"], noted, strict=True)
        if note.startswith("within noise")
    ]
    text = (
        f"Throughput of {', '.join(within)} is within noise of {baseline}: the horizontal "
        "spread above is run-to-run variation, not the loss. "
        if within
        else ""
    )
    st.caption(
        text + "The loss cost compares forward + backward of each loss with cross-entropy on "
        "the task's batch shape, interleaved on one worker, so machine load cancels out."
    )


# --- Sensitivity ----------------------------------------------------------------------------


def render_sensitivity(view: View) -> None:
    """Score against each tuned hyperparameter, a heat map for two, and Optuna's importances."""
    search = view.task_runs[
        (view.task_runs["phase"] == SEARCH) & (view.task_runs["state"] == COMPLETE)
    ]
    params = charts.tuned_params(search)
    if not params:
        st.info(
            f"No tuned hyperparameter varies across the complete search runs of task "
            f"{view.task} yet."
        )
    else:
        param = st.selectbox(
            "Hyperparameter", params, key="sensitivity_param", format_func=charts.metric_label
        )
        band = _data.baseline_band(view.storage, view.study, view.task, view.val_column)
        _chart(
            charts.sensitivity_figure(search, param=param, metric=view.val_column, baseline=band),
            key="sensitivity_chart",
        )
        if band is not None:
            st.caption(f"Grey band: {band.label}.")
        summary = _data.sensitivity_table(view.storage, view.study, view.task, view.metric)
        if not summary.empty:
            shown = _in_loss_order(summary)[list(_SENSITIVITY_NAMES)]
            st.dataframe(
                shown.rename(columns=_SENSITIVITY_NAMES),
                hide_index=True,
                width="stretch",
                key="sensitivity_summary",
            )
    two_param = [loss for loss in charts.ordered_losses(search["loss"]) if len(
        charts.tuned_params(search, loss)) >= 2]  # fmt: skip
    if two_param:
        st.subheader("Two parameters at once")
        loss = st.selectbox("Loss", two_param, key="heatmap_loss")
        pair = charts.tuned_params(search, loss)[:2]
        _chart(
            charts.sensitivity_heatmap(
                search, loss=loss, params=(pair[0], pair[1]), metric=view.val_column
            ),
            key="sensitivity_heatmap",
        )
    st.subheader("Parameter importances")
    importances = _data.importances(view.storage, view.study, view.task)
    values = importances.dropna(subset=["param", "importance"])
    _chart(charts.importance_figure(values), key="importance_chart")
    warning = charts.importance_warning(values, search)
    if warning:
        st.warning(warning)
    for loss, note in importances[importances["param"].isna()][["loss", "note"]].to_numpy():
        st.caption(f"{loss}: {note}")


# --- Runs -----------------------------------------------------------------------------------


def render_runs(view: View) -> None:
    """A filterable table of the task's runs, their learning curves, and a CSV of the table."""
    runs = view.task_runs
    a, b, c = st.columns(3)
    losses = a.multiselect(
        "Loss", charts.ordered_losses(runs["loss"]), key="runs_loss", placeholder="all losses"
    )
    phases = b.multiselect("Phase", list(PHASES), key="runs_phase", placeholder="all")
    states = c.multiselect(
        "State", [COMPLETE, RUNNING, PRUNED, FAILED], key="runs_state", placeholder="all"
    )
    shown = runs
    if losses:
        shown = shown[shown["loss"].isin(losses)]
    if phases:
        shown = shown[shown["phase"].isin(phases)]
    if states:
        shown = shown[shown["state"].isin(states)]
    columns = [c for c in _RUN_COLUMNS if c in shown.columns]
    columns += [c for c in shown.columns if c.startswith(PARAM_PREFIX)]
    table = shown[columns].sort_values("run_id")
    st.dataframe(table, hide_index=True, width="stretch", key="runs_table")
    st.download_button(
        f"Download these {len(table)} runs as CSV",
        table.to_csv(index=False).encode(),
        file_name=f"{view.study}-{view.task}-runs.csv".replace("/", "_"),
        mime="text/csv",
        key="runs_csv",
    )
    st.subheader("Learning curves")
    ids = table["run_id"].tolist()
    objective = _data.study_objective(view.storage, view.study)
    default = _default_curves(table, stats.best_search_runs(view.task_runs, objective))
    selected = st.multiselect(
        "Runs", ids, default=default, key="curve_runs", format_func=_run_label(table)
    )
    value = st.selectbox("Value", _CURVE_VALUES, key="curve_value", format_func=charts.metric_label)
    epochs = _data.task_epochs(view.storage, view.study, view.task)
    epochs = epochs[epochs["run_id"].isin(selected)]
    _chart(
        charts.learning_curves_figure(epochs, table[table["run_id"].isin(selected)], value=value),
        key="curves_chart",
    )
    confirm = view.task_runs[
        (view.task_runs["phase"] == CONFIRM) & (view.task_runs["state"] == COMPLETE)
    ]
    all_epochs = _data.task_epochs(view.storage, view.study, view.task)
    _chart(
        charts.mean_curves_figure(
            all_epochs[all_epochs["run_id"].isin(confirm["run_id"])], confirm, value=value
        ),
        key="mean_curves_chart",
    )
    st.caption(
        "Each line is a loss's complete confirm runs averaged per epoch; the shaded band spans "
        "the lowest and highest run (min–max, not a confidence interval: a study has few seeds)."
    )


def _default_curves(table: pd.DataFrame, best: pd.DataFrame, limit: int = 8) -> list[int]:
    """One run per loss to compare: its first confirm run, else its best search run (`best`,
    from `stats.best_search_runs`: the run the report and the runner call best), else its
    newest run (still training)."""
    chosen = []
    for loss in charts.ordered_losses(table["loss"]):
        runs = table[table["loss"] == loss]
        confirm = runs[runs["phase"] == CONFIRM].sort_values("seed")
        searched = runs[runs["run_id"].isin(best["run_id"])]
        pick = confirm if len(confirm) else searched if len(searched) else runs.iloc[::-1]
        chosen.append(int(pick["run_id"].iloc[0]))
    return chosen[:limit]


def _run_label(table: pd.DataFrame):
    info = table.set_index("run_id")

    def label(run_id: int) -> str:
        row = info.loc[run_id]
        return f"#{run_id} {row['loss']} {row['phase']} seed {row['seed']}"

    return label


# --- Budget -------------------------------------------------------------------------------


def render_budget(view: View) -> None:
    """What each loss's result cost, and how fast its search found a good setting."""
    spent = _data.budget(view.storage, view.study, view.metric)
    ledger = spent.ledger[spent.ledger["task"] == view.task]
    curve = spent.curve[spent.curve["task"] == view.task]
    st.subheader("Budget ledger")
    if ledger.empty:
        st.info(f"No run of task {view.task} has finished yet.")
    else:
        shown = _in_loss_order(report.ledger_display(ledger).drop(columns=["task"]))
        st.dataframe(shown, hide_index=True, width="stretch", key="budget_ledger")
        st.caption(
            "Search trials by outcome, epochs trained and compute seconds (run wall times) of "
            "each loss, search and confirm runs together in the last two columns."
        )
    st.subheader("Best score against budget")
    _chart(charts.expected_best_figure(curve, metric=view.val_column), key="expected_best")
    st.caption(
        "Expected best validation score after k search trials, ±1 SD, from the complete "
        "trials drawn with replacement (Dodge et al., EMNLP 2019): a curve that flattens early "
        "belongs to a loss that is easy to tune. " + spent.variance_line()
    )


# --- Across tasks ---------------------------------------------------------------------------


def render_across_tasks(view: View) -> None:
    """Average rank of each loss over the study's tasks, the Friedman test and Nemenyi pairs."""
    tasks = sorted(view.runs["task"].unique())
    st.subheader(f"All {len(tasks)} task(s) of study {view.study}: {', '.join(tasks)}")
    summary = _data.study_summary(view.storage, view.study, view.metric)
    scores = summary.pivot_table(index="task", columns="loss", values="test_mean")
    label = charts.metric_label(view.test_column)
    if scores.empty:
        st.info("No task has complete confirm runs yet; ranks appear once they finish.")
        return
    st.markdown(f"Mean {label} over seeds, per task (rows) and loss (columns):")
    scores = scores[charts.ordered_losses(scores.columns)].rename_axis(columns=None)
    st.dataframe(scores, width="stretch", key="across_scores")
    result = _data.ranking(view.storage, view.study, view.metric)
    ranks = result.average_ranks.rename("average_rank").rename_axis("loss").reset_index()
    cd = result.critical_difference if result.nemenyi_applied else None
    _chart(charts.average_rank_figure(ranks, critical_difference=cd), key="ranks_chart")
    if math.isfinite(result.statistic):
        verdict = "the losses differ" if result.rejected else "no difference shown"
        st.markdown(
            f"**Friedman test** over {len(result.tasks)} tasks and {len(result.losses)} losses: "
            f"χ² = {result.statistic:.3f}, p = {result.p_value:.3g} "
            f"(Iman–Davenport F = {result.iman_davenport:.3f}, p = "
            f"{result.iman_davenport_p:.3g}, {result.p_method}): {verdict} at "
            f"α = {result.alpha}."
        )
        if result.nemenyi_applied:
            st.markdown(
                f"**Nemenyi post-hoc** (critical difference {result.critical_difference:.3f}): "
                "pairs whose average ranks differ beyond it."
            )
            st.dataframe(result.pairwise, hide_index=True, width="stretch", key="across_pairs")
    if result.note:
        st.info(f"Note: {result.note}.")
    lines = report.across_task_lines(summary)[len(report.ranking_lines(result)) :]
    if lines:
        st.markdown("\n".join(f"- {line}" for line in lines))
