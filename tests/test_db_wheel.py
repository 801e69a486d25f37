"""The migration scripts ship inside the wheel: `polybench db upgrade` works from an install
that has no checkout next to it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_carries_migrations_and_upgrades_a_database(tmp_path):
    source = tmp_path / "source"  # build from a copy, so the checkout gets no build/ folder
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("polybench", "alembic", "studies"):
        shutil.copytree(REPO / name, source / name, ignore=ignore)
    pip_wheel = [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps"]
    built = subprocess.run(
        [*pip_wheel, "--no-build-isolation", "-w", str(tmp_path / "dist"), "-q"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("polybench-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for script in (REPO / "alembic").rglob("*"):
        if script.is_file() and "__pycache__" not in script.parts:
            relative = script.relative_to(REPO / "alembic").as_posix()
            assert f"polybench/_migrations/{relative}" in names
    assert not any(name.startswith("alembic/") for name in names)  # never shadow the library
    for study in (REPO / "studies").glob("*.yaml"):
        assert f"polybench/_studies/{study.name}" in names
    assert "polybench/losses/_native.cpp" in names  # what `polybench kernels --build` compiles

    installed = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(installed)
    work = tmp_path / "work"
    work.mkdir()
    code = (
        "import sys, polybench.db as db; from polybench.cli import main;"
        "print(db.script_location()); sys.argv = ['polybench', 'db', 'upgrade',"
        " '--storage', 'sqlite:///x.db']; main()"
    )
    environment = {**os.environ, "PYTHONPATH": str(installed)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=work,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == str(installed / "polybench" / "_migrations")
    # a pip user's first step: an example study from the installed package, validated
    init = subprocess.run(
        [sys.executable, "-m", "polybench", "init"],
        cwd=work,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert init.returncode == 0, init.stderr
    assert (work / "quickstart.yaml").read_text() == (REPO / "studies/quickstart.yaml").read_text()
    engine = create_engine(f"sqlite:///{work / 'x.db'}")
    with engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) == {
            "polybench_study",
            "polybench_run",
            "polybench_epoch",
            "polybench_loss_cost",  # migration 0003
            "polybench_alembic_version",
        }
    engine.dispose()
