"""polybench's shared vocabulary: the names of metrics, run states, phases and the baseline loss.

Every layer (losses, the store, training, the runner, reports, charts, the dashboard and the CLI)
reads these names from here instead of spelling them, so a metric or a state is added or renamed
in one place. A leaf module: it imports nothing from polybench.

>>> MACRO_F1.val_column, MACRO_F1.test_column, ECE.higher_is_better
('val_macro_f1', 'test_macro_f1', False)
>>> metric_for_objective("val_loss").name  # a confirm run of a loss-driven search is scored on
'accuracy'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

# ----------------------------------------------------------------------------- metrics

VAL_PREFIX = "val_"
TEST_PREFIX = "test_"


@dataclass(frozen=True)
class Metric:
    """A score stored for every run as `val_<name>` (also recorded per epoch) and, when `test`,
    as `test_<name>`.

    `higher_is_better` fixes the direction used by searches, ranks, bests and Pareto fronts;
    `label` is how charts and tables name it (`macro-F1`).
    """

    name: str
    higher_is_better: bool
    help: str
    label: str
    test: bool = True

    @property
    def val_column(self) -> str:
        return VAL_PREFIX + self.name

    @property
    def test_column(self) -> str:
        return TEST_PREFIX + self.name

    @property
    def title(self) -> str:
        """The label, with the direction where lower is better (`ECE (lower is better)`)."""
        return self.label if self.higher_is_better else f"{self.label} (lower is better)"

    @property
    def direction(self) -> Literal["maximize", "minimize"]:
        """Optuna's word for the direction."""
        return "maximize" if self.higher_is_better else "minimize"


ACCURACY = Metric("accuracy", True, "fraction of correctly classified samples", "accuracy")
MACRO_F1 = Metric("macro_f1", True, "F1 score averaged over classes with equal weight", "macro-F1")
BALANCED_ACCURACY = Metric(
    "balanced_accuracy",
    True,
    "recall averaged over classes (robust to imbalance)",
    "balanced accuracy",
)
ECE = Metric("ece", False, "expected calibration error (lower is better)", "ECE")
LOSS = Metric("loss", False, "cross-entropy of the validation split", "loss", test=False)
"""The validation cross-entropy: an objective and an epoch value, never a test score."""

METRICS: dict[str, Metric] = {m.name: m for m in (ACCURACY, MACRO_F1, BALANCED_ACCURACY, ECE)}
"""The scores a run is judged by (validation and test), in display order."""

DEFAULT_METRIC = ACCURACY

TRAIN_LOSS = "train_loss"
"""The epoch column holding the mean training loss of the loss being studied."""
TRAIN_THROUGHPUT = "train_throughput"
"""Training samples per second: a run column, an epoch column and a possible objective."""

VAL_COLUMNS: tuple[str, ...] = (*(m.val_column for m in METRICS.values()), LOSS.val_column)
TEST_COLUMNS: tuple[str, ...] = tuple(m.test_column for m in METRICS.values())
RUN_METRIC_COLUMNS: tuple[str, ...] = VAL_COLUMNS + TEST_COLUMNS
"""The metric columns of every run, in the store's column order."""
EPOCH_METRIC_COLUMNS: tuple[str, ...] = (
    LOSS.val_column,
    *(m.val_column for m in METRICS.values()),
)
"""Validation metrics recorded every epoch, so a pruner can watch the study's objective."""

OBJECTIVES: dict[str, bool] = {
    ACCURACY.val_column: True,
    MACRO_F1.val_column: True,
    BALANCED_ACCURACY.val_column: True,
    LOSS.val_column: False,
    ECE.val_column: False,
    TRAIN_THROUGHPUT: True,
}
"""The columns a study may optimise, with whether higher is better."""


def metric_for_objective(objective: str) -> Metric:
    """The score that judges runs searched for `objective`: its own metric for a score
    (`val_macro_f1` -> macro-F1), accuracy for the loss or throughput."""
    bare = objective.removeprefix(VAL_PREFIX).removeprefix(TEST_PREFIX)
    return METRICS.get(bare, DEFAULT_METRIC)


def higher_is_better(column: str) -> bool:
    """Whether a metric column (`val_accuracy`, `test_ece`, `val_loss`, ...) is maximised."""
    bare = column.removeprefix(VAL_PREFIX).removeprefix(TEST_PREFIX)
    if bare in METRICS:
        return METRICS[bare].higher_is_better
    return bare != LOSS.name


# ----------------------------------------------------------------------------- runs

SEARCH = "search"
CONFIRM = "confirm"
PHASES: tuple[str, ...] = (SEARCH, CONFIRM)
"""A search run is one Optuna trial of a loss's hyperparameters; a confirm run retrains the
chosen hyperparameters with a new seed."""

RUNNING = "running"
COMPLETE = "complete"
PRUNED = "pruned"
FAILED = "failed"
RUN_STATES: tuple[str, ...] = (RUNNING, COMPLETE, PRUNED, FAILED)
FINISHED_STATES: tuple[str, ...] = (COMPLETE, PRUNED, FAILED)

BASELINE_LOSS = "cross_entropy"
"""The loss every other loss is compared against."""

PARAM_PREFIX = "param_"
"""Prefix of the one-column-per-hyperparameter columns of run tables (`param_epsilon`)."""


def params_text(params: Mapping[str, Any]) -> str:
    """A parameter set as canonical JSON (sorted keys): equal params give equal text, so it keys
    stored runs and confirm slots alike."""
    return json.dumps(dict(params), sort_keys=True, default=str)
