"""The model registry: `ModelSpec`, `MODELS` and `build_model`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn

from polybench.registry import Registry
from polybench.settings import Option, Setting, listed_options, validate_options
from polybench.tasks import TaskData

# The option every built-in model takes; a model's own default is `replace(DROPOUT, default=...)`.
DROPOUT = Option("dropout", float, 0.1, "dropout before the classifier", low=0.0, high=0.99)


@dataclass(frozen=True)
class ModelSpec:
    """A model users pick by name: `build(task, options)` makes it for a task of `kind`.

    `check(options)`, when given, returns why the (type-checked) options cannot work, e.g. a
    checkpoint folder that does not exist, so a study is refused before training.
    """

    name: str
    kind: str
    summary: str
    build: Callable[[TaskData, Mapping[str, Any]], nn.Module]
    options: tuple[Setting, ...] = ()
    check: Callable[[Mapping[str, Any]], str | None] | None = None


MODELS: Registry[ModelSpec] = Registry("model", plugins="model", sort=True)


def register(spec: ModelSpec) -> ModelSpec:
    """Add a model to `MODELS`."""
    return MODELS.add(spec.name, spec)


def get_model_spec(name: str) -> ModelSpec:
    """The registered model `name`; ValueError with the closest names when unknown."""
    return MODELS.lookup(name)


def validate_model(name: str, task: TaskData, options: Mapping[str, Any]) -> dict[str, Any]:
    """Check that model `name` suits `task`'s input kind and that its options are valid."""
    spec = get_model_spec(name)
    if spec.kind != task.kind:
        fitting = sorted(n for n, s in MODELS.items() if s.kind == task.kind)
        raise ValueError(
            f"model {name!r} needs a {spec.kind} task, but task {task.name!r} is {task.kind}; "
            f"models for {task.kind} tasks: {', '.join(fitting)}."
        )
    return validate_options(f"model {name!r}", spec.options, options)


def build_model(name: str, task: TaskData, **options: Any) -> nn.Module:
    """Build model `name` sized for `task` (channels and image size, or vocabulary; classes).

    >>> from polybench.tasks import load_task
    >>> model = build_model("small_cnn", load_task("digits"))
    """
    clean = validate_model(name, task, options)
    return MODELS[name].build(task, clean)


def describe_models() -> list[dict[str, Any]]:
    """Every registered model as plain values: name, kind, summary, options."""
    from polybench.plugins import load_entry_points

    load_entry_points("model")
    return [
        {
            "name": spec.name,
            "kind": spec.kind,
            "summary": spec.summary,
            "options": listed_options(spec.options),
        }
        for spec in MODELS.values()
    ]
