"""The worker map records a contractor's vendor account.

Revision ID: 0002
Revises: 0001

When F&O's number sequence assigns vendor accounts, the account cannot be recomputed from the
template, so the one F&O returned is kept beside the worker's PersonnelNumber. The column is
added only if missing: a database adopted by revision 0001 from a ``create_all`` of a newer
release may have it already.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _has_column() -> bool:
    columns = sa.inspect(op.get_bind()).get_columns("worker_map")
    return any(column["name"] == "vendor_account" for column in columns)


def upgrade() -> None:
    if _has_column():
        return
    with op.batch_alter_table("worker_map") as batch:
        batch.add_column(sa.Column("vendor_account", sa.String(50), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("worker_map") as batch:
        batch.drop_column("vendor_account")
