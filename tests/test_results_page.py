"""`make results` on a tiny version of the reference study: the Makefile's own recipe, run with
the tiny study and a temporary database and folder, writes a page with every section, every
figure it links, and the runs as Parquet; the page's numbers are recomputed from that file."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from polybench.report import PAGE_SECTIONS
from polybench.stats import single_run_gap

ROOT = Path(__file__).resolve().parent.parent
TINY = Path(__file__).resolve().parent / "data" / "reference_tiny.yaml"
CLI = [sys.executable, "-c", "from polybench.cli import main; main()"]


def results_recipe() -> list[str]:
    """The `polybench` command lines of the Makefile's `results:` recipe."""
    text = (ROOT / "Makefile").read_text()
    recipe = text.split("\nresults:")[1].split("\n\n")[0].splitlines()[1:]
    return [line.strip() for line in recipe if "$(BIN)/polybench" in line]


def test_make_results_runs_the_reference_study_and_writes_the_page():
    recipe = results_recipe()
    assert recipe[0].startswith("$(BIN)/polybench run $(RESULTS_STUDY) --storage $(RESULTS_DB)")
    assert "--format page --figures $(RESULTS_DIR) --output $(RESULTS_PAGE)" in recipe[1]
    assert "RESULTS_STUDY ?= studies/reference.yaml" in (ROOT / "Makefile").read_text()


@pytest.mark.slow
def test_results_recipe_on_the_tiny_reference_study(tmp_path: Path):
    folder, page = tmp_path / "docs" / "results", tmp_path / "docs" / "results.md"
    page.parent.mkdir()  # the checkout has docs/; polybench creates only the figures folder
    values = {
        "$(RESULTS_STUDY)": str(TINY),
        "$(RESULTS_NAME)": "reference_tiny",
        "$(RESULTS_DB)": f"sqlite:///{tmp_path / 'tiny.db'}",
        "$(RESULTS_DIR)": str(folder),
        "$(RESULTS_PAGE)": str(page),
    }
    for line in results_recipe():
        for name, value in values.items():
            line = line.replace(name, value)
        args = shlex.split(line.replace("$(BIN)/polybench", "", 1))
        done = subprocess.run([*CLI, *args], cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    text = page.read_text()

    positions = [text.index(heading + "\n") for heading in PAGE_SECTIONS]
    assert positions == sorted(positions)
    linked = re.findall(r"\]\((results/[^)]+)\)", text)
    assert "results/runs.parquet" in linked
    for name in linked:
        assert (page.parent / name).stat().st_size > 0, name
    names = {Path(name).name for name in linked}
    for task in ("digits", "digits_noisy"):
        for stem in (f"sensitivity_{task}_epsilon", f"tradeoff_{task}"):
            assert {f"{stem}.png", f"{stem}.svg"} <= names
    assert {"average_ranks.png", "average_ranks.svg"} <= names
    assert (folder / "average_ranks.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (folder / "average_ranks.svg").read_text()[:2000]

    # Every number checked below is recomputed from the Parquet file the page links.
    runs = pd.read_parquet(folder / "runs.parquet")
    assert len(runs) == 2 * 3 * (3 + 3)
    assert set(runs["loss"]) == {"cross_entropy", "cross_entropy_ls", "poly1_cross_entropy"}
    confirm = runs[runs["phase"] == "confirm"]
    means = confirm.groupby(["task", "loss"])["test_accuracy"].mean()
    table = text.split("## Tables")[1]
    for (task, loss), mean in means.items():
        row = next(line for line in table.splitlines() if line.startswith(f"| {task} | {loss} |"))
        assert f"{mean:.4f}" in row, (task, loss, row)
    claim = text.split("## The blog's claim in context")[1].split("## ")[0]
    for task in ("digits", "digits_noisy"):
        mine = confirm[confirm["task"] == task]
        base = mine[mine["loss"] == "cross_entropy"]["test_accuracy"]
        poly = mine[mine["loss"] == "poly1_cross_entropy"]["test_accuracy"]
        result = single_run_gap(base, poly)
        row = next(line for line in claim.splitlines() if line.startswith(f"| {task} |"))
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[1:5] == [
            f"{base.mean():.4f}",
            f"{poly.mean():.4f}",
            f"{poly.mean() - base.mean():+.4f}",
            f"{result.spread:.4f}",
        ]
        assert cells[8] == f"{result.pairs_either:.0%} of 9"
    assert f"Runs: {len(runs)} (" in text
