"""Plug-ins: a loss, task or model from outside polybench, named by import path, listed under
`plugins:`, or registered by an installed package's entry point.

The end-to-end tests run the real command line in subprocesses (the worker processes are
spawned, so they must import the plug-ins themselves); the entry-point package is really
installed with pip into a folder on the subprocesses' PYTHONPATH (on `sys.path` for the test in
this process), so `importlib.metadata` finds it as it finds any installed distribution.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from polybench.config import ConfigError, parse_study

ROOT = Path(__file__).resolve().parent.parent

POLY2 = '''
import torch
import torch.nn.functional as F

from polybench.losses import HyperParam, Loss


class Poly2(Loss):
    """CE + eps1 (1 - p_t) + eps2 (1 - p_t)^2."""

    name = "{name}"
    summary = "CE + eps1 (1 - p_t) + eps2 (1 - p_t)^2"
    hyperparams = (
        HyperParam("epsilon1", 1.0, low=-1.0, tunable=True, search_low=-1.0, search_high=4.0),
        HyperParam("epsilon2", 0.0, low=-0.5, tunable=True, search_low=-0.5, search_high=4.0),
    )

    def forward(self, logits, target):
        log_pt = F.log_softmax(logits.float(), dim=-1).gather(-1, target[:, None]).squeeze(-1)
        tail = 1 - log_pt.exp()
        return (-log_pt + self.epsilon1 * tail + self.epsilon2 * tail**2).mean()
'''

BROKEN = """
import torch
import torch.nn.functional as F

from polybench.losses import Loss


class PerSample(Loss):
    name = "per_sample_{tag}"
    summary = "returns one value per sample"
    hyperparams = ()

    def forward(self, logits, target):
        return F.cross_entropy(logits, target, reduction="none")


class Detached(Loss):
    name = "detached_{tag}"
    summary = "cuts the graph"
    hyperparams = ()

    def forward(self, logits, target):
        return F.cross_entropy(logits.detach(), target)


class NotANumber(Loss):
    name = "nan_{tag}"
    summary = "NaN for finite input"
    hyperparams = ()

    def forward(self, logits, target):
        return (logits - logits.max()).exp().log().sum() * float("nan")


class NotALoss:
    name = "plain_{tag}"
