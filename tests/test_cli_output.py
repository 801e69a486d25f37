"""Output that pipes: every table command, piped, prints each name whole on one line
(tab-separated), names are never broken inside a terminal table, `--json` for status and
report, `-h` for help, and flags shown without a value placeholder.

`polybench losses` and `polybench status` also run as real subprocesses, so standard output
really is a pipe; the other commands run in this process under typer's CliRunner, whose output
is not a terminal either (or, with `TTY_COMPATIBLE=1`, is what rich treats as a terminal): the
same code path, without importing polybench again for every command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import ENVIRONMENT
from typer.testing import CliRunner

from polybench.cli import app
from polybench.db import open_store

STUDY = """\
name: long_names_study
tasks:
  - {task: review_sentiment_zh, model: fasttext}
losses:
  - loss: cross_entropy
    search: {}  # opts out of its default label_smoothing search: nothing to tune, one trial
  - loss: poly1_sigmoid_focal
    search: {epsilon: {low: -1, high: 4}}
search: {trials: 2}
confirm: {seeds: 3}
"""


def _cli(*args: str, terminal: bool = False, piped: bool = False) -> str:
    """The standard output of `polybench ARGS`; `piped` runs it as a real subprocess."""
    env: dict[str, str | None] = dict.fromkeys(
        ("POLYBENCH_STORAGE", "FORCE_COLOR", "TTY_COMPATIBLE")
    )
    if terminal:  # rich then draws its tables, as in an 80-column terminal
        env.update(TTY_COMPATIBLE="1", COLUMNS="80", NO_COLOR="1")
    if not piped:
        result = CliRunner().invoke(app, list(args), env=env)
        assert result.exit_code == 0, result.output
        return result.stdout
    done = subprocess.run(
        [sys.executable, "-m", "polybench", *args],
        capture_output=True,
        text=True,
        env={k: v for k, v in (os.environ | env).items() if v is not None},
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def study_url(tmp_path_factory) -> str:
    """A study with long names, filled through the real Store API (search and confirm runs)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('piped') / 'piped.db'}"
    with open_store(url) as store:
        store.ensure_study("long_names_study", STUDY)
        for offset, loss in enumerate(("cross_entropy", "poly1_sigmoid_focal")):
            searches = 1 if loss == "cross_entropy" else 2  # nothing to search: one trial
            phases = [("search", n) for n in range(searches)] + [("confirm", s) for s in range(3)]
            for phase, number in phases:
                run_id = store.start_run(
                    study="long_names_study",
                    task="review_sentiment_zh",
                    model="fasttext",
                    loss=loss,
                    # confirm runs train the best search setting (the last trial, epsilon 2)
                    params={"epsilon": 1.0 + (1 if phase == "confirm" else number)}
                    if loss != "cross_entropy"
                    else {},
                    seed=number,
                    phase=phase,
                    optuna_study=f"long_names_study/review_sentiment_zh/{loss}"
                    + ("/confirm" if phase == "confirm" else ""),
                    trial_number=number,
                    environment=ENVIRONMENT,
                )
                score = 0.8 + 0.01 * offset + 0.002 * number
                metrics = {"val_accuracy": score}
                if phase == "confirm":
                    metrics["test_accuracy"] = score - 0.01
                store.finish_run(
                    run_id,
                    state="complete",
                    metrics=metrics,
                    train_throughput=1000.0,
                    eval_throughput=5000.0,
                    wall_time=1.0,
                    epochs_done=1,
                )
    return url


def _registered() -> dict[str, list[str]]:
    from polybench.losses import LOSSES
    from polybench.models import MODELS
    from polybench.tasks import TASKS

    return {"losses": list(LOSSES), "tasks": list(TASKS), "models": list(MODELS)}


@pytest.mark.parametrize("command", ["losses", "tasks", "models"])
def test_piped_listings_are_tab_separated_with_every_name_whole(command):
    out = _cli(command, piped=command == "losses")
    lines = out.splitlines()
    header = lines[0].split("\t")
    assert header[0] == {"losses": "loss", "tasks": "task", "models": "model"}[command]
    assert all(len(line.split("\t")) == len(header) for line in lines), "ragged TSV"
    first_fields = {line.split("\t")[0] for line in lines[1:]}
    for name in _registered()[command]:
        assert name in first_fields, f"{name} is not a whole first field of `polybench {command}`"
    # what the issue measured: `polybench losses | grep -c poly1_sigmoid_focal` printed 0
    if command == "losses":
        assert sum("poly1_sigmoid_focal" in line for line in lines) == 6


