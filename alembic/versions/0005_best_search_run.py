"""The search run each (task, loss) confirmed: `polybench_run.best_search`, set by the runner
when it picks the parameters its confirm runs train, read by the report and the dashboard.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE, as in 0004: a batch copy would cascade-delete SQLite's epochs.
    op.add_column(
        "polybench_run",
        sa.Column("best_search", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("polybench_run", "best_search")