"""


@pytest.fixture
def registries(monkeypatch, tmp_path):
    """Registries and sys.path as they were before the test (plug-ins register globally)."""
    from polybench import plugins
    from polybench.losses import LOSSES
    from polybench.models import MODELS
    from polybench.tasks import TASKS

    saved = [(registry, dict(registry)) for registry in (LOSSES, TASKS, MODELS)]
    loaded = set(plugins._loaded_groups)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield tmp_path
    for registry, content in saved:
        registry.clear()
        registry.update(content)
    plugins._loaded_groups.clear()
    plugins._loaded_groups.update(loaded)


def _module(folder: Path, source: str, **names: str) -> str:
    """Write a uniquely named module into `folder`; return its name."""
    name = f"plugin_{uuid.uuid4().hex[:10]}"
    (folder / f"{name}.py").write_text(source.format(**names))
    return name


def _study(loss: str, *, extra: str = "", search: str = "") -> str:
    return textwrap.dedent(
        f"""\
        name: byo
        {extra}
        tasks:
          - task: digits
        losses:
          - loss: cross_entropy
          - loss: {loss}
            {search}
        """
    )


# --- in one process -------------------------------------------------------------------------


def test_import_path_names_a_loss_that_validates_like_a_built_in_one(registries):
    from polybench.losses import describe_losses
    from polybench.runner import build_plan

    module = _module(registries, POLY2, name="poly2_by_path")
    config = parse_study(
        _study(f"{module}:Poly2", search="search: {epsilon1: {low: -1.0, high: 4.0}}")
    )
    assert [loss.loss for loss in config.losses] == ["cross_entropy", "poly2_by_path"]
    pair = next(p for p in build_plan(config).pairs if p.loss_entry.loss == "poly2_by_path")
    assert [param.name for param in pair.space] == ["epsilon1"]
    listed = {row["name"]: row for row in describe_losses()}
    assert [hp["name"] for hp in listed["poly2_by_path"]["hyperparams"]] == [
        "epsilon1",
        "epsilon2",
    ]
    # its declared ranges are enforced exactly as for built-in losses
    with pytest.raises(ConfigError) as error:
        parse_study(_study(f"{module}:Poly2", search="search: {epsilon2: {low: -3, high: 1}}"))
    assert str(error.value).splitlines() == [
        "<study>:8: losses[1].search.epsilon2.low: -3 is outside the valid range of "
        "poly2_by_path.epsilon2: [-0.5, inf)."
    ]


def test_plugins_key_imports_a_file_relative_to_the_study(registries):
    folder = registries / "studies"
    folder.mkdir()
    (folder / "my_losses.py").write_text(
        POLY2.format(name="poly2_from_file")
        + "\nfrom polybench.losses import register\nregister(Poly2)\n"
    )
    study = folder / "byo.yaml"
    study.write_text(_study("poly2_from_file", extra="plugins: [./my_losses.py]"))
    from polybench.config import load_study

    config = load_study(study)
    assert config.plugins == ["./my_losses.py"]
    assert config.losses[1].loss == "poly2_from_file"
    # parsing it again (every worker does) imports the file once, so the name is not taken twice
    assert load_study(study).losses[1].loss == "poly2_from_file"


@pytest.mark.parametrize(
    ("attribute", "why"),
    [
        (
            "PerSample",
            "for logits (8, 5) and targets (8,) it returned shape (8,); a loss returns a scalar "
            "(0-dim tensor) to minimise.",
        ),
        (
            "Detached",
            "its value for logits (8, 5) and targets (8,) has no gradient "
            "(requires_grad is False).",
        ),
        ("NotANumber", "for finite logits (8, 5) and targets (8,) it returned nan."),
    ],
)
def test_a_loss_that_breaks_the_contract_is_refused_before_training(registries, attribute, why):
    module = _module(registries, BROKEN, tag=uuid.uuid4().hex[:6])
    with pytest.raises(ConfigError) as error:
        parse_study(_study(f"{module}:{attribute}"))
    (line,) = str(error.value).splitlines()
    assert line.startswith("<study>:7: losses[1].loss: loss '")
    assert line.endswith(f"({module}.{attribute}) breaks the loss contract: {why}")


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("{module}:Missing", "module '{module}' ({file}) has no 'Missing'; it defines: "),
        ("{module}:NotALoss", "is class {module}.NotALoss, expected a subclass of polybench"),
        ("no_such_module_xyz:Poly2", "cannot import module 'no_such_module_xyz': not found"),
    ],
)
def test_a_bad_import_path_is_one_line_naming_the_key(registries, reference, message):
    module = _module(registries, BROKEN, tag=uuid.uuid4().hex[:6])
    file = registries / f"{module}.py"
    with pytest.raises(ConfigError) as error:
        parse_study(_study(reference.format(module=module)))
    (line,) = str(error.value).splitlines()
    assert line.startswith("<study>:7: losses[1].loss: ")
    assert message.format(module=module, file=file) in line


def test_a_missing_plugin_file_or_module_names_where_it_looked(registries):
    with pytest.raises(ConfigError) as error:
        parse_study(_study("cross_entropy", extra="plugins: [./nowhere.py, not_a_module_q]"))
    assert str(error.value).splitlines() == [
        f"<study>:2: plugins[0]: plug-in file './nowhere.py' not found (looked at "
        f"{registries / 'nowhere.py'}).",
        f"<study>:2: plugins[1]: cannot import module 'not_a_module_q': not found on sys.path, "
        f"in the study's folder or in {registries}.",
    ]


def test_task_and_model_plug_ins_by_import_path_train(registries):
    from polybench.runner import build_plan
    from polybench.train import fit

    module = _module(
        registries,
        textwrap.dedent(
            """\
            import dataclasses

            from torch import nn

            from polybench.models import ModelSpec
            from polybench.tasks import TASKS

            SMALL_DIGITS = dataclasses.replace(TASKS["digits"], name="small_digits")
            LINEAR = ModelSpec(
                name="linear_probe",
                kind="image",
                summary="flatten and one linear layer",
                build=lambda task, options: nn.Sequential(
                    nn.Flatten(), nn.LazyLinear(task.num_classes)
                ),
            )
            """
        ),
    )
    config = parse_study(
        textwrap.dedent(
            f"""\
            name: byo_parts
            tasks:
              - task: {module}:SMALL_DIGITS
                model: {module}:LINEAR
                subsample: 0.3
            losses: [{{loss: cross_entropy}}]
            """
        )
    )
    (pair, *_) = build_plan(config).pairs
    assert (pair.task_entry.task, pair.model) == ("small_digits", "linear_probe")
    result = fit("small_digits", "linear_probe", "cross_entropy", epochs=5, device="cpu")
    assert result.state == "complete"
    assert result.metrics["test_accuracy"] > 0.5


# --- end to end: an installed package's entry point, two worker processes ----------------------

PACKAGE_PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "poly2-entry-point"
version = "0.1"

[project.entry-points."polybench.losses"]
poly2_entry_point = "poly2_entry_point:Poly2"
"""

