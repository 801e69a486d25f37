"""The loss cost ratio: measured once per study and task, stored with the study, read back.

No timing is asserted (the machine is shared): the measurement's structure is (cross-entropy
against itself is exactly 1, quartiles bracket the median, rounds stay within their bounds), and
the store keeps the first measurement per (study, task, loss) however many workers race.
"""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from polybench.cli import app
from polybench.db import LOSS_COST_COLUMNS, head_revision, open_store
from polybench.losses._cost import LossCost, measure_loss_costs


def test_measure_loss_costs_brackets_each_ratio_and_cross_entropy_is_one():
    costs = measure_loss_costs(
        {"poly1_cross_entropy": {"epsilon": 2.0}, "focal": {}, "sigmoid_focal": {}},
        batch=32,
        classes=5,
        budget_seconds=0.05,
        min_rounds=5,
        max_rounds=40,
    )
    assert set(costs) == {"cross_entropy", "poly1_cross_entropy", "focal", "sigmoid_focal"}
    assert costs["cross_entropy"].ratio == 1.0
    for cost in costs.values():
        assert 5 <= cost.rounds <= 40
        assert 0 < cost.ratio_low <= cost.ratio <= cost.ratio_high
        assert cost.seconds > 0


def _costs(scale: float) -> list[LossCost]:
    return [
        LossCost("cross_entropy", 1.0, 1.0, 1.0, 1e-4, 50),
        LossCost("poly1_cross_entropy", 1.4 * scale, 1.3 * scale, 1.5 * scale, 1.4e-4, 50),
    ]


def test_loss_costs_are_stored_once_per_study_task_and_loss(storage_url):
    with open_store(storage_url) as store:
        store.ensure_study("s", "name: s\n")
        inserted = store.record_loss_costs(
            study="s", task="digits", costs=_costs(1.0), batch_size=64, num_classes=10,
            device="cpu", host="box",
        )  # fmt: skip
        assert inserted == 2
        # a second worker that measured at the same time keeps nothing of its own
        again = store.record_loss_costs(
            study="s", task="digits", costs=_costs(2.0), batch_size=64, num_classes=10,
            device="cpu", host="other",
        )  # fmt: skip
        assert again == 0
        frame = store.loss_costs(study="s")
    assert list(frame.columns) == list(LOSS_COST_COLUMNS)
    assert frame[["task", "loss", "ratio", "host"]].to_dict("records") == [
        {"task": "digits", "loss": "cross_entropy", "ratio": 1.0, "host": "box"},
        {"task": "digits", "loss": "poly1_cross_entropy", "ratio": 1.4, "host": "box"},
    ]
    assert frame["batch_size"].tolist() == [64, 64] and frame["device"].tolist() == ["cpu"] * 2
    assert isinstance(frame["measured_at"].dtype, pd.DatetimeTZDtype)


def test_a_previous_schema_database_gains_the_loss_cost_table_and_keeps_its_runs(sqlite_url):
    runner = CliRunner()
    result = runner.invoke(app, ["db", "upgrade", "0002", "--storage", sqlite_url])
    assert result.exit_code == 0, result.output
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(sqlite_url)
    with engine.begin() as connection:
        assert "polybench_loss_cost" not in inspect(connection).get_table_names()
        connection.execute(
            text(
                "INSERT INTO polybench_study (name, config_text, created_at, polybench_version) "
                "VALUES ('old', 'name: old\n', '2026-01-01 00:00:00', '0.1')"
            )
        )
    engine.dispose()
    result = runner.invoke(app, ["db", "upgrade", "--storage", sqlite_url])
    assert result.exit_code == 0, result.output
    from polybench.db._migrations import known_revisions

    # 0003 adds the table; later revisions (0004: epoch metrics and run seeds) follow it
    assert known_revisions().index("0003") <= known_revisions().index(head_revision())
    with open_store(sqlite_url) as store:
        assert store.studies()["study"].tolist() == ["old"]
        assert store.record_loss_costs(
            study="old", task="digits", costs=_costs(1.0), batch_size=8, num_classes=3,
            device="cpu",
        ) == 2  # fmt: skip
        assert len(store.loss_costs()) == 2
    result = runner.invoke(app, ["db", "downgrade", "0002", "--storage", sqlite_url])
    assert result.exit_code == 0, result.output
    engine = create_engine(sqlite_url)
    with engine.connect() as connection:
        assert "polybench_loss_cost" not in inspect(connection).get_table_names()
    engine.dispose()


@pytest.mark.parametrize("study", [None, "nothing-here"])
def test_loss_costs_of_an_unknown_study_are_an_empty_frame(sqlite_url, study):
    with open_store(sqlite_url) as store:
        frame = store.loss_costs(study=study)
    assert frame.empty and list(frame.columns) == list(LOSS_COST_COLUMNS)
