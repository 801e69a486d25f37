"""Every validation metric per epoch (pruning on the objective); each run's init, order and
data seeds (the sources of variance a confirm run varied).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

EPOCH_COLUMNS = ("val_macro_f1", "val_balanced_accuracy", "val_ece")
RUN_COLUMNS = ("init_seed", "order_seed", "data_seed")


def upgrade() -> None:
    # Plain ALTER TABLE (SQLite >= 3.35 drops columns too): a batch "move and copy" would drop
    # polybench_run, and SQLite's ON DELETE CASCADE would empty polybench_epoch with it.
    for name in EPOCH_COLUMNS:
        op.add_column("polybench_epoch", sa.Column(name, sa.Float(), nullable=True))
    for name in RUN_COLUMNS:
        op.add_column("polybench_run", sa.Column(name, sa.Integer(), nullable=True))


def downgrade() -> None:
    for name in reversed(RUN_COLUMNS):
        op.drop_column("polybench_run", name)
    for name in reversed(EPOCH_COLUMNS):
        op.drop_column("polybench_epoch", name)