ENTRY_POINT_STUDY = """\
name: byo_ep
threads: 1
tasks:
  - task: digits
    model: small_cnn
    epochs: 1
    subsample: 0.5
losses:
  - loss: cross_entropy
  - loss: poly2_entry_point
    search: {epsilon1: {low: -1.0, high: 4.0}}
search: {trials: 2}
confirm: {seeds: 2}
"""


def _cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "polybench", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def entry_point_env(tmp_path_factory) -> dict[str, str]:
    """A tiny package with a `polybench.losses` entry point, installed with pip into a folder
    that the returned environment puts on PYTHONPATH (the shared venv stays untouched)."""
    root = tmp_path_factory.mktemp("entry_point")
    package = root / "package"
    (package / "poly2_entry_point").mkdir(parents=True)
    (package / "pyproject.toml").write_text(PACKAGE_PYPROJECT)
    (package / "poly2_entry_point" / "__init__.py").write_text(
        POLY2.format(name="poly2_entry_point")
    )
    site = root / "site"
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"),
            *("--no-build-isolation", "--target", str(site), str(package)),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert (site / "poly2_entry_point-0.1.dist-info" / "entry_points.txt").is_file()
    env = {k: v for k, v in os.environ.items() if k != "POLYBENCH_STORAGE"}
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(ROOT), env.get("PYTHONPATH", "")])
    return env


def test_an_installed_entry_point_loss_is_listed_and_accepted_by_name(
    entry_point_env, registries, monkeypatch
):
    """In this process, with the installed package's folder put on `sys.path` (as PYTHONPATH
    does for the subprocesses of the slow test below)."""
    from typer.testing import CliRunner

    from polybench import plugins
    from polybench.cli import app

    sys.path.insert(0, entry_point_env["PYTHONPATH"].split(os.pathsep)[0])
    plugins._loaded_groups.clear()  # entry points are read once per process: read them again
    monkeypatch.delenv("POLYBENCH_STORAGE", raising=False)
    listed = CliRunner().invoke(app, ["losses"])
    assert listed.exit_code == 0, listed.output
    (line,) = [line for line in listed.stdout.splitlines() if "\tepsilon2\t" in line]
    assert line.split("\t")[:4] == ["poly2_entry_point", "epsilon2", "0.0", "[-0.5, inf)"]
    (registries / "byo_ep.yaml").write_text(ENTRY_POINT_STUDY)
    plan = CliRunner().invoke(app, ["run", "byo_ep.yaml", "--dry-run"])
    assert plan.exit_code == 0, plan.output
    assert "digits / small_cnn / poly2_entry_point: 2 trial(s) over epsilon1" in plan.stdout
    assert not (registries / "polybench.db").exists()


@pytest.mark.slow
def test_an_installed_entry_point_loss_runs_with_two_workers_then_status_report_dashboard(
    entry_point_env, tmp_path, monkeypatch
):
    env = entry_point_env
    work = tmp_path / "work"
    work.mkdir()
    (work / "byo_ep.yaml").write_text(ENTRY_POINT_STUDY)

    run = _cli("run", "byo_ep.yaml", "--workers", "2", cwd=work, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "8 of 8 planned runs stored (8 complete)" in " ".join(run.stdout.split())

    status = _cli("status", "byo_ep", "--json", cwd=work, env=env)
    assert status.returncode == 0, status.stderr
    rows = {row["loss"]: row for row in json.loads(status.stdout)}
    assert rows["poly2_entry_point"]["search_done"] == 2
    assert rows["poly2_entry_point"]["confirm_done"] == 2

    report = _cli("report", "byo_ep", "--format", "csv", cwd=work, env=env)
    assert report.returncode == 0, report.stderr
    assert "poly2_entry_point" in report.stdout

    # the dashboard reads the same database (it needs the runs, not the loss's code)
    import streamlit as st
    from conftest import dashboard_app

    st.cache_data.clear()
    at = dashboard_app(f"sqlite:///{work / 'polybench.db'}", monkeypatch).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    shown = " ".join(str(frame.value.to_dict()) for frame in at.dataframe)
    assert "poly2_entry_point" in shown
    st.cache_data.clear()
