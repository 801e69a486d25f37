"""Results tables: one row per study, per run (search trial or confirm seed) and per epoch.

Revision ID: 0001
Revises:
Create Date: 2025-11-29
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "polybench_study",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("config_text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("polybench_version", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_polybench_study")),
        sa.UniqueConstraint("name", name=op.f("uq_polybench_study_name")),
    )
    op.create_table(
        "polybench_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(length=100), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("loss", sa.String(length=100), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("optuna_study", sa.String(length=512), nullable=True),
        sa.Column("trial_number", sa.Integer(), nullable=True),
        sa.Column("val_accuracy", sa.Float(), nullable=True),
        sa.Column("val_macro_f1", sa.Float(), nullable=True),
        sa.Column("val_balanced_accuracy", sa.Float(), nullable=True),
        sa.Column("val_ece", sa.Float(), nullable=True),
        sa.Column("val_loss", sa.Float(), nullable=True),
        sa.Column("test_accuracy", sa.Float(), nullable=True),
        sa.Column("test_macro_f1", sa.Float(), nullable=True),
        sa.Column("test_balanced_accuracy", sa.Float(), nullable=True),
        sa.Column("test_ece", sa.Float(), nullable=True),
        sa.Column("train_throughput", sa.Float(), nullable=True),
        sa.Column("eval_throughput", sa.Float(), nullable=True),
        sa.Column("wall_time", sa.Float(), nullable=True),
        sa.Column("epochs_done", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("device", sa.String(length=64), nullable=True),
        sa.Column("torch_version", sa.String(length=64), nullable=True),
        sa.Column("threads", sa.Integer(), nullable=True),
        sa.Column("git_commit", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("phase IN ('search', 'confirm')", name=op.f("ck_polybench_run_phase")),
        sa.CheckConstraint(
            "state IN ('running', 'complete', 'pruned', 'failed')",
            name=op.f("ck_polybench_run_state"),
        ),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["polybench_study.id"],
            name=op.f("fk_polybench_run_study_id_polybench_study"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_polybench_run")),
        sa.UniqueConstraint(
            "optuna_study", "trial_number", name=op.f("uq_polybench_run_optuna_study_trial_number")
        ),
    )
    op.create_table(
        "polybench_epoch",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("train_loss", sa.Float(), nullable=True),
        sa.Column("val_loss", sa.Float(), nullable=True),
        sa.Column("val_accuracy", sa.Float(), nullable=True),
        sa.Column("lr", sa.Float(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("train_throughput", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["polybench_run.id"],
            name=op.f("fk_polybench_epoch_run_id_polybench_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "epoch", name=op.f("pk_polybench_epoch")),
    )


def downgrade() -> None:
    op.drop_table("polybench_epoch")
    op.drop_table("polybench_run")
    op.drop_table("polybench_study")
