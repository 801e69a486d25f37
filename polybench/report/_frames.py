"""Frames read from a storage URL: runs, epochs, summary, ranking, sensitivity, importances.

Each function opens the store at `storage` (a SQLAlchemy URL; None means `$POLYBENCH_STORAGE`,
else `sqlite:///polybench.db`), reads, closes it, and computes with `polybench.stats`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pandas as pd

from polybench import stats
from polybench.errors import UnknownName, did_you_mean
from polybench.report._summary import ranking as ranking_from_summary
from polybench.report._summary import summarize
from polybench.vocab import (
    COMPLETE,
    CONFIRM,
    DEFAULT_METRIC,
    SEARCH,
    TEST_PREFIX,
    TRAIN_THROUGHPUT,
    metric_for_objective,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from polybench.db import Store

logger = logging.getLogger(__name__)

Filter = str | Sequence[str] | None


@contextmanager
def _store(storage: str | None) -> Iterator[Store]:
    from polybench.db import open_store

    store = open_store(storage, read_only=True)  # reports never create or change a database
    try:
        yield store
    finally:
        store.close()


def _check_study(store: Store, study: str) -> pd.DataFrame:
    """The study's row of `store.studies()`; ValueError naming the known studies if absent."""
    studies = store.studies()
    row = studies[studies["study"] == study]
    if row.empty:
        known = studies["study"].tolist()
        raise ValueError(
            f"no study {study!r} in {store.display_url}; known studies: "
            f"{', '.join(known) or 'none (run `polybench run STUDY.yaml` first)'}."
            + did_you_mean(study, known)
        )
    return row


def _check_choices(phase: Filter, state: Filter) -> None:
    """ValueError naming the allowed values when a phase or state filter has an unknown value."""
    from polybench.db import PHASES, RUN_STATES

    for name, wanted, allowed in (("phase", phase, PHASES), ("state", state, RUN_STATES)):
        for value in [] if wanted is None else [wanted] if isinstance(wanted, str) else wanted:
            if value not in allowed:
                raise UnknownName(name, value, allowed)


def studies(storage: str | None) -> pd.DataFrame:
    """The studies in the database, one row each (the store's `studies()` columns)."""
    with _store(storage) as store:
        return store.studies()


def runs(
    storage: str | None,
    study: str,
    task: Filter = None,
    loss: Filter = None,
    phase: Filter = None,
    state: Filter = None,
) -> pd.DataFrame:
    """The runs of `study` (every phase and state unless filtered), with the store's columns.

    Each filter is a value or a list of values. Raises ValueError for an unknown study, phase
    or state. Test scores are shown for confirm runs only: a database written by an older
    polybench may hold test scores of search runs, and no one should pick a setting by them.
    """
    _check_choices(phase, state)
    with _store(storage) as store:
        frame = _selected_runs(store, study, task, loss, phase, state)
    return confirm_only_test_scores(frame)


def _selected_runs(
    store: Store, study: str, task: Filter, loss: Filter, phase: Filter, state: Filter
) -> pd.DataFrame:
    _check_study(store, study)
    return store.runs(study=study, task=task, loss=loss, phase=phase, state=state)


