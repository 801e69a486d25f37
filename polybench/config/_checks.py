"""Checks of a parsed study file against the registries (tasks, models, losses, samplers,
pruners) and the losses' declared hyperparameters; each problem is (key path, message)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from polybench.config._schema import (
    _NAME_PATTERN,
    DIRECTIONS,
    TUNABLE_SETTINGS,
    Range,
    SearchSpec,
    StudyConfig,
    TaskEntry,
)
from polybench.errors import UnknownName, did_you_mean
from polybench.vocab import VAL_PREFIX

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
        add(("search", "sampler"), _unknown("sampler", search.sampler, SAMPLERS))
    if search.pruner not in PRUNERS:
        add(("search", "pruner"), _unknown("pruner", search.pruner, PRUNERS))
    found.extend(_metric_problems(search))

    found.extend(_tasks_problems(config))
    found.extend(_losses_problems(config))

    for name, spec in config.tune.items():
        loc: tuple[str | int, ...] = ("tune", name)
        if name not in TUNABLE_SETTINGS:
            refused = UnknownName("setting", name, TUNABLE_SETTINGS)
            add(
                loc,
                refused.render(
                    head=f"cannot tune {name!r}", allowed_as="the shared tune space allows"
                ),
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
            found.append((loc, _unknown("metric", name, DIRECTIONS)))
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


def _unknown(kind: str, name: object, allowed: Iterable[object]) -> str:
    """The study file's message for a name not in a registry (lower case: it follows a key)."""
    return UnknownName(kind, name, allowed).render(unknown="unknown")


def _tasks_problems(config: StudyConfig) -> list[tuple[tuple[str | int, ...], str]]:
    from polybench.models import MODELS
    from polybench.tasks import TASKS

    found: list[tuple[tuple[str | int, ...], str]] = []
    seen: dict[str, int] = {}
    for index, spec in enumerate(config.tasks):
        loc: tuple[str | int, ...] = ("tasks", index)
        if spec.task not in TASKS:
            found.append(((*loc, "task"), _unknown("task", spec.task, sorted(TASKS))))
        elif spec.name in seen:
            found.append(_taken_name(loc, "task", spec.name, spec.label, seen, "digits_noisy"))
        else:
            seen[spec.name] = index
            found.extend(_task_option_problems(loc, spec))
        found.extend(_label_problems(loc, spec.label))
        if spec.model is None:
            pass
        elif spec.model not in MODELS:
            found.append(((*loc, "model"), _unknown("model", spec.model, sorted(MODELS))))
        else:
            found.extend(_model_option_problems(loc, spec))
        found.extend(_training_problems(loc, spec))
    return found


def _taken_name(
    loc: tuple[str | int, ...],
    kind: str,
    name: str,
    label: str | None,
    seen: dict[str, int],
    example: str,
) -> tuple[tuple[str | int, ...], str]:
    """Two task (or loss) entries with one name would share their Optuna studies and runs."""
    return (
        (*loc, "label" if label else kind),
        f"{name!r} is already listed at {loc[0]}[{seen[name]}]; each {kind} entry needs its own "
        "name (its studies are named {study}/{task}/{loss}): give one a `label:` "
        f"({example}).",
    )


def _label_problems(
    loc: tuple[str | int, ...], label: str | None
) -> list[tuple[tuple[str | int, ...], str]]:
    """A `label` becomes part of the Optuna study names: the same characters as `name`."""
    if label is None or _NAME_PATTERN.match(label):
        return []
    return [
        (
            (*loc, "label"),
            f"{label!r} must start with a letter or digit and use only letters, digits, '_', "
            "'-' and '.' (it becomes part of the Optuna study names).",
        )
    ]


def _task_option_problems(
    loc: tuple[str | int, ...], spec: TaskEntry
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
            fields = ", ".join(TaskEntry.model_fields)
            found.append(((*loc, name), error.render(also=f"; a task entry also takes: {fields}")))
        except ValueError as error:
            found.append(((*loc, name), str(error)))
    return found


def _model_option_problems(
    loc: tuple[str | int, ...], spec: TaskEntry
) -> list[tuple[tuple[str | int, ...], str]]:
    from polybench.models import MODELS
    from polybench.settings import validate_options
    from polybench.tasks import TASKS

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
    loc: tuple[str | int, ...], spec: TaskEntry
) -> list[tuple[tuple[str | int, ...], str]]:
    from polybench.train import OPTIMIZERS, SCHEDULES

    found: list[tuple[tuple[str | int, ...], str]] = []
    name = spec.optimizer.name
    if name not in OPTIMIZERS:
        found.append(((*loc, "optimizer", "name"), _unknown("optimizer", name, OPTIMIZERS)))
    if spec.schedule is not None and spec.schedule not in SCHEDULES:
        found.append(((*loc, "schedule"), _unknown("schedule", spec.schedule, SCHEDULES)))
    return found


def _losses_problems(config: StudyConfig) -> list[tuple[tuple[str | int, ...], str]]:
    from polybench.losses import LOSSES, get_loss_class, validate_params
    from polybench.plugins import check_loss_contract, is_builtin

    found: list[tuple[tuple[str | int, ...], str]] = []
    seen: dict[str, int] = {}
    for index, spec in enumerate(config.losses):
        loc: tuple[str | int, ...] = ("losses", index)
        if spec.loss not in LOSSES:
            found.append(((*loc, "loss"), _unknown("loss", spec.loss, LOSSES)))
            continue
        found.extend(_label_problems(loc, spec.label))
        if spec.label in LOSSES and spec.label != spec.loss:
            found.append(
                (
                    (*loc, "label"),
                    f"{spec.label!r} is the name of another loss; label this {spec.loss} entry "
                    "with a name no registered loss has.",
                )
            )
            continue
        if spec.name in seen:
            found.append(_taken_name(loc, "loss", spec.name, spec.label, seen, "cross_entropy_ls"))
            continue
        seen[spec.name] = index
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
                refused = UnknownName("hyperparameter", name, tunable, owner=spec.loss)
                head = f"{spec.loss} is not tunable {name!r}" if name in declared else None
                found.append((where, refused.render(head=head, allowed_as="tunable")))
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
