"""The keys of dynamic partition sets, added at run time, in insertion order.

The unique index on (name, seq) makes two writers that read the same ``max(seq)``
collide instead of recording two keys at one position.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_dynamic_partitions"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dynamic_partitions",
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("key", sa.String(), primary_key=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("added_at", sa.Float(), nullable=False),
    )
    op.create_index(
        "ix_dynamic_partitions_name_seq", "dynamic_partitions", ["name", "seq"], unique=True
    )
