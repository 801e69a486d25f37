"""polybench's tables: one row per study, per run (an Optuna trial or a confirm seed) and epoch.

The models describe the newest schema; the Alembic scripts in the top-level `alembic/` folder
create it step by step, and a test checks that both agree. Every table name starts with
`polybench_`, so Optuna's tables in the same database are never touched.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from polybench.vocab import (
    EPOCH_METRIC_COLUMNS,
    PHASES,
    RUN_METRIC_COLUMNS,
    RUN_STATES,
)

TABLE_PREFIX = "polybench_"
VERSION_TABLE = "polybench_alembic_version"

METRICS = RUN_METRIC_COLUMNS
EPOCH_METRICS = EPOCH_METRIC_COLUMNS
# Where a run's randomness came from: weight init, batch order and the data split.
SEED_KEYS = ("init_seed", "order_seed", "data_seed")
ENVIRONMENT_KEYS = ("host", "device", "torch_version", "threads", "git_commit")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Study(Base):
    """A study file as it was run: its name, its text and the polybench version that ran it."""

    __tablename__ = "polybench_study"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    config_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    polybench_version: Mapped[str] = mapped_column(String(64))


class Run(Base):
    """One training run: a search trial or a confirm seed, with its metrics and environment."""

    __tablename__ = "polybench_run"
    __table_args__ = (
        UniqueConstraint("optuna_study", "trial_number"),
        CheckConstraint(f"phase IN {PHASES!r}", name="phase"),
        CheckConstraint(f"state IN {RUN_STATES!r}", name="state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("polybench_study.id"), index=True)
    task: Mapped[str] = mapped_column(String(100), index=True)
    model: Mapped[str] = mapped_column(String(100))
    loss: Mapped[str] = mapped_column(String(100), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    seed: Mapped[int] = mapped_column(Integer)
    init_seed: Mapped[int | None] = mapped_column(Integer)
    order_seed: Mapped[int | None] = mapped_column(Integer)
    data_seed: Mapped[int | None] = mapped_column(Integer)
    phase: Mapped[str] = mapped_column(String(16), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    optuna_study: Mapped[str | None] = mapped_column(String(512))
    trial_number: Mapped[int | None] = mapped_column(Integer)
    # The search run whose parameters the confirm runs train (`Store.mark_best_search`).
    best_search: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    val_accuracy: Mapped[float | None] = mapped_column(Float)
    val_macro_f1: Mapped[float | None] = mapped_column(Float)
    val_balanced_accuracy: Mapped[float | None] = mapped_column(Float)
    val_ece: Mapped[float | None] = mapped_column(Float)
    val_loss: Mapped[float | None] = mapped_column(Float)
    test_accuracy: Mapped[float | None] = mapped_column(Float)
    test_macro_f1: Mapped[float | None] = mapped_column(Float)
    test_balanced_accuracy: Mapped[float | None] = mapped_column(Float)
    test_ece: Mapped[float | None] = mapped_column(Float)

    train_throughput: Mapped[float | None] = mapped_column(Float)
    eval_throughput: Mapped[float | None] = mapped_column(Float)
    wall_time: Mapped[float | None] = mapped_column(Float)
    epochs_done: Mapped[int] = mapped_column(Integer)

    host: Mapped[str | None] = mapped_column(String(255))
    device: Mapped[str | None] = mapped_column(String(64))
    torch_version: Mapped[str | None] = mapped_column(String(64))
    threads: Mapped[int | None] = mapped_column(Integer)
    git_commit: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Epoch(Base):
    """One epoch of a run, written as it happens so a killed run still shows its curve."""

    __tablename__ = "polybench_epoch"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("polybench_run.id", ondelete="CASCADE"), primary_key=True
    )
    epoch: Mapped[int] = mapped_column(Integer, primary_key=True)
    train_loss: Mapped[float | None] = mapped_column(Float)
    val_loss: Mapped[float | None] = mapped_column(Float)
    val_accuracy: Mapped[float | None] = mapped_column(Float)
    lr: Mapped[float | None] = mapped_column(Float)
    seconds: Mapped[float | None] = mapped_column(Float)
    train_throughput: Mapped[float | None] = mapped_column(Float)
    val_macro_f1: Mapped[float | None] = mapped_column(Float)
    val_balanced_accuracy: Mapped[float | None] = mapped_column(Float)
    val_ece: Mapped[float | None] = mapped_column(Float)


class LossCost(Base):
    """A loss's forward + backward cost next to cross-entropy, measured once per study and task
    on the task's batch shape and the worker's device (`polybench.losses._cost`)."""

    __tablename__ = "polybench_loss_cost"
    __table_args__ = (UniqueConstraint("study_id", "task", "loss"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(
        ForeignKey("polybench_study.id", ondelete="CASCADE"), index=True
    )
    task: Mapped[str] = mapped_column(String(100))
    loss: Mapped[str] = mapped_column(String(100))
    batch_size: Mapped[int] = mapped_column(Integer)
    num_classes: Mapped[int] = mapped_column(Integer)
    device: Mapped[str] = mapped_column(String(64))
    ratio: Mapped[float] = mapped_column(Float)
    ratio_low: Mapped[float] = mapped_column(Float)
    ratio_high: Mapped[float] = mapped_column(Float)
    seconds: Mapped[float] = mapped_column(Float)
    rounds: Mapped[int] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(255))
    measured_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def is_polybench_table(name: str) -> bool:
    """True for polybench's own tables (not its version table, not Optuna's tables)."""
    return name.startswith(TABLE_PREFIX) and name != VERSION_TABLE


def include_name(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
    """Alembic autogenerate filter: look only at polybench's tables, never at Optuna's."""
    if type_ == "table":
        return name is not None and is_polybench_table(name)
    return True
