"""The study file: a YAML document validated into a `StudyConfig`.

`load_study(path)` reads the file, checks its structure with pydantic, then checks every name
and range against the registries (tasks, models, losses, samplers, pruners) and the losses'
declared hyperparameters. Every problem becomes one line of a `ConfigError` that names the
file, the line when YAML gives one, the key path (`losses[2].search.gamma.low`), what was
given and what is allowed, with the closest valid names for a misspelling.

    >>> config = load_study("studies/quickstart.yaml")      # doctest: +SKIP
    >>> [task.task for task in config.tasks], config.search.trials   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from polybench.errors import UnknownName, did_you_mean
from polybench.vocab import DEFAULT_METRIC, OBJECTIVES, VAL_PREFIX

__all__ = [
    "DIRECTIONS",
    "TUNABLE_SETTINGS",
    "ConfigError",
    "ConfirmSpec",
    "HeartbeatSpec",
    "LossSpec",
    "OptimizerSpec",
    "Problem",
    "Range",
    "ReportSpec",
    "SearchSpec",
    "StudyConfig",
    "TaskSpec",
    "load_study",
    "parse_study",
]

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


class TaskSpec(BaseModel):
    """One task of the study: data, model and how to train it.

    Keys that are not fields here (`subsample`, `imbalance`, `root`, ...) are the task's own
    options, checked against what the task declares. Unset training settings (model, epochs,
    batch size, optimizer settings, schedule) take the task's own defaults.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    task: str
    model: str | None = None
    epochs: int | None = Field(default=None, ge=1, le=MAX_EPOCHS)
    batch_size: int | None = Field(default=None, ge=1, le=MAX_BATCH_SIZE)
    optimizer: OptimizerSpec = OptimizerSpec()
    schedule: str | None = None
    model_options: dict[str, Any] = Field(default_factory=dict)

    @property
    def options(self) -> dict[str, Any]:
        """The task's own options (everything that is not a TaskSpec field)."""
        return dict(self.model_extra or {})


class LossSpec(_Strict):
    """One loss: fixed `params` and searched ranges in `search`, by hyperparameter name."""

    loss: str
    params: dict[str, float | int | bool | str | list[float]] = Field(default_factory=dict)
    search: dict[str, Range] = Field(default_factory=dict)


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
    tasks: list[TaskSpec] = Field(min_length=1, max_length=MAX_LIST_ENTRIES)
    losses: list[LossSpec] = Field(min_length=1, max_length=MAX_LIST_ENTRIES)
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


# --------------------------------------------------------------------------------------------
# Loading


def load_study(path: str | Path) -> StudyConfig:
    """Read and validate a study file. Raises `ConfigError` listing every problem found."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            data = file.read(MAX_STUDY_BYTES + 1)
    except FileNotFoundError:
        message = "no such file."
        from polybench.studies import example_studies

        with contextlib.suppress(FileNotFoundError):
            if path.stem in example_studies():
                message += f" `polybench init {path.stem}` writes the example study {path.name}."
        raise ConfigError(path, [Problem(key="", message=message)]) from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError(path, [Problem(key="", message=f"cannot read: {reason}.")]) from None
    return parse_study(_decode(data, path), source=str(path))


def _decode(data: bytes, source: str | Path | None) -> str:
    """The UTF-8 text of a study file, or one line naming the first bad byte's offset."""
    if len(data) > MAX_STUDY_BYTES:
        raise ConfigError(source, [Problem(key="", message=_too_big())])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        bad = data[error.start : error.start + 1].hex()
        message = (
            f"is not UTF-8 text: byte 0x{bad} at offset {error.start} ({error.reason}); "
            "save the study file as UTF-8."
        )
        raise ConfigError(source, [Problem(key="", message=message, line=line)]) from None


def _too_big() -> str:
    return (
        f"is larger than {MAX_STUDY_BYTES:,} bytes, the limit for a study file; a study "
        "lists tasks, losses and ranges, which fit in a few kilobytes."
    )


