"""The dashboard's one page: a sidebar to pick the study, task and metric, and six tabs.

`render()` is the whole Streamlit script (`streamlit_app.py` and `app/dashboard.py` call it). The
tabs read the database only through `polybench.dashboard._data`, whose cached loaders call
`polybench.report` and `polybench.stats`; the figures come from `polybench.charts`.
"""

from __future__ import annotations

import logging
import os

import streamlit as st

from polybench import vocab
from polybench.dashboard import STORAGE_ENV, _data
from polybench.dashboard._tabs import (
    FIGURE_FORMATS,
    render_across_tasks,
    render_budget,
    render_overview,
    render_runs,
    render_sensitivity,
    render_tradeoff,
)
from polybench.dashboard._view import View
from polybench.vocab import COMPLETE, FAILED, PRUNED, RUNNING

logger = logging.getLogger(__name__)

TABS = ("Overview", "Trade-off", "Sensitivity", "Runs", "Across tasks", "Budget")
METRICS = tuple(vocab.METRICS)
_EMPTY_HELP = (
    "Fill it with a study, for example `polybench run studies/quickstart.yaml`, or point the "
    "dashboard at another database: `polybench dashboard --storage URL`."
)


def storage_url() -> str:
    """The database the launcher chose (`POLYBENCH_STORAGE`), resolved like the CLI does."""
    from polybench.db import resolve_storage_url

    return resolve_storage_url(os.environ.get(STORAGE_ENV) or None)


def render() -> None:
    """Draw the dashboard for the database in `POLYBENCH_STORAGE`."""
    st.set_page_config(page_title="polybench dashboard", page_icon="📊", layout="wide")
    with st.sidebar:
        st.title("polybench")
        if st.button("Refresh", key="refresh", help="Load runs written since the last look."):
            _data.clear()
    try:
        storage = storage_url()
        studies = _data.study_names(storage)
    except _data.StorageError as error:
        st.title("polybench dashboard")
        st.error(f"Cannot read the results database: {error}")
        return
    st.sidebar.caption(f"Database: `{_data.display_url(storage)}`")
    if not studies:
        st.title("polybench dashboard")
        st.info(f"The database `{_data.display_url(storage)}` has no studies yet. {_EMPTY_HELP}")
        return

    with st.sidebar:
        study = st.selectbox("Study", studies, key="study")
    runs = _data.study_runs(storage, study)
    if runs.empty:
        st.title(f"Study {study}")
        st.info(
            f"Study {study!r} has no runs yet: its runner may still be starting. "
            "Press Refresh in the sidebar to load new runs."
        )
        return
    tasks = sorted(runs["task"].unique())
    with st.sidebar:
        task = st.selectbox("Task", tasks, key="task")
        metric = st.selectbox(
            "Metric",
            METRICS,
            index=METRICS.index(_data.study_metric(storage, study)),
            key="metric",
            format_func=lambda m: vocab.METRICS[m].title,
            help="The score every tab shows; it starts at the metric the study optimised.",
        )
        _study_counts(runs)
        others = [name for name in studies if name != study]
        compare = (
            st.selectbox(
                "Compare with study",
                others,
                index=None,
                key="compare_study",
                placeholder="none",
                help="Shows the other study's summary of the same task next to this one's "
                "in the Overview tab.",
            )
            if others
            else None
        )
        st.selectbox(
            "Figure download format",
            FIGURE_FORMATS,
            key="figure_format",
            format_func=str.upper,
            help="What the camera button of every chart's toolbar saves: PNG or SVG.",
        )

    view = View(storage=storage, study=study, task=task, metric=metric, runs=runs, compare=compare)
    st.title(f"Study {study}")
    st.caption(
        f"Task **{task}** in every tab but Across tasks, which compares all {len(tasks)} "
        f"task(s) of the study."
    )
    _status_messages(view)
    for tab, title, draw in zip(
        st.tabs(list(TABS)),
        TABS,
        (
            render_overview,
            render_tradeoff,
            render_sensitivity,
            render_runs,
            render_across_tasks,
            render_budget,
        ),
        strict=True,
    ):
        with tab:
            try:
                draw(view)
            except Exception as error:  # one broken tab must not hide the others
                logger.exception("dashboard tab %s failed", title)
                st.error(f"The {title} tab could not be drawn: {type(error).__name__}: {error}")


def _study_counts(runs) -> None:
    counts = runs["state"].value_counts()
    parts = [f"{counts.get(state, 0)} {state}" for state in (COMPLETE, RUNNING, PRUNED)]
    failed = int(counts.get(FAILED, 0))
    if failed:
        parts.append(f"{failed} {FAILED}")
    st.caption(f"{len(runs)} runs in the study: " + ", ".join(parts))


def _status_messages(view: View) -> None:
    """Say plainly when the study is still running or has failed runs (of the chosen task)."""
    runs = view.task_runs
    running = int((runs["state"] == RUNNING).sum())
    if running:
        st.info(
            f"{running} run(s) of task {view.task} are still running; press Refresh in the "
            "sidebar to load new results."
        )
    failed = runs[runs["state"] == FAILED]
    if len(failed):
        with st.expander(f"{len(failed)} failed run(s) of task {view.task}: reasons"):
            reasons = failed[["run_id", "loss", "phase", "params", "failure_reason"]]
            st.dataframe(reasons, hide_index=True, width="stretch")
