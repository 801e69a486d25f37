"""Indexes on what the reports and the dashboard filter runs by: study, task, loss, phase, state.

Revision ID: 0002
Revises: 0001
Create Date: 2025-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

FILTER_COLUMNS = ("study_id", "task", "loss", "phase", "state")


def upgrade() -> None:
    for column in FILTER_COLUMNS:
        op.create_index(op.f(f"ix_polybench_run_{column}"), "polybench_run", [column])


def downgrade() -> None:
    for column in FILTER_COLUMNS:
        op.drop_index(op.f(f"ix_polybench_run_{column}"), table_name="polybench_run")