def parse_study(text: str, source: str | None = None) -> StudyConfig:
    """Validate the YAML `text` of a study file; `source` names it in errors."""
    if len(text) > MAX_STUDY_BYTES:
        raise ConfigError(source, [Problem(key="", message=_too_big())])
    data, lines = _read_yaml(text, source)

    def line_of(loc: Sequence[str | int]) -> int | None:
        for end in range(len(loc), -1, -1):
            if tuple(loc[:end]) in lines:
                return lines[tuple(loc[:end])]
        return None

    if not isinstance(data, dict):
        got = "an empty file" if data is None else type(data).__name__
        raise ConfigError(
            source, [Problem(key="", message=f"expected a mapping of keys, got {got}.", line=1)]
        )
    data, plugin_problems = _load_plugins(data, source)
    if plugin_problems:
        raise ConfigError(
            source,
            [
                Problem(key=_key_path(loc), message=m, line=line_of(loc))
                for loc, m in plugin_problems
            ],
        )
    try:
        config = StudyConfig.model_validate(data)
    except ValidationError as error:
        problems = [_from_pydantic(item, line_of) for item in error.errors()]
        raise ConfigError(source, problems) from None
    problems = [
        Problem(key=_key_path(loc), message=message, line=line_of(loc))
        for loc, message in _semantic_problems(config)
    ]
    if problems:
        raise ConfigError(source, problems)
    config._source = source
    config._text = text
    return config


