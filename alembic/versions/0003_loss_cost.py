"""Loss cost ratios: each loss's forward + backward time against cross-entropy, per study and task.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "polybench_loss_cost",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(length=100), nullable=False),
        sa.Column("loss", sa.String(length=100), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("num_classes", sa.Integer(), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("ratio", sa.Float(), nullable=False),
        sa.Column("ratio_low", sa.Float(), nullable=False),
        sa.Column("ratio_high", sa.Float(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("rounds", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["polybench_study.id"],
            name=op.f("fk_polybench_loss_cost_study_id_polybench_study"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_polybench_loss_cost")),
        sa.UniqueConstraint(
            "study_id", "task", "loss", name=op.f("uq_polybench_loss_cost_study_id_task_loss")
        ),
    )
    op.create_index(
        op.f("ix_polybench_loss_cost_study_id"), "polybench_loss_cost", ["study_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_polybench_loss_cost_study_id"), table_name="polybench_loss_cost")
    op.drop_table("polybench_loss_cost")
