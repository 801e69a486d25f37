"""The README is the front door: its commands and examples must stay true.

Other sections' examples are executed next to their code (losses, database, reports); this file
checks the house rules (the two opening commands, CI calling the test command), runs the tasks
section's Python example, validates the study file shown in the runner section, and checks that
every `polybench <command>` the README names exists.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(name: str) -> str:
    start = README.index(f"<!-- SECTION: {name} -->")
    end = README.find("<!-- SECTION:", start + 1)
    return README[start : end if end != -1 else None]


def _blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one():
    first_block = _blocks(README, "bash")[0]
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()]
    assert commands[:2] == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert "polybench run studies/quickstart.yaml" in makefile.split("demo:")[1].split("\n\n")[0]
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert "make test" in ci_lines
    # the same test command without make: the Makefile's pytest line, as the README spells it
    (made,) = [line.strip() for line in makefile.split("\ntest:")[1].split("\n\n")[0].splitlines()
               if "pytest" in line]  # fmt: skip
    spelled = made.replace("$(BIN)/", ".venv/bin/")
    assert spelled == ".venv/bin/pytest -n auto"
    assert f"&& {spelled}   # the tests" in _blocks(README, "bash")[1]


def test_every_polybench_command_in_the_readme_exists():
    from polybench.cli import app

    # typer derives a command's name from its function when the decorator gives none
    registered = {c.name or c.callback.__name__ for c in app.registered_commands}
    registered |= {g.name for g in app.registered_groups}
    named = set(re.findall(r"^\s*(?:\.venv/bin/)?polybench ([a-z]+)", README, flags=re.M))
    named |= set(re.findall(r"`polybench ([a-z]+)", README))
    assert named, "the README names no polybench command"
    assert named <= registered, f"README names unknown commands: {sorted(named - registered)}"


def test_tasks_section_python_example_runs(tmp_path, monkeypatch, capsys):
    (code,) = _blocks(_section("tasks"), "python")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md (tasks)", "exec"), {})
    state, accuracy, throughput = capsys.readouterr().out.split()
    assert state == "complete"
    assert 0.5 < float(accuracy) <= 1.0
    assert float(throughput) > 0


@pytest.mark.parametrize("block", _blocks(_section("runner"), "yaml"))
def test_runner_section_study_file_validates_and_plans(block, tmp_path):
    from polybench.config import parse_study
    from polybench.runner import run_study

    config = parse_study(block, "README.md")
    summary = run_study(config, storage=f"sqlite:///{tmp_path / 'plan.db'}", dry_run=True)
    tasks, losses = len(config.tasks), len(config.losses)
    assert summary.planned_runs >= tasks * losses  # at least one search trial per pair
    assert summary.stored_runs == 0


@pytest.mark.slow
def test_byo_section_runs_with_two_workers_then_status_report_and_dashboard(tmp_path, monkeypatch):
    """The "Benchmark your own loss" example, copied into an empty folder, end to end."""
    import json

    import streamlit as st
    from conftest import dashboard_app

    section = _section("byo")
    (code,) = _blocks(section, "python")
    (study,) = _blocks(section, "yaml")
    (tmp_path / "my_losses.py").write_text(code)
    (tmp_path / "byo.yaml").write_text(study)
    commands = [line.split() for line in _blocks(section, "bash")[0].splitlines() if line]
    assert commands[0] == ["polybench", "run", "byo.yaml", "--workers", "2"]
    env = {k: v for k, v in os.environ.items() if k != "POLYBENCH_STORAGE"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "polybench", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    run = cli(*commands[0][1:])
    assert "12 of 12 planned runs stored (12 complete)" in " ".join(run.stdout.split())
    status = cli(*commands[1][1:])
    losses = {line.split("\t")[1] for line in status.stdout.splitlines()[1:]}
    assert losses == {"cross_entropy", "poly1_cross_entropy", "poly2_cross_entropy"}
    report = cli(*commands[2][1:], "--json")
    rows = json.loads(report.stdout)
    assert {row["loss"] for row in rows} == losses
    assert all(row["n_seeds"] == 2 for row in rows)
    assert commands[3] == ["polybench", "dashboard"]
    st.cache_data.clear()
    at = dashboard_app(f"sqlite:///{tmp_path / 'polybench.db'}", monkeypatch).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    st.cache_data.clear()
