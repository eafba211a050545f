"""The webhook inbox counts the syncs that Dynamics refused an event's worker in.

Revision ID: 0004
Revises: 0003

An event whose worker's write Dynamics refuses (a validation error, a field it will not take)
stays pending, so the next sync tries again; the count lets the connector dead-letter it after
``AuditStore`` ``MAX_REFUSED_SYNCS`` refusals in a row instead of failing every webhook run for
ever. The daily full sync still tries that worker. Added only if missing, as in 0002.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _has_column() -> bool:
    columns = sa.inspect(op.get_bind()).get_columns("webhook_inbox")
    return any(column["name"] == "refused_syncs" for column in columns)


def upgrade() -> None:
    if not _has_column():
        with op.batch_alter_table("webhook_inbox") as batch:
            batch.add_column(
                sa.Column("refused_syncs", sa.Integer, nullable=False, server_default="0")
            )


def downgrade() -> None:
    with op.batch_alter_table("webhook_inbox") as batch:
        batch.drop_column("refused_syncs")
