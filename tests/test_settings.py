"""One declaration type for everything a user sets by name: a loss's hyperparameters and a
task's or model's options are all `polybench.settings.Setting`s."""

from __future__ import annotations

from pathlib import Path

import pytest

from polybench.losses import LOSSES, HyperParam
from polybench.models import MODELS
from polybench.settings import Setting
from polybench.tasks import TASKS, Option


def test_losses_tasks_and_models_declare_with_the_one_type():
    declared = [
        *(hp for cls in LOSSES.values() for hp in cls.hyperparams),
        *(o for spec in TASKS.values() for o in spec.all_options),
        *(o for spec in MODELS.values() for o in spec.options),
    ]
    assert declared
    assert [d for d in declared if type(d) is not Setting] == []


def test_the_documented_names_build_the_one_type():
    assert HyperParam is Setting
    hp = HyperParam("epsilon1", 1.0, low=-1.0, tunable=True, search_low=-1.0, search_high=4.0)
    assert (hp.kind, hp.optional, hp.tunable) == ("float", False, True)
    option = Option("root", Path, Path("data"), "folder")
    assert isinstance(option, Setting)
    assert (option.kind, option.default, option.help, option.optional) == (
        "path",
        Path("data"),
        "folder",
        True,
    )


@pytest.mark.parametrize(
    ("type_", "choices", "kind"),
    [(bool, None, "bool"), (int, None, "int"), (float, None, "float"), (str, None, "str"),
     (str, ("a", "b"), "choice"), (Path, None, "path")],
)  # fmt: skip
def test_an_options_type_becomes_its_kind(type_, choices, kind):
    assert Option("x", type_, choices=choices).kind == kind