def _load_plugins(
    data: dict[str, Any], source: str | None
) -> tuple[dict[str, Any], list[tuple[tuple[str | int, ...], str]]]:
    """Import the study's `plugins` and resolve `module:Name` references of losses, tasks and
    models to registered names; return the study with plain names and the problems found.

    Every process that parses the study (workers, status, report) runs this, so all of them
    know the same plug-ins. Relative plug-in paths are taken from the study file's folder.
    """
    from polybench.plugins import PluginError, import_plugin, load_entry_points, resolve_reference

    load_entry_points()
    found: list[tuple[tuple[str | int, ...], str]] = []
    base_dir = Path(source).parent if source and Path(source).is_file() else None
    plugins = data.get("plugins") or []
    if isinstance(plugins, str):
        plugins = [plugins]
        data = {**data, "plugins": plugins}
    if isinstance(plugins, list):
        for index, entry in enumerate(plugins):
            if not isinstance(entry, str):
                found.append(
                    (("plugins", index), f"expected a module name or a .py path, got {entry!r}.")
                )
                continue
            try:
                import_plugin(entry, base_dir)
            except PluginError as error:
                found.append((("plugins", index), str(error)))
    if found:
        return data, found
    data = dict(data)
    for key, kind, field in (
        ("losses", "loss", "loss"),
        ("tasks", "task", "task"),
        ("tasks", "model", "model"),
    ):
        entries = data.get(key)
        if not isinstance(entries, list):
            continue
        resolved = []
        for index, entry in enumerate(entries):
            reference = entry.get(field) if isinstance(entry, dict) else None
            if isinstance(reference, str) and ":" in reference:
                try:
                    entry = {**entry, field: resolve_reference(kind, reference, base_dir)}
                except PluginError as error:
                    found.append(((key, index, field), str(error)))
            resolved.append(entry)
        data[key] = resolved
    return data, found


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML silently keeps the last one)."""


def _read_yaml(text: str, source: str | None) -> tuple[Any, dict[tuple[str | int, ...], int]]:
    try:
        loader = _LineLoader(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                _check_expanded_size(node, source)
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        what = getattr(error, "problem", None) or str(error)
        raise ConfigError(
            source, [Problem(key="", message=f"not valid YAML: {what}.", line=line)]
        ) from None
    except RecursionError:
        raise ConfigError(
            source, [Problem(key="", message="not valid YAML: nested too deeply.")]
        ) from None
    lines: dict[tuple[str | int, ...], int] = {}
    duplicates: list[Problem] = []

    def walk(current: yaml.Node | None, loc: tuple[str | int, ...]) -> None:
        if current is None:
            return
        lines.setdefault(loc, current.start_mark.line + 1)
        if isinstance(current, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in current.value:
                key = key_node.value
                if key in seen:
                    duplicates.append(
                        Problem(
                            key=_key_path((*loc, key)),
                            message="appears twice in the same mapping.",
                            line=key_node.start_mark.line + 1,
                        )
                    )
                seen.add(key)
                lines[(*loc, key)] = key_node.start_mark.line + 1
                walk(value_node, (*loc, key))
        elif isinstance(current, yaml.SequenceNode):
            for index, item in enumerate(current.value):
                walk(item, (*loc, index))

    try:
        walk(node, ())
    except RecursionError:
        raise ConfigError(
            source, [Problem(key="", message="not valid YAML: nested too deeply.")]
        ) from None
    if duplicates:
        raise ConfigError(source, duplicates)
    return data, lines


def _check_expanded_size(root: yaml.Node, source: str | None) -> None:
    """Refuse a document whose aliases expand to more than MAX_YAML_NODES values: the node graph
    shares aliased nodes, so sizes are counted once per node and multiplied, never expanded."""
    sizes: dict[int, int] = {}
    entered: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:  # iterative post-order: deep documents do not hit the recursion limit
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        if done:
            size = 1 + sum(sizes[id(child)] for child in _children(node))
            sizes[id(node)] = min(size, MAX_YAML_NODES + 1)
            continue
        if id(node) in entered:  # an alias to one of its own ancestors
            raise ConfigError(
                source,
                [
                    Problem(
                        key="",
                        message="an alias (*name) refers to a value that contains it.",
                        line=node.start_mark.line + 1,
                    )
                ],
            )
        entered.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    if sizes[id(root)] > MAX_YAML_NODES:
        raise ConfigError(
            source,
            [
                Problem(
                    key="",
                    message=(
                        f"its aliases (*name) expand to more than {MAX_YAML_NODES:,} values; "
                        "a study file needs far fewer (is it an alias bomb?)."
                    ),
                    line=root.start_mark.line + 1,
                )
            ],
        )


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


_FIELD_HELP: dict[str, Sequence[str]] = {
    "": list(StudyConfig.model_fields),
    "tasks": list(TaskSpec.model_fields),
    "losses": list(LossSpec.model_fields),
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


def _from_pydantic(item: Mapping[str, Any], line_of: Any) -> Problem:
    loc = tuple(part for part in item["loc"] if not (isinstance(part, str) and "[" in part))
    kind = item["type"]
    given = item.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        name = str(loc[-1])
        message = f"unknown key {name!r}; allowed: {', '.join(allowed)}." + did_you_mean(
            name, allowed
        )
    elif kind == "missing":
        message = "is required."
    else:
        message = f"{item['msg']} (got {given!r})."
    return Problem(key=_key_path(loc), message=message, line=line_of(loc))


# --------------------------------------------------------------------------------------------
# Checks against the registries


def _semantic_problems(config: StudyConfig) -> list[tuple[tuple[str | int, ...], str]]:
    from polybench.runner._registry import PRUNERS, SAMPLERS

    found: list[tuple[tuple[str | int, ...], str]] = []

    def add(loc: tuple[str | int, ...], message: str) -> None:
        found.append((loc, message))

    if not _NAME_PATTERN.match(config.name):
        add(
            ("name",),
            f"{config.name!r} must start with a letter or digit and use only letters, digits, "
            "'_', '-' and '.' (it becomes part of the Optuna study names).",
        )

    search = config.search
    if search.sampler not in SAMPLERS:
        add(
            ("search", "sampler"),
            f"unknown sampler {search.sampler!r}; allowed: {', '.join(SAMPLERS)}."
            + did_you_mean(search.sampler, SAMPLERS),
        )
    if search.pruner not in PRUNERS:
        add(
            ("search", "pruner"),
            f"unknown pruner {search.pruner!r}; allowed: {', '.join(PRUNERS)}."
            + did_you_mean(search.pruner, PRUNERS),
        )
    found.extend(_metric_problems(search))

    found.extend(_tasks_problems(config))
    found.extend(_losses_problems(config))

    for name, spec in config.tune.items():
        loc: tuple[str | int, ...] = ("tune", name)
        if name not in TUNABLE_SETTINGS:
            add(
                loc,
                f"cannot tune {name!r}; the shared tune space allows: "
                f"{', '.join(TUNABLE_SETTINGS)}." + did_you_mean(name, TUNABLE_SETTINGS),
            )
            continue
        found.extend(((*loc, *sub), message) for sub, message in spec.problems())
        kind, lowest = TUNABLE_SETTINGS[name]
        for value in spec.numbers():
            if value < lowest or (value == 0 and name == "lr"):
                bound = "> 0" if name == "lr" else f">= {lowest:g}"
                add(loc, f"{value:g} is outside the valid range of {name} ({bound}).")
            elif kind is int and not float(value).is_integer():
                add(loc, f"{value:g} is not a whole number; {name} takes integers.")
        if spec.values is not None and any(isinstance(v, (str, bool)) for v in spec.values):
            add((*loc, "values"), f"{name} takes numbers, got {spec.values}.")

    if search.sampler == "grid":
        for loc, spec in _all_ranges(config):
            if spec.values is None:
                add(loc, "the grid sampler needs `values: [...]` for every searched parameter.")
    if search.sampler == "cmaes" and search.multi_objective:
        add(("search", "sampler"), "cmaes optimises one objective; use nsga2, tpe or random.")
    if search.budget == "epochs" and search.sampler == "grid":
        add(
            ("search", "budget"),
            "budget: epochs needs a sampler that may draw more trials than planned; the grid "
            "sampler runs each point once. Use budget: trials with a grid.",
        )
    if len(set(config.confirm.vary)) != len(config.confirm.vary):
        add(("confirm", "vary"), f"lists a source twice: {config.confirm.vary}.")
    if not found:
        from polybench.runner._plan import budget_problems

        found.extend(budget_problems(config))
    return found


def _metric_problems(search: SearchSpec) -> list[tuple[tuple[str | int, ...], str]]:
    found: list[tuple[tuple[str | int, ...], str]] = []
    objectives = search.objectives
    validation = [name for name in DIRECTIONS if name.startswith(VAL_PREFIX)]
    for index, name in enumerate(objectives):
        loc: tuple[str | int, ...] = (
            ("search", "metric") if isinstance(search.metric, str) else ("search", "metric", index)
        )
        if name not in DIRECTIONS:
            found.append(
                (
                    loc,
                    f"unknown metric {name!r}; allowed: {', '.join(DIRECTIONS)}."
                    + did_you_mean(name, DIRECTIONS),
                )
            )
        elif index == 0 and not name.startswith(VAL_PREFIX):
            found.append(
                (loc, f"the first objective must be a validation metric: {', '.join(validation)}.")
            )
    if len(objectives) > 2 or len(set(objectives)) != len(objectives):
        found.append(
            (
                ("search", "metric"),
                f"give one metric or two different ones [val_metric, train_throughput], "
                f"got {objectives}.",
            )
        )
    if search.multi_objective and search.pruner != "none":
        found.append(
            (
                ("search", "pruner"),
                f"{search.pruner!r} given, but a multi-objective study cannot prune "
                "(Optuna refuses trial.report); use pruner: none.",
            )
        )
    return found


def _tasks_problems(config: StudyConfig) -> list[tuple[tuple[str | int, ...], str]]:
    from polybench.models import MODELS
    from polybench.tasks import TASKS

    found: list[tuple[tuple[str | int, ...], str]] = []
    seen: dict[str, int] = {}
    for index, spec in enumerate(config.tasks):
        loc: tuple[str | int, ...] = ("tasks", index)
        if spec.task not in TASKS:
            found.append(
                (
                    (*loc, "task"),
                    f"unknown task {spec.task!r}; allowed: {', '.join(sorted(TASKS))}."
                    + did_you_mean(spec.task, TASKS),
                )
            )
        elif spec.task in seen:
            found.append(
                (
                    (*loc, "task"),
                    f"{spec.task!r} is already listed at tasks[{seen[spec.task]}]; each task "
                    "appears once (its studies are named {study}/{task}/{loss}).",
                )
            )
        else:
            seen[spec.task] = index
            found.extend(_task_option_problems(loc, spec))
        if spec.model is None:
            pass
        elif spec.model not in MODELS:
            found.append(
                (
                    (*loc, "model"),
                    f"unknown model {spec.model!r}; allowed: {', '.join(sorted(MODELS))}."
                    + did_you_mean(spec.model, MODELS),
                )
            )
        else:
            found.extend(_model_option_problems(loc, spec))
        found.extend(_training_problems(loc, spec))
    return found


def _task_option_problems(
    loc: tuple[str | int, ...], spec: TaskSpec
) -> list[tuple[tuple[str | int, ...], str]]:
    from polybench.tasks import get_task_spec, validate_task_options

    found: list[tuple[tuple[str | int, ...], str]] = []
    # each option is checked on its own, beside the task's required ones (text_file's path)
    required = {o.name for o in get_task_spec(spec.task).all_options if o.required}
    missing = sorted(required - set(spec.options))
    if missing:
        try:
            validate_task_options(spec.task, spec.options)
        except ValueError as error:
            return [((*loc, "task"), str(error))]
    given_required = {k: v for k, v in spec.options.items() if k in required}
    for name, value in spec.options.items():
        try:
            validate_task_options(spec.task, {**given_required, name: value})
        except UnknownName as error:
            fields = ", ".join(TaskSpec.model_fields)
            found.append(((*loc, name), error.render(also=f"; a task entry also takes: {fields}")))
        except ValueError as error:
            found.append(((*loc, name), str(error)))
    return found


def _model_option_problems(
    loc: tuple[str | int, ...], spec: TaskSpec
) -> list[tuple[tuple[str | int, ...], str]]:
    from polybench.models import MODELS
    from polybench.tasks import TASKS
    from polybench.tasks._options import validate_options

    assert spec.model is not None
    model = MODELS[spec.model]
    kind = TASKS[spec.task].kind if spec.task in TASKS else model.kind
    if model.kind != kind:
        fitting = sorted(name for name, m in MODELS.items() if m.kind == kind)
        return [
            (
                (*loc, "model"),
                f"model {spec.model!r} needs a {model.kind} task, but task {spec.task!r} is "
                f"{kind}; models for {kind} tasks: {', '.join(fitting)}.",
            )
        ]
    try:
        clean = validate_options(f"model {spec.model!r}", model.options, spec.model_options)
    except ValueError as error:
        return [((*loc, "model_options"), str(error))]
    problem = model.check(clean) if model.check is not None else None
    return [((*loc, "model_options"), problem)] if problem else []


def _training_problems(
    loc: tuple[str | int, ...], spec: TaskSpec
) -> list[tuple[tuple[str | int, ...], str]]:
    from polybench.train import OPTIMIZERS, SCHEDULES

    found: list[tuple[tuple[str | int, ...], str]] = []
    name = spec.optimizer.name
    if name not in OPTIMIZERS:
        found.append(
            (
                (*loc, "optimizer", "name"),
                f"unknown optimizer {name!r}; allowed: {', '.join(OPTIMIZERS)}."
                + did_you_mean(name, OPTIMIZERS),
            )
        )
    if spec.schedule is not None and spec.schedule not in SCHEDULES:
        found.append(
            (
                (*loc, "schedule"),
                f"unknown schedule {spec.schedule!r}; allowed: {', '.join(SCHEDULES)}."
                + did_you_mean(spec.schedule, SCHEDULES),
            )
        )
    return found


def _losses_problems(config: StudyConfig) -> list[tuple[tuple[str | int, ...], str]]:
    from polybench.losses import LOSSES, get_loss_class, validate_params
    from polybench.plugins import check_loss_contract, is_builtin

    found: list[tuple[tuple[str | int, ...], str]] = []
    seen: dict[str, int] = {}
    for index, spec in enumerate(config.losses):
        loc: tuple[str | int, ...] = ("losses", index)
        if spec.loss not in LOSSES:
            found.append(
                (
                    (*loc, "loss"),
                    f"unknown loss {spec.loss!r}; allowed: {', '.join(LOSSES)}."
                    + did_you_mean(spec.loss, LOSSES),
                )
            )
            continue
        if spec.loss in seen:
            found.append(
                (
                    (*loc, "loss"),
                    f"{spec.loss!r} is already listed at losses[{seen[spec.loss]}]; each loss "
                    "appears once (its studies are named {study}/{task}/{loss}).",
                )
            )
            continue
        seen[spec.loss] = index
        cls = get_loss_class(spec.loss)
        declared = {hp.name: hp for hp in cls.hyperparams}
        params_valid = True
        if spec.params:
            try:
                validate_params(spec.loss, dict(spec.params))
            except ValueError as error:
                params_valid = False
                found.append(((*loc, "params"), str(error)))
        if params_valid and not is_builtin(cls):
            broken = check_loss_contract(spec.loss, dict(spec.params))
            if broken:
                found.append(
                    (
                        (*loc, "loss"),
                        f"loss {spec.loss!r} ({cls.__module__}.{cls.__qualname__}) breaks the "
                        f"loss contract: {broken}.",
                    )
                )
        for name, search_range in spec.search.items():
            where: tuple[str | int, ...] = (*loc, "search", name)
            tunable = [hp for hp, info in declared.items() if info.tunable]
            if name not in declared or not declared[name].tunable:
                what = "is not tunable" if name in declared else "has no hyperparameter"
                found.append(
                    (
                        where,
                        f"{spec.loss} {what} {name!r}; tunable: "
                        f"{', '.join(tunable) or '(none)'}." + did_you_mean(name, tunable),
                    )
                )
                continue
            if name in spec.params:
                found.append((where, f"{name!r} is both fixed in params and searched; pick one."))
            shape = search_range.problems()
            found.extend(((*where, *sub), message) for sub, message in shape)
            if shape:
                continue
            found.extend(_range_problems(where, spec.loss, declared[name], search_range))
    return found


def _range_problems(
    where: tuple[str | int, ...], loss: str, hp: Any, search_range: Range
) -> list[tuple[tuple[str | int, ...], str]]:
    """A searched range must lie inside the hyperparameter's valid range [hp.low, hp.high]."""
    low = -math.inf if hp.low is None else float(hp.low)
    high = math.inf if hp.high is None else float(hp.high)
    valid = hp.range_text()
    found: list[tuple[tuple[str | int, ...], str]] = []
    if getattr(hp, "kind", "float") == "choice":
        if search_range.values is None:
            return [
                (
                    where,
                    f"{loss}.{hp.name} is a choice; give values: a subset of {list(hp.choices)}.",
                )
            ]
        return [
            (
                (*where, "values", position),
                f"{value!r} is not one of {list(hp.choices)}."
                + did_you_mean(str(value), hp.choices),
            )
            for position, value in enumerate(search_range.values)
            if value not in hp.choices
        ]
    if search_range.values is not None:
        for position, value in enumerate(search_range.values):
            if isinstance(value, (str, bool)) or not low <= float(value) <= high:
                found.append(
                    (
                        (*where, "values", position),
                        f"{value!r} is outside the valid range of {loss}.{hp.name}: {valid}.",
                    )
                )
        return found
    for key in ("low", "high"):
        value = getattr(search_range, key)
        if not low <= value <= high:
            found.append(
                (
                    (*where, key),
                    f"{value:g} is outside the valid range of {loss}.{hp.name}: {valid}.",
                )
            )
    return found


def _all_ranges(config: StudyConfig) -> list[tuple[tuple[str | int, ...], Range]]:
    ranges: list[tuple[tuple[str | int, ...], Range]] = [
        (("tune", name), spec) for name, spec in config.tune.items()
    ]
    for index, loss in enumerate(config.losses):
        ranges.extend(
            (("losses", index, "search", name), spec) for name, spec in loss.search.items()
        )
    return ranges
