"""Operational errors are one line with the path or URL and what to do; read-only commands never
write, and nothing is created or overwritten without being asked.

The commands run in this process through `polybench.cli.main` (the console script's entry), so
exit codes and stderr are the real ones. Read-only files and folders are made with
`chattr +i` (immutable), because the tests may run as root, whom `chmod` does not stop.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from polybench.cli import main
from polybench.db import open_store


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run `polybench ARGS` like the console script; (exit code, stdout, stderr)."""
    capsys.readouterr()
    argv = sys.argv
    sys.argv = ["polybench", *args]
    try:
        main()
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    finally:
        sys.argv = argv
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def fill(url: str) -> None:
    """A small database: one study with one finished run and its epoch."""
    with open_store(url) as store:
        store.ensure_study("demo", "name: demo\n")
        run_id = store.start_run(
            study="demo", task="digits", model="small_cnn", loss="cross_entropy", params={},
            seed=0, phase="search", optuna_study="demo/digits/cross_entropy", trial_number=0,
            environment={"host": "h"},
        )  # fmt: skip
        store.record_epoch(run_id, 0, 0.5, 0.4, 0.9, 0.1, 1.0, 100.0)
        store.finish_run(
            run_id, state="complete", metrics={"val_accuracy": 0.9}, train_throughput=100.0,
            eval_throughput=200.0, wall_time=1.0, epochs_done=1,
        )  # fmt: skip


@pytest.fixture
def immutable() -> Iterator[callable]:
    """`immutable(path)` makes a file or folder read-only even for root; undone afterwards."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    made: list[Path] = []

    def make(path: Path) -> None:
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot make {path} immutable here: {done.stderr.strip()}")
        made.append(path)

    yield make
    for path in made:
        subprocess.run(["chattr", "-i", str(path)], check=False)


# -- read-only commands never write ----------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["status"],
        ["status", "demo"],
        ["report", "demo"],
        ["export", "demo", "--to", "{tmp}/out.csv"],
    ],
    ids=lambda c: c[0] + ("-study" if len(c) == 2 else ""),
)
def test_read_only_commands_refuse_a_missing_database_and_create_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
):
    missing = tmp_path / "typo" / "polybench.db"
    (tmp_path / "typo").mkdir()
    args = [part.replace("{tmp}", str(tmp_path)) for part in command]
    code, _, err = cli(capsys, *args, "--storage", f"sqlite:///{missing}")
    assert code == 1
    line = one_line_error(err)
    assert f"no results database at {missing}" in line and "--storage" in line
    assert list((tmp_path / "typo").iterdir()) == []
    assert not (tmp_path / "out.csv").exists()


def test_dashboard_refuses_a_missing_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    missing = tmp_path / "nothing.db"
    code, _, err = cli(capsys, "dashboard", "--storage", f"sqlite:///{missing}", "--port", "1")
    assert code == 1
    assert f"no results database at {missing}" in one_line_error(err)
    assert not missing.exists()


def test_status_reads_a_database_in_a_read_only_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], immutable
):
    folder = tmp_path / "archive"
    folder.mkdir()
    url = f"sqlite:///{folder / 'polybench.db'}"
    fill(url)
    before = sorted(p.name for p in folder.iterdir())
    immutable(folder)
    code, out, err = cli(capsys, "status", "--storage", url)
    assert code == 0, err
    assert "demo" in out
    code, out, err = cli(
        capsys, "export", "demo", "--to", str(tmp_path / "runs.csv"), "--storage", url
    )
    assert code == 0, err
    assert sorted(p.name for p in folder.iterdir()) == before


# -- one line for every operational error ----------------------------------------------------


def test_run_on_a_read_only_database_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], immutable
):
    db = tmp_path / "polybench.db"
    url = f"sqlite:///{db}"
    fill(url)
    immutable(db)
    study = tmp_path / "s.yaml"
    study.write_text("name: s\ntasks: [{task: digits}]\nlosses: [{loss: cross_entropy}]\n")
    code, _, err = cli(capsys, "run", str(study), "--storage", url)
    assert code == 1
    line = one_line_error(err)
    assert str(db) in line and "read-only" in line


@pytest.mark.parametrize(
    "command",
    [["status"], ["report", "demo"], ["export", "demo", "--to", "{tmp}/x.csv"], ["run", "{study}"]],
    ids=lambda c: c[0],
)
def test_a_damaged_sqlite_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
):
    db = tmp_path / "polybench.db"
    url = f"sqlite:///{db}"
    fill(url)
    with db.open("r+b") as file:  # overwrite the first page: the header and the schema
        file.write(b"\xa5" * 4096)
    study = tmp_path / "s.yaml"
    study.write_text("name: s\ntasks: [{task: digits}]\nlosses: [{loss: cross_entropy}]\n")
    args = [p.replace("{tmp}", str(tmp_path)).replace("{study}", str(study)) for p in command]
    code, _, err = cli(capsys, *args, "--storage", url)
    assert code == 1
    line = one_line_error(err)
    assert str(db) in line and ("damaged" in line or "not a SQLite database" in line), line


# -- nothing overwritten or created without asking -------------------------------------------


def test_export_and_report_refuse_to_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sqlite_url: str
):
    fill(sqlite_url)
    target = tmp_path / "runs.csv"
    assert cli(capsys, "export", "demo", "--to", str(target), "--storage", sqlite_url)[0] == 0
    sidecar = tmp_path / "runs_epochs.csv"
    target.write_text("mine\n")
    sidecar.write_text("mine too\n")
    code, _, err = cli(capsys, "export", "demo", "--to", str(target), "--storage", sqlite_url)
    assert code == 1
    assert "already exist" in one_line_error(err) and "--force" in err
    assert target.read_text() == "mine\n" and sidecar.read_text() == "mine too\n"
    code, _, err = cli(
        capsys, "export", "demo", "--to", str(target), "--storage", sqlite_url, "--force"
    )
    assert code == 0, err
    assert "run_id" in target.read_text()

    report = tmp_path / "report.md"
    report.write_text("notes\n")
    code, _, err = cli(
        capsys, "report", "demo", "--format", "md", "-o", str(report), "--storage", sqlite_url
    )
    assert code == 1 and "--force" in one_line_error(err)
    assert report.read_text() == "notes\n"


def test_export_does_not_create_missing_folders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sqlite_url: str
):
    fill(sqlite_url)
    target = tmp_path / "no" / "such" / "runs.csv"
    code, _, err = cli(capsys, "export", "demo", "--to", str(target), "--storage", sqlite_url)
    assert code == 1
    assert "does not exist" in one_line_error(err)
    assert not (tmp_path / "no").exists()


def test_export_to_an_unwritable_folder_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sqlite_url: str, immutable
):
    fill(sqlite_url)
    folder = tmp_path / "locked"
    folder.mkdir()
    immutable(folder)
    code, _, err = cli(
        capsys, "export", "demo", "--to", str(folder / "runs.csv"), "--storage", sqlite_url
    )
    assert code == 1
    line = one_line_error(err)
    assert str(folder / "runs.csv") in line and "Operation not permitted" in line
