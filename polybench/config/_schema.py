"""The study file's schema: pydantic models of every section, the limits on sizes and counts,
and the error (`ConfigError`, one `Problem` a line) every check reports through."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from polybench.vocab import DEFAULT_METRIC, OBJECTIVES

# Objectives a study may optimise, with the direction Optuna needs.
DIRECTIONS: dict[str, Literal["maximize", "minimize"]] = {
    name: "maximize" if higher else "minimize" for name, higher in OBJECTIVES.items()
}

# Training settings the shared `tune` space may search: name -> (kind, lowest valid value).
TUNABLE_SETTINGS: dict[str, tuple[type, float]] = {
    "lr": (float, 0.0),
    "weight_decay": (float, 0.0),
    "batch_size": (int, 1),
    "epochs": (int, 1),
}

_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")

# Limits that keep a study file from exhausting the machine or overflowing the database's
# columns (study names are String(200); seeds are 32-bit integers in the run table).
MAX_STUDY_BYTES = 1_000_000
MAX_YAML_NODES = 100_000  # values after expanding aliases (refuses "billion laughs")
MAX_NAME_LENGTH = 200
MAX_LABEL_LENGTH = 100  # the run table's task and loss columns are String(100)
MAX_TRIALS = 100_000
MAX_CONFIRM_SEEDS = 1_000
MAX_EPOCHS = 100_000
MAX_BATCH_SIZE = 10_000_000
MAX_THREADS = 1_024
MAX_SEED = 2**31 - 1 - 1_000 - MAX_CONFIRM_SEEDS  # confirm seeds are seed + 1000 + i
MAX_LIST_ENTRIES = 1_000  # tasks, losses, values of one range


# --------------------------------------------------------------------------------------------
# Errors


class Problem(BaseModel):
    """One thing wrong with a study file: where (key path, line) and what."""

    model_config = ConfigDict(frozen=True)

    key: str
    message: str
    line: int | None = None


class ConfigError(ValueError):
    """A study file that cannot be run. `problems` lists every issue found, one per line."""

    def __init__(self, file: str | Path | None, problems: Sequence[Problem]) -> None:
        self.file = str(file) if file is not None else "<study>"
        self.problems = list(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = []
        for problem in self.problems:
            where = self.file if problem.line is None else f"{self.file}:{problem.line}"
            key = f"{problem.key}: " if problem.key else ""
            lines.append(f"{where}: {key}{problem.message}")
        return "\n".join(lines)


def _key_path(loc: Sequence[str | int]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


# --------------------------------------------------------------------------------------------
# Schema


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Range(_Strict):
    """A search range: `{low, high, log?, step?}` for numbers or `{values: [...]}` for a list.

    The grid sampler needs `values`; other samplers accept both (a list is categorical).
    """

    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = Field(default=None, gt=0)
    values: list[float | int | str | bool] | None = Field(
        default=None, min_length=1, max_length=MAX_LIST_ENTRIES
    )

    def problems(self) -> list[tuple[tuple[str, ...], str]]:
        """Shape problems as (relative key path, message)."""
        found: list[tuple[tuple[str, ...], str]] = []
        if self.values is not None:
            if self.low is not None or self.high is not None:
                found.append(((), "give either `values: [...]` or `low`/`high`, not both."))
            if len(set(map(repr, self.values))) != len(self.values):
                found.append((("values",), f"has repeated entries: {self.values}."))
            return found
        if self.low is None or self.high is None:
            missing = "low" if self.low is None else "high"
            found.append(((missing,), "is required (or give `values: [...]` instead)."))
            return found
        if self.low > self.high:
            found.append((("low",), f"{self.low:g} is above high {self.high:g}."))
        if self.log and self.low <= 0:
            found.append((("low",), f"{self.low:g} must be > 0 when log: true."))
        if self.log and self.step is not None:
            found.append((("step",), "cannot be combined with log: true."))
        return found

    def numbers(self) -> list[float]:
        """The numeric bounds or values of this range (strings skipped)."""
        if self.values is not None:
            return [float(v) for v in self.values if isinstance(v, (int, float))]
        return [v for v in (self.low, self.high) if v is not None]

    @property
    def size(self) -> int | None:
        """Number of grid points, or None for a continuous range."""
        return len(self.values) if self.values is not None else None


class OptimizerSpec(_Strict):
    """The optimizer and its fixed settings (`tune` may search lr and weight_decay)."""

    name: str = "adamw"
    lr: float | None = Field(default=None, gt=0)
    weight_decay: float | None = Field(default=None, ge=0)


class TaskEntry(BaseModel):
    """One task of the study: data, model and how to train it.

    Keys that are not fields here (`subsample`, `imbalance`, `root`, ...) are the task's own
    options, checked against what the task declares. Unset training settings (model, epochs,
    batch size, optimizer settings, schedule) take the task's own defaults. `label` names the
    entry in the study (its Optuna studies and the runs' `task` column), so one task can appear
    under several conditions (`digits` clean and `digits_noisy` with `label_noise`).
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    task: str
    label: str | None = Field(default=None, max_length=MAX_LABEL_LENGTH)
    model: str | None = None
    epochs: int | None = Field(default=None, ge=1, le=MAX_EPOCHS)
    batch_size: int | None = Field(default=None, ge=1, le=MAX_BATCH_SIZE)
    optimizer: OptimizerSpec = OptimizerSpec()
    schedule: str | None = None
    model_options: dict[str, Any] = Field(default_factory=dict)

    @property
    def options(self) -> dict[str, Any]:
        """The task's own options (everything that is not a TaskEntry field)."""
        return dict(self.model_extra or {})

    @property
    def name(self) -> str:
        """The entry's name in the study: its `label`, else the task's name."""
        return self.label or self.task


TaskSpec = TaskEntry
"""The former name of `TaskEntry`, kept for callers (`polybench.tasks.TaskSpec` is a registered
task, a different thing)."""


class LossEntry(_Strict):
    """One loss: fixed `params` and searched ranges in `search`, by hyperparameter name.

    `label` names the entry in the study (its Optuna studies and the runs' `loss` column), so
    one loss can appear twice with different settings (`cross_entropy` plain, and labelled
    `cross_entropy_ls` with label smoothing searched)."""

    loss: str
    label: str | None = Field(default=None, max_length=MAX_LABEL_LENGTH)
    params: dict[str, float | int | bool | str | list[float]] = Field(default_factory=dict)
    search: dict[str, Range] = Field(default_factory=dict)

    @property
    def name(self) -> str:
        """The entry's name in the study: its `label`, else the loss's name."""
        return self.label or self.loss


LossSpec = LossEntry
"""The former name of `LossEntry`, kept for callers."""


class SearchSpec(_Strict):
    """How each (task, loss) pair is searched.

    `metric` is one validation metric, or a list `[val_metric, train_throughput]` for a
    multi-objective study (no pruner). `trials` defaults to 10, or to the grid size with the
    grid sampler. `budget: epochs` equalises the training epochs each loss spends
    (`trials` x the most epochs a trial trains) instead of the number of trials, so a pruned
    trial frees its unused epochs for another trial. `repeats: R` runs the whole search R
    times with different sampler seeds and confirms each result on seeds of its own, so the
    report can show how much of the spread between confirm runs comes from the search.
    """

    trials: int | None = Field(default=None, ge=1, le=MAX_TRIALS)
    sampler: str = "tpe"
    pruner: str = "median"
    metric: str | list[str] = DEFAULT_METRIC.val_column
    budget: Literal["trials", "epochs"] = "trials"
    repeats: int = Field(default=1, ge=1)

    @property
    def objectives(self) -> list[str]:
        return [self.metric] if isinstance(self.metric, str) else list(self.metric)

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1


class ConfirmSpec(_Strict):
    """The confirm phase: best parameters retrained over `seeds` seeds, scored on test.

    `seeds: 0` skips it. `baseline` adds plain cross-entropy confirm runs when the study does
    not list cross_entropy itself (searched under the same budget as every other loss).
    `vary` names the sources of variance that change from one confirm seed to the next:
    `init` (weight initialisation), `order` (batch order) and `split` (the task's `data_seed`,
    the same for every loss at each seed, so runs still pair up).
    """

    seeds: int = Field(default=3, ge=0, le=MAX_CONFIRM_SEEDS)
    baseline: bool = True
    vary: list[Literal["init", "order", "split"]] = Field(
        default_factory=lambda: ["init", "order"], min_length=1
    )


class HeartbeatSpec(_Strict):
    """Optuna heartbeats: a worker silent for `grace_seconds` has its trial failed and retried."""

    interval_seconds: int = Field(default=10, ge=1, le=3_600)
    grace_seconds: int = Field(default=30, ge=2, le=86_400)


class ReportSpec(_Strict):
    """How `polybench report` judges the confirm runs.

    `margin` is the equivalence margin in the units of the study's metric (0.005 = half a
    point of accuracy): with it, a loss whose 90% paired interval against cross-entropy lies
    inside ±margin is called *equivalent* (TOST). Without it, no loss is ever called
    equivalent. `--margin` on the command line overrides it.
    """

    margin: float | None = Field(default=None, gt=0)


class StudyConfig(_Strict):
    """A validated study file."""

    name: str = Field(max_length=MAX_NAME_LENGTH)
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    device: str = "auto"
    threads: int | None = Field(default=None, ge=1, le=MAX_THREADS)
    amp: Literal["bf16"] | None = None
    channels_last: bool = False
    compile: bool = False
    tasks: list[TaskEntry] = Field(min_length=1, max_length=MAX_LIST_ENTRIES)
    losses: list[LossEntry] = Field(min_length=1, max_length=MAX_LIST_ENTRIES)
    tune: dict[str, Range] = Field(default_factory=dict)
    search: SearchSpec = SearchSpec()
    confirm: ConfirmSpec = ConfirmSpec()
    heartbeat: HeartbeatSpec = HeartbeatSpec()
    report: ReportSpec = ReportSpec()
    plugins: list[str] = Field(default_factory=list)

    _source: str | None = PrivateAttr(default=None)
    _text: str = PrivateAttr(default="")

    @property
    def source(self) -> str | None:
        """The file this study came from, if any."""
        return self._source

    @property
    def text(self) -> str:
        """The study file's text as given (stored with the study)."""
        return self._text


_FIELD_HELP: dict[str, Sequence[str]] = {
    "": list(StudyConfig.model_fields),
    "tasks": list(TaskEntry.model_fields),
    "losses": list(LossEntry.model_fields),
    "search": list(SearchSpec.model_fields),
    "confirm": list(ConfirmSpec.model_fields),
    "heartbeat": list(HeartbeatSpec.model_fields),
    "report": list(ReportSpec.model_fields),
    "optimizer": list(OptimizerSpec.model_fields),
    "range": list(Range.model_fields),
}


def _allowed_keys(loc: Sequence[str | int]) -> Sequence[str]:
    """The keys allowed in the mapping at `loc` (a location inside StudyConfig)."""
    names = [part for part in loc if isinstance(part, str)]
    if not names:
        return _FIELD_HELP[""]
    if (names[-1] in ("search", "tune") and len(names) >= 2) or names[0] == "tune":
        return _FIELD_HELP["range"]
    if names[-1] == "optimizer":
        return _FIELD_HELP["optimizer"]
    return _FIELD_HELP.get(names[0], [])
