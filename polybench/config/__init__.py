"""The study file: a YAML document validated into a `StudyConfig`.

`load_study(path)` reads the file, checks its structure with pydantic, then checks every name
and range against the registries (tasks, models, losses, samplers, pruners) and the losses'
declared hyperparameters. Every problem becomes one line of a `ConfigError` that names the
file, the line when YAML gives one, the key path (`losses[2].search.gamma.low`), what was
given and what is allowed, with the closest valid names for a misspelling.

The package holds three parts: `_schema` (the pydantic models and limits), `_loader` (reading
YAML with its lines, plug-ins, pydantic's errors) and `_checks` (names and ranges against the
registries).

    >>> config = load_study("studies/quickstart.yaml")      # doctest: +SKIP
    >>> [task.task for task in config.tasks], config.search.trials   # doctest: +SKIP
"""

from polybench.config._loader import load_study, parse_study
from polybench.config._schema import (
    DIRECTIONS,
    TUNABLE_SETTINGS,
    ConfigError,
    ConfirmSpec,
    HeartbeatSpec,
    LossEntry,
    LossSpec,
    OptimizerSpec,
    Problem,
    Range,
    ReportSpec,
    SearchSpec,
    StudyConfig,
    TaskEntry,
    TaskSpec,
)

__all__ = [
    "DIRECTIONS",
    "TUNABLE_SETTINGS",
    "ConfigError",
    "ConfirmSpec",
    "HeartbeatSpec",
    "LossEntry",
    "LossSpec",
    "OptimizerSpec",
    "Problem",
    "Range",
    "ReportSpec",
    "SearchSpec",
    "StudyConfig",
    "TaskEntry",
    "TaskSpec",
    "load_study",
    "parse_study",
]
