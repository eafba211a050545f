"""The connection an audit database belongs to.

Revision ID: 0008
Revises: 0007

One row: the connection that first opened the database. Some tables carry no connection
(``worker_map``, ``webhook_inbox``), and a connection's journal identities are only its own
under its own name, so a database serves exactly one connection (``audit/owner.py``).
Created only if missing, as 0006 does.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if "audit_owner" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "audit_owner",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("connection", sa.String(100), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audit_owner")
