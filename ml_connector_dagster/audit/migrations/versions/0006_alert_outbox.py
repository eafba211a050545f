"""The alert outbox: alerts for finance and the operator, delivered per channel, never lost.

Revision ID: 0006
Revises: 0005

One row per alert (``dedupe_key`` unique: the same alert raised twice is one row), with each
channel's delivery state (Teams, e-mail) and a delivery lease (``claimed_by``,
``claimed_until``) that keeps two delivering processes from sending it twice. Created only if
missing, as 0002 adds its column: a database made by ``create_all`` of this schema already has
the table.

Written against 0004; another branch adds a 0005, and the merge rechains this revision after it
(``down_revision = "0005"``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if "alert_outbox" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "alert_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dedupe_key", sa.String(300), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("connection", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("company", sa.String(20)),
        sa.Column("pay_period", sa.String(10)),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("amount", sa.String(40)),
        sa.Column("currency", sa.String(3)),
        sa.Column("dagster_run_id", sa.String(64)),
        sa.Column("run_url", sa.String(500)),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(200)),
        sa.Column("claimed_until", sa.DateTime(timezone=True)),
        sa.Column("teams_delivered_at", sa.DateTime(timezone=True)),
        sa.Column("teams_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("teams_last_error", sa.Text),
        sa.Column("email_delivered_at", sa.DateTime(timezone=True)),
        sa.Column("email_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("email_last_error", sa.Text),
    )
    op.create_index("ix_alert_outbox_dagster_run_id", "alert_outbox", ["dagster_run_id"])


def downgrade() -> None:
    op.drop_index("ix_alert_outbox_dagster_run_id", table_name="alert_outbox")
    op.drop_table("alert_outbox")
