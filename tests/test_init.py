"""A pip user's first hour: example studies ship with the package, `polybench init` writes
one, `python -m polybench` is the command, and what `init` wrote runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from polybench.config import ConfigError, load_study
from polybench.studies import example_studies, init_study

ROOT = Path(__file__).resolve().parent.parent


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "POLYBENCH_STORAGE"}
    return subprocess.run(
        [sys.executable, "-m", "polybench", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )


def test_every_study_in_the_checkout_is_an_example_and_validates():
    assert set(example_studies()) == {p.stem for p in (ROOT / "studies").glob("*.yaml")}
    for name, path in example_studies().items():
        assert load_study(path).name == name


def test_init_in_an_empty_directory_writes_quickstart_that_plans(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from polybench.cli import app

    done = _cli("init", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "wrote quickstart.yaml; run it with:  polybench run quickstart.yaml"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["quickstart.yaml"]
    monkeypatch.chdir(tmp_path)  # planning imports torch: in this process, not a new one
    monkeypatch.delenv("POLYBENCH_STORAGE", raising=False)
    plan = CliRunner().invoke(app, ["run", "quickstart.yaml", "--dry-run"])
    assert plan.exit_code == 0, plan.output
    assert "= 104 run(s)" in plan.stdout  # 2 tasks x 4 losses x (8 trials + 5 seeds)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["quickstart.yaml"]
    again = _cli("init", cwd=tmp_path)
    assert again.returncode == 1
    assert again.stderr.strip() == "Error: quickstart.yaml exists; pass --force to overwrite it"


def test_init_list_names_every_example_and_a_bad_name_gets_the_closest(tmp_path):
    listed = _cli("init", "--list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert rows[0] == ["study", "what it compares"]
    assert [row[0] for row in rows[1:]] == list(example_studies())
    assert all(row[1] for row in rows[1:])
    with pytest.raises(ValueError, match="Did you mean 'longtail'"):
        init_study("longtial", tmp_path)
    assert not list(tmp_path.iterdir())


def test_a_missing_example_study_file_says_how_to_get_it(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_study(tmp_path / "quickstart.yaml")
    assert str(error.value) == (
        f"{tmp_path / 'quickstart.yaml'}: no such file. `polybench init quickstart` writes "
        "the example study quickstart.yaml."
    )


@pytest.mark.slow
def test_what_init_wrote_runs_to_the_end(tmp_path):
    assert _cli("init", cwd=tmp_path).returncode == 0
    run = _cli("run", "quickstart.yaml", "--workers", "2", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "104 of 104 planned runs stored" in " ".join(run.stdout.split())
