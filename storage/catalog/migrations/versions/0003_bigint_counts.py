"""64-bit row and byte counts: a partition of 2 GiB or 2**31 rows overflows INTEGER.

PostgreSQL gets ``ALTER COLUMN ... TYPE BIGINT``. SQLite stores every INTEGER in up to
64 bits already, but it cannot alter a column's declared type, so batch mode copies the
two tables once there, which keeps a migrated catalog's declared types identical to
those of the table definitions.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_bigint_counts"
down_revision = "0002_dynamic_partitions"
branch_labels = None
depends_on = None

# table -> (column, nullable) of the counts to widen
COUNTS = {
    "steps": (("rows", True), ("bytes", True)),
    "versions": (("rows", True), ("bytes", False)),
}


def upgrade() -> None:
    for table, columns in COUNTS.items():
        with op.batch_alter_table(table) as batch:
            for column, nullable in columns:
                batch.alter_column(
                    column,
                    type_=sa.BigInteger(),
                    existing_type=sa.Integer(),
                    existing_nullable=nullable,
                )