def test_piped_status_and_report_keep_names_whole(study_url):
    listing = _cli("status", "--storage", study_url).splitlines()
    assert listing[0].split("\t")[:4] == ["study", "created_at", "runs", "planned_runs"]
    assert listing[1].split("\t")[0] == "long_names_study"
    assert listing[1].split("\t")[2:4] == ["9", "9"]
    progress = _cli("status", "long_names_study", "--storage", study_url).splitlines()
    assert [line.split("\t")[:2] for line in progress[1:]] == [
        ["review_sentiment_zh", "cross_entropy"],
        ["review_sentiment_zh", "poly1_sigmoid_focal"],
    ]
    report = _cli("report", "long_names_study", "--storage", study_url).splitlines()
    assert report[0].split("\t")[:2] == ["task", "loss"]
    assert {tuple(line.split("\t")[:2]) for line in report[1:3]} == {
        ("review_sentiment_zh", "cross_entropy"),
        ("review_sentiment_zh", "poly1_sigmoid_focal"),
    }


def test_status_and_report_print_json(study_url):
    listing = json.loads(_cli("status", "--json", "--storage", study_url))
    assert [(row["study"], row["runs"]) for row in listing] == [("long_names_study", 9)]
    progress = json.loads(_cli("status", "long_names_study", "--json", "--storage", study_url))
    assert [(row["loss"], row["search_done"], row["confirm_done"]) for row in progress] == [
        ("cross_entropy", 1, 3),
        ("poly1_sigmoid_focal", 2, 3),
    ]
    flag = json.loads(_cli("report", "long_names_study", "--json", "--storage", study_url))
    option = json.loads(
        _cli("report", "long_names_study", "--format", "json", "--storage", study_url)
    )
    assert flag == option
    assert {row["loss"]: row["n_seeds"] for row in flag} == {
        "cross_entropy": 3,
        "poly1_sigmoid_focal": 3,
    }


def test_terminal_tables_never_break_a_name(study_url):
    losses = _cli("losses", terminal=True)
    assert "┃" in losses, "expected a rich table (TTY_COMPATIBLE=1)"
    for name in _registered()["losses"]:
        assert name in losses, f"{name} is broken in `polybench losses` at 80 columns"
    for command in (("status", "long_names_study"), ("report", "long_names_study")):
        shown = _cli(*command, "--storage", study_url, terminal=True)
        for name in ("review_sentiment_zh", "cross_entropy", "poly1_sigmoid_focal"):
            assert name in shown, f"{name} is broken in `polybench {command[0]}` at 80 columns"


def test_help_flags_short_option_and_completion():
    from typer.main import get_command
    from typer.testing import CliRunner

    from polybench.cli import app

    runner = CliRunner()

    def help_text(*args: str) -> str:
        result = runner.invoke(app, [*args], env={"COLUMNS": "100"})
        assert result.exit_code == 0, result.output
        return result.output

    assert help_text("-h") == help_text("--help")
    assert "--install-completion" in help_text("--help")
    for name, command in get_command(app).commands.items():
        assert help_text(name, "-h") == help_text(name, "--help")
        assert "<bool>" not in help_text(name, "-h"), f"`polybench {name} -h` shows <bool>"
        for sub in getattr(command, "commands", {}):
            assert "<bool>" not in help_text(name, sub, "-h")
    (dry_run,) = [line for line in help_text("run", "-h").splitlines() if "--dry-run" in line]
    assert "<" not in dry_run


def test_status_of_an_empty_database_names_the_url_it_looked_at(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    open_store(url).close()
    result = CliRunner().invoke(app, ["status", "--storage", url], env={"POLYBENCH_STORAGE": None})
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "study\tcreated_at\truns\tplanned_runs\tcomplete\tpruned\tfailed\trunning"
    ]
    assert result.stderr.strip() == (
        f"No studies in {url}. Start one with `polybench init` and `polybench run "
        "quickstart.yaml`, or pass --storage URL."
    )
