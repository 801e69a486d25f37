"""Errors carry their facts as fields; one registry type and one `suggest` serve every layer."""

from __future__ import annotations

import pytest

from polybench import config, stats
from polybench.errors import InvalidValue, UnknownName, suggest
from polybench.losses import LOSSES, get_loss_class, validate_params
from polybench.models import MODELS, get_model_spec
from polybench.registry import Registry
from polybench.runner import PRUNERS, SAMPLERS
from polybench.settings import validate_options
from polybench.tasks import TASKS, Option, get_task_spec, validate_task_options


def test_suggest_returns_the_closest_allowed_names_best_first():
    assert suggest("medain", ["none", "median", "hyperband"]) == ("median",)
    assert suggest("zzz", ["median"]) == ()
    assert suggest("focall", ["focal", "sigmoid_focal", "cross_entropy"])[0] == "focal"


@pytest.mark.parametrize(
    ("lookup", "kind", "name", "registry"),
    [
        (get_loss_class, "loss", "focall", LOSSES),
        (get_task_spec, "task", "digit", TASKS),
        (get_model_spec, "model", "small_cn", MODELS),
        (SAMPLERS.lookup, "sampler", "tpee", SAMPLERS),
        (PRUNERS.lookup, "pruner", "medain", PRUNERS),
    ],
)
def test_every_registry_refuses_an_unknown_name_with_fields(lookup, kind, name, registry):
    with pytest.raises(UnknownName) as raised:
        lookup(name)
    error = raised.value
    assert (error.kind, error.name) == (kind, name)
    assert set(error.allowed) == set(registry)
    assert error.suggestions and error.suggestions[0] in registry
    assert isinstance(registry, Registry)
    assert str(error).startswith(f"Unknown {kind} {name!r}; allowed: ")
    assert str(error).endswith(f"Did you mean {', '.join(map(repr, error.suggestions))}?")


def test_option_errors_name_the_owner_the_option_and_what_is_allowed():
    with pytest.raises(UnknownName) as unknown:
        validate_task_options("digits", {"subsampel": 0.5})
    assert unknown.value.owner == "task 'digits'" and unknown.value.kind == "option"
    assert "subsample" in unknown.value.allowed and unknown.value.suggestions[0] == "subsample"
    with pytest.raises(InvalidValue) as invalid:
        validate_task_options("digits", {"val_fraction": 0.95})
    assert (invalid.value.name, invalid.value.value) == ("val_fraction", 0.95)
    assert invalid.value.owner == "task 'digits'" and "0.9" in invalid.value.expected
    with pytest.raises(UnknownName) as parameter:
        validate_params("focal", {"gama": 1.0})
    assert parameter.value.kind == "parameter" and parameter.value.suggestions == ("gamma",)
    with pytest.raises(UnknownName) as metric:
        stats.get_metric("acuracy")
    assert metric.value.suggestions[0] == "accuracy"


class _Shape:
    """A structured option type whose own parse error happens to say 'has no option'."""

    SHAPE = "{size: int}"

    @classmethod
    def parse(cls, value):
        raise ValueError("has no option to be negative; expected {size: int}.")


def test_the_study_file_check_reads_the_error_fields_not_its_wording():
    """A value error that merely says 'has no option' keeps its text: the loader adds the task
    entry's own keys only to an unknown option name (an UnknownName)."""
    declared = (Option("shape", _Shape, None, "a shaped option"),)
    with pytest.raises(ValueError) as raised:
        validate_options("task 'shaped'", declared, {"shape": -1})
    assert not isinstance(raised.value, UnknownName)
    import dataclasses

    from polybench.tasks import register

    shaped = dataclasses.replace(TASKS["digits"], name="shaped_for_errors_test", options=declared)
    register(shaped)
    try:
        text = (
            "name: t\ntasks:\n  - task: shaped_for_errors_test\n    shape: -1\n"
            "losses:\n  - loss: focal\n"
        )
        with pytest.raises(config.ConfigError) as bad:
            config.parse_study(text)
        message = str(bad.value)
        assert "has no option to be negative" in message
        assert "a task entry also takes" not in message
        typo = text.replace("shape: -1", "shap: 1")
        with pytest.raises(config.ConfigError) as unknown:
            config.parse_study(typo)
        assert "has no option 'shap'" in str(unknown.value)
        assert "a task entry also takes" in str(unknown.value)
        assert "Did you mean 'shape'?" in str(unknown.value)
    finally:
        del TASKS["shaped_for_errors_test"]
