"""The AFQMC path: the shipped `studies/afqmc.yaml` runs end to end on files in CLUE's format.

CLUE's AFQMC is not shipped (nor downloaded at test time), so the test writes a small
`train.json` / `dev.json` in the same format (JSON lines with sentence1, sentence2 and a string
label "0" / "1") and runs the study file as shipped, with only the data folder and the budget
(epochs, trials, seeds) made small.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from polybench.config import parse_study
from polybench.db import open_store
from polybench.runner import run_study

STUDY = Path(__file__).resolve().parent.parent / "studies" / "afqmc.yaml"
WORDS = list("花呗借呗还款额度怎么开通关闭为什么不能用分期利息逾期提前账单信用支付宝余额")


def write_afqmc(path: Path, pairs: int, seed: int) -> None:
    """`pairs` records in AFQMC's JSON-lines format: label "1" when the second sentence is the
    first one reordered (the same question), "0" for an unrelated sentence."""
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(pairs):
        first = "".join(rng.choice(WORDS, size=rng.integers(6, 14)))
        same = i % 2 == 0
        second = (
            "".join(rng.permutation(list(first)))
            if same
            else "".join(rng.choice(WORDS, size=rng.integers(6, 14)))
        )
        record = {"sentence1": first, "sentence2": second, "label": "1" if same else "0"}
        lines.append(json.dumps(record, ensure_ascii=False))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def tiny_afqmc_study(root: Path) -> str:
    """The shipped study with the data folder and budget changed; everything else as shipped."""
    study = yaml.safe_load(STUDY.read_text(encoding="utf-8"))
    (task,) = study["tasks"]
    assert task["task"] == "afqmc" and task["root"] == "data/afqmc"
    task.update(root=str(root), epochs=1)
    study.update(threads=1)
    study["search"].update(trials=2)
    study["confirm"].update(seeds=2)
    return yaml.safe_dump(study, sort_keys=False)


def test_shipped_afqmc_study_runs_end_to_end(tmp_path: Path):
    root = tmp_path / "afqmc"
    write_afqmc(root / "train.json", 120, seed=0)
    write_afqmc(root / "dev.json", 40, seed=1)
    config = parse_study(tiny_afqmc_study(root), str(STUDY))
    url = f"sqlite:///{tmp_path / 'afqmc.db'}"
    summary = run_study(config, storage=url, progress=False)

    losses = [loss["loss"] for loss in yaml.safe_load(STUDY.read_text())["losses"]]
    # the study tunes lr for every loss (cross_entropy too): 2 trials and 2 seeds per loss
    assert summary.planned_runs == (2 + 2) * len(losses)
    assert summary.complete
    with open_store(url) as store:
        runs = store.runs(study="afqmc")
    assert len(runs) == summary.planned_runs
    assert set(runs["task"]) == {"afqmc"} and set(runs["model"]) == {"bigru"}
    assert set(runs["loss"]) == set(losses)
    assert set(runs["state"]) <= {"complete", "pruned"}
    confirm = runs[runs["phase"] == "confirm"]
    assert len(confirm) == 2 * len(losses)
    # the test split is dev.json: 40 pairs, so every accuracy is a multiple of 1/40
    assert np.allclose(confirm["test_accuracy"] * 40, (confirm["test_accuracy"] * 40).round())


def test_missing_afqmc_files_say_where_to_put_them(tmp_path: Path):
    from polybench.tasks import load_task

    with pytest.raises(FileNotFoundError) as caught:
        load_task("afqmc", root=tmp_path / "nowhere")
    message = str(caught.value)
    assert str(tmp_path / "nowhere" / "train.json") in message
    assert "afqmc_public.zip" in message and "studies/afqmc.yaml" in message
