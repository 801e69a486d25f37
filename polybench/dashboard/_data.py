"""Cached reads for the dashboard: `polybench.report` for frames, `polybench.stats` for numbers.

Every loader is keyed on the storage URL and the study (plus the task or metric it needs), so
switching tabs, tasks or widgets never queries the database twice; `clear()` (the Refresh
button) drops the cache so a running study's new runs appear. Entries also expire after
`TTL_SECONDS`, so reloading the page a minute later shows new runs as well.

`study_names` is the one read that `polybench.report` has no function for (the list of
studies); it is a thin adapter over `polybench.db.Store.studies()`.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from polybench import report, stats
from polybench.charts import Band
from polybench.db import StorageError, display_url
from polybench.vocab import BASELINE_LOSS, TRAIN_THROUGHPUT

TTL_SECONDS = 60

__all__ = ["StorageError", "display_url"]


def clear() -> None:
    """Forget every cached read (the next look queries the database again)."""
    st.cache_data.clear()


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def study_names(storage: str) -> list[str]:
    """Names of the studies in the database, newest first."""
    from polybench.db import open_store

    store = open_store(storage, read_only=True)
    try:
        studies = store.studies()
    finally:
        store.close()
    return list(studies.sort_values("created_at", ascending=False)["study"])


@st.cache_data(ttl=TTL_SECONDS, show_spinner="Loading runs…")
def study_runs(storage: str, study: str) -> pd.DataFrame:
    """Every run of `study` (all tasks, phases and states)."""
    return report.runs(storage, study)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def study_metric(storage: str, study: str) -> str:
    """The metric the study optimised (`accuracy`, `macro_f1`, ...)."""
    return report.study_metric(storage, study)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def study_objective(storage: str, study: str) -> str:
    """The column the study's search optimised first (`val_accuracy`, `val_loss`, ...)."""
    return report.study_objective(storage, study)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def task_epochs(storage: str, study: str, task: str) -> pd.DataFrame:
    """The per-epoch records of every run of one task (selected runs are filtered in pandas)."""
    return report.epochs(storage, study, task=task)


@st.cache_data(ttl=TTL_SECONDS, show_spinner="Computing the summary…")
def study_summary(storage: str, study: str, metric: str) -> pd.DataFrame:
    """`polybench.report.summary` of every task on one metric (one row per task and loss)."""
    return report.summary(storage, study, metric=metric)


def task_summary(storage: str, study: str, task: str, metric: str) -> pd.DataFrame:
    """The rows of `study_summary` for one task (computed over all its losses)."""
    summary = study_summary(storage, study, metric)
    rows = summary[summary["task"] == task].reset_index(drop=True)
    rows.attrs = dict(summary.attrs)
    return rows


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def ranking(storage: str, study: str, metric: str) -> stats.FriedmanResult:
    """Average ranks over the tasks, Friedman test and Nemenyi post-hoc (`report.ranking`)."""
    return report.ranking(storage, study, metric=metric)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def sensitivity_table(storage: str, study: str, task: str, metric: str) -> pd.DataFrame:
    """How much the validation score moves with each parameter (`report.sensitivity`)."""
    _, table = report.sensitivity(storage, study, task=task, metric=metric)
    return table.drop(columns=["task"])


@st.cache_data(ttl=TTL_SECONDS, show_spinner="Computing parameter importances…")
def importances(storage: str, study: str, task: str) -> pd.DataFrame:
    """Optuna's fANOVA importances of each loss of the task (`report.importances`)."""
    return report.importances(storage, study, task=task)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def baseline_band(storage: str, study: str, task: str, column: str) -> Band | None:
    """Cross-entropy's score on `column` as a band: its 95% interval over the confirm seeds.

    Falls back to the range of its complete search runs when it has fewer than two confirm runs.
    """
    runs = study_runs(storage, study)
    runs = runs[(runs["task"] == task) & (runs["loss"] == BASELINE_LOSS)]
    seeds = stats.seed_summary(runs, metrics=[column])
    if len(seeds) and seeds["n_seeds"].iloc[0] >= stats.MIN_SEEDS:
        row = seeds.iloc[0]
        label = f"{BASELINE_LOSS}: 95% CI over {int(row['n_seeds'])} confirm seeds"
        return Band(label, float(row["mean"]), float(row["ci_low"]), float(row["ci_high"]))
    scores = stats.search_runs(runs)[column].dropna()
    if scores.empty:
        return None
    label = f"{BASELINE_LOSS}: range of {len(scores)} search run(s)"
    return Band(label, float(scores.mean()), float(scores.min()), float(scores.max()))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def budget(storage: str, study: str, metric: str) -> report.Budget:
    """The budget ledger, expected-best curve and varied sources (`report.budget`)."""
    return report.budget(storage, study, metric=metric)


def pareto_runs(points: pd.DataFrame, metric: str, higher_is_better: bool) -> pd.DataFrame:
    """The runs of `points` that no other run beats on both `metric` and training throughput."""
    if points.empty:
        return points
    mask = stats.pareto_front(points, {metric: higher_is_better, TRAIN_THROUGHPUT: True}, by=())
    return points[mask].sort_values(TRAIN_THROUGHPUT)