def confirm_only_test_scores(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with the test metrics of every run that is not a confirm run set to NaN."""
    test_columns = [c for c in frame.columns if c.startswith(TEST_PREFIX)]
    search = frame["phase"] != CONFIRM
    if not search.any():
        return frame
    frame = frame.copy()
    frame.loc[search, test_columns] = float("nan")
    return frame


def epochs(
    storage: str | None,
    study: str,
    task: Filter = None,
    loss: Filter = None,
    phase: Filter = None,
    state: Filter = None,
) -> pd.DataFrame:
    """The epoch rows of the runs that `runs(...)` selects with the same filters."""
    _check_choices(phase, state)
    with _store(storage) as store:
        selected = _selected_runs(store, study, task, loss, phase, state)
        return store.epochs(study=study, run_ids=selected["run_id"].tolist())


def study_metric(storage: str | None, study: str) -> str:
    """The metric a study optimised (its `search.metric`), as a reportable metric name.

    Studies that optimised `val_loss` are reported on accuracy (there is no test loss).
    """
    return _metric_of(_config_text(storage, study))


def study_objective(storage: str | None, study: str) -> str:
    """The column a study's search optimised first (`val_accuracy`, `val_loss`, ...): what
    `stats.best_search_runs` ranks its search runs by."""
    return _objective_of(_config_text(storage, study))


def _config_text(storage: str | None, study: str) -> str:
    """The study file's text as the store keeps it."""
    with _store(storage) as store:
        return _check_study(store, study)["config_text"].iloc[0]


def _study_section(config_text: str, key: str) -> dict:
    """The mapping under `key` in a stored study file's text ({} when absent or unreadable)."""
    import yaml

    try:
        section = (yaml.safe_load(config_text) or {}).get(key, {})
    except (yaml.YAMLError, AttributeError) as error:
        logger.warning("cannot read the study's %s section (%s)", key, error)
        return {}
    return section if isinstance(section, dict) else {}


def _objective_of(config_text: str) -> str:
    """The search objective (`val_accuracy`, `val_loss`, ...) of a stored study file's text."""
    objective = _study_section(config_text, "search").get("metric")
    if isinstance(objective, list):
        objective = objective[0] if objective else None
    return str(objective or DEFAULT_METRIC.val_column)


def _metric_of(config_text: str) -> str:
    """The reportable metric named by `search.metric` in a stored study file's text."""
    return metric_for_objective(_objective_of(config_text)).name


def _margin_of(config_text: str) -> float | None:
    """The study's `report.margin` (equivalence margin), or None when it sets none."""
    margin = _study_section(config_text, "report").get("margin")
    if isinstance(margin, int | float) and not isinstance(margin, bool) and margin > 0:
        return float(margin)
    return None


def _select(frame: pd.DataFrame, column: str, wanted: Filter) -> pd.DataFrame:
    if wanted is None:
        return frame
    values = [wanted] if isinstance(wanted, str) else list(wanted)
    return frame[frame[column].isin(values)]


def summary(
    storage: str | None,
    study: str,
    task: Filter = None,
    loss: Filter = None,
    metric: str | None = None,
    baseline: str = stats.BASELINE,
    confidence: float = stats.CONFIDENCE,
    alpha: float = stats.ALPHA,
    margin: float | None = None,
) -> pd.DataFrame:
    """The summary table of a study: one row per task and loss (columns: `SUMMARY_COLUMNS`).

    `metric` defaults to the study's search metric, its primary metric; any other is labelled
    exploratory. `margin` (the equivalence margin, metric units) defaults to the study file's
    `report.margin`. The `loss` filter only hides rows: deltas, Holm adjustments and ranks are
    computed over all the losses of each task, so a filtered report shows the same numbers as
    the full one.

    >>> from polybench.report import summary
    >>> summary("sqlite:///polybench.db", "quickstart")  # doctest: +SKIP
    """
    with _store(storage) as store:
        row = _check_study(store, study)
        frame = store.runs(study=study, task=task)
        costs = store.loss_costs(study=study, task=task)
    text = row["config_text"].iloc[0]
    if margin is not None and not margin > 0:
        raise ValueError(f"the equivalence margin must be a positive number; got {margin}")
    table = summarize(
        frame,
        metric or _metric_of(text),
        baseline,
        confidence=confidence,
        alpha=alpha,
        margin=margin if margin is not None else _margin_of(text),
        primary_metric=_metric_of(text),
        objective=_objective_of(text),
        loss_costs=costs,
    )
    selected = _select(table, "loss", loss).reset_index(drop=True)
    selected.attrs = table.attrs | {"study": study}
    return selected


def ranking(
    storage: str | None,
    study: str,
    task: Filter = None,
    loss: Filter = None,
    metric: str | None = None,
    alpha: float = 0.05,
) -> stats.FriedmanResult:
    """Average ranks of the losses over the study's tasks, Friedman test and Nemenyi post-hoc."""
    return ranking_from_summary(summary(storage, study, task, loss, metric, alpha=alpha), alpha)


def sensitivity(
    storage: str | None,
    study: str,
    task: Filter = None,
    loss: Filter = None,
    metric: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score against each hyperparameter in the complete search runs: (points, per-parameter
    summary) as `polybench.stats.sensitivity` and `sensitivity_summary` compute them."""
    with _store(storage) as store:
        row = _check_study(store, study)
        frame = store.runs(study=study, task=task, loss=loss, phase=SEARCH, state=COMPLETE)
    spec = stats.get_metric(metric or _metric_of(row["config_text"].iloc[0]))
    points = stats.sensitivity(frame, spec.val_column)
    table = stats.sensitivity_summary(frame, spec.val_column, spec.higher_is_better)
    return points, table


IMPORTANCE_COLUMNS = ["task", "loss", "optuna_study", "param", "importance", "note"]


def importances(
    storage: str | None, study: str, task: Filter = None, loss: Filter = None
) -> pd.DataFrame:
    """Optuna's fANOVA parameter importances of each search study `{study}/{task}/{loss}`.

    Columns: task, loss, optuna_study, param, importance, note. A (task, loss) without
    importances (fewer than 2 complete trials, no parameters, no Optuna study) has one row with
    empty param and the reason in note.
    """
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    with _store(storage) as store:
        _check_study(store, study)
        frame = store.runs(study=study, task=task, loss=loss, phase=SEARCH)
        url = store.url
    rows = []
    pairs = frame[["task", "loss"]].drop_duplicates().sort_values(["task", "loss"])
    if pairs.empty:
        return pd.DataFrame(columns=IMPORTANCE_COLUMNS)
    try:
        optuna_storage = optuna.storages.RDBStorage(url, skip_table_creation=True)
    except (optuna.exceptions.StorageInternalError, SQLAlchemyError) as error:
        logger.info("no Optuna storage at %s: %s", url, error)
        note = "no Optuna tables in this storage (runs not written by `polybench run`)"
        rows = [
            {"task": t, "loss": loss_name, "optuna_study": f"{study}/{t}/{loss_name}", "note": note}
            for t, loss_name in pairs.itertuples(index=False)
        ]
        return pd.DataFrame(rows, columns=IMPORTANCE_COLUMNS).astype({"importance": "float64"})
    try:
        for task_name, loss_name in pairs.itertuples(index=False):
            name = f"{study}/{task_name}/{loss_name}"
            head = {"task": task_name, "loss": loss_name, "optuna_study": name}
            try:
                optuna_study = optuna.load_study(study_name=name, storage=optuna_storage)
            except KeyError:
                rows.append(head | {"note": f"no Optuna study named {name!r} in this storage"})
                continue
            values, note = stats.param_importances(optuna_study)
            if values.empty:
                rows.append(head | {"note": note})
            rows += [head | {"param": p, "importance": v} for p, v in values.itertuples(False)]
    finally:
        optuna_storage.remove_session()
        optuna_storage.engine.dispose()
    table = pd.DataFrame(rows, columns=IMPORTANCE_COLUMNS)
    return table.astype({"importance": "float64"})


def pareto(
    storage: str | None,
    study: str,
    task: Filter = None,
    metric: str | None = None,
    throughput: str = TRAIN_THROUGHPUT,
) -> pd.DataFrame:
    """The accuracy-throughput front across losses, per task, from the confirm runs' means.

    Columns: task, loss, n_runs, test_<metric>, <throughput>, on_front.
    """
    with _store(storage) as store:
        row = _check_study(store, study)
        frame = store.runs(study=study, task=task, phase=CONFIRM, state=COMPLETE)
    spec = stats.get_metric(metric or _metric_of(row["config_text"].iloc[0]))
    return stats.accuracy_throughput_front(
        frame, spec.test_column, throughput, spec.higher_is_better
    )
