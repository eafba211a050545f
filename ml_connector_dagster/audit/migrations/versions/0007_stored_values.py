"""Stored values: the IO manager's sealed asset values, shared by every process.

Revision ID: 0007
Revises: 0006

One row per asset path and partition (``""`` for an unpartitioned value), holding the sealed
envelope (format and version in clear, the value a Fernet token under the credentials key) and
when it was stored. Used when ``ML_CONNECTOR_STORAGE_URL`` selects a database
(``storage/database.py``). Created only if missing, as 0006 does.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if "stored_values" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "stored_values",
        sa.Column("asset_path", sa.String(500), primary_key=True),
        sa.Column("partition_key", sa.String(300), primary_key=True),
        sa.Column("envelope", sa.Text, nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("stored_values")
