"""The daemon's tables: its ticks, the cursors of schedules and sensors, and named leases
(the active daemon, the slots of concurrency pools)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_automation"
down_revision = "0003_bigint_counts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ticks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("daemon", sa.String(), nullable=False),
        sa.Column("clock", sa.Float(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("decisions", sa.String(), nullable=False),
        sa.Column("run_ids", sa.String(), nullable=False),
        sa.Column("error", sa.String(), nullable=True),
    )
    op.create_table(
        "cursors",
        sa.Column("source", sa.String(), primary_key=True),
        sa.Column("cursor", sa.String(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("owner", sa.String(), nullable=True),
        sa.Column("token", sa.Integer(), nullable=False),
        sa.Column("expires", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )
