"""The audit schema as ``metadata.create_all`` made it before migrations existed.

Revision ID: 0001
Revises:

Tables, indexes and the append-only triggers on ``posting_attempts`` and ``workforce_actions``.
Everything is created only if missing (``IF NOT EXISTS``, idempotent triggers): this revision
also adopts databases that ``create_all`` made, keeping their tables and rows and adding only
what an older release lacked (``journal_claims`` arrived after the other tables). Later
revisions are ordinary: by then every database has been through this one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("posting_attempts", "workforce_actions")

# (table, column) pairs that carry a plain index, named as create_all named them.
INDEXES = (
    ("posting_attempts", "journal_key"),
    ("posting_attempts", "payroll_run_id"),
    ("posting_attempts", "pay_period"),
    ("worker_map", "personnel_number"),
    ("worker_map", "rippling_user_id"),
    ("workforce_actions", "rippling_worker_id"),
)


def upgrade() -> None:
    op.create_table(
        "posting_attempts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("connection", sa.String(100), nullable=False),
        sa.Column("dagster_run_id", sa.String(64)),
        sa.Column("partition_key", sa.String(200)),
        sa.Column("journal_key", sa.String(32), nullable=False),
        sa.Column("payroll_run_id", sa.String(100), nullable=False),
        sa.Column("company", sa.String(20), nullable=False),
        sa.Column("journal_type", sa.String(20), nullable=False),
        sa.Column("pay_period", sa.String(10)),
        sa.Column("payload_hash", sa.String(64)),
        sa.Column("source_record_ids", sa.JSON()),
        sa.Column("outcome", sa.String(30), nullable=False),
        sa.Column("journal_batch_number", sa.String(50)),
        sa.Column("dynamics_answer", sa.Text()),
        sa.Column("total_debit", sa.String(40)),
        sa.Column("total_credit", sa.String(40)),
        sa.Column("line_count", sa.Integer()),
        if_not_exists=True,
    )
    op.create_table(
        "journal_identities",
        sa.Column("journal_key", sa.String(32), primary_key=True),
        sa.Column("connection", sa.String(100), nullable=False),
        sa.Column("payroll_run_id", sa.String(100), nullable=False),
        sa.Column("company", sa.String(20), nullable=False),
        sa.Column("journal_type", sa.String(20), nullable=False),
        sa.Column("pay_period", sa.String(10)),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(30), nullable=False),
        sa.Column("journal_batch_numbers", sa.JSON()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        if_not_exists=True,
    )
    op.create_table(
        "webhook_inbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("dedupe_key", sa.String(300), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("company_id", sa.String(100), nullable=False),
        sa.Column("event_name", sa.String(100), nullable=False),
        sa.Column("object_id", sa.String(100), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("dedupe_key"),
        if_not_exists=True,
    )
    op.create_table(
        "worker_map",
        sa.Column("rippling_worker_id", sa.String(100), primary_key=True),
        sa.Column("personnel_number", sa.String(50), nullable=False),
        sa.Column("rippling_user_id", sa.String(100)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        if_not_exists=True,
    )
    op.create_table(
        "journal_claims",
        sa.Column("journal_key", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        if_not_exists=True,
    )
    op.create_table(
        "workforce_actions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("connection", sa.String(100), nullable=False),
        sa.Column("dagster_run_id", sa.String(64)),
        sa.Column("rippling_worker_id", sa.String(100)),
        sa.Column("personnel_number", sa.String(50)),
        sa.Column("company", sa.String(20)),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("request", sa.JSON()),
        sa.Column("outcome", sa.String(30), nullable=False),
        sa.Column("dynamics_answer", sa.Text()),
        if_not_exists=True,
    )
    for table, column in INDEXES:
        op.create_index(f"ix_{table}_{column}", table, [column], if_not_exists=True)
    _install_append_only_guards()


def downgrade() -> None:
    _drop_append_only_guards()
    for table, column in INDEXES:
        op.drop_index(f"ix_{table}_{column}", table_name=table)
    for table in (
        "workforce_actions",
        "journal_claims",
        "worker_map",
        "webhook_inbox",
        "journal_identities",
        "posting_attempts",
    ):
        op.drop_table(table)


def _install_append_only_guards() -> None:
    """Triggers that make the trail tables refuse UPDATE and DELETE (the finance trail)."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in APPEND_ONLY:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()} BEFORE {verb}"
                    f" ON {table} BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )
    elif dialect == "postgresql":
        # op.execute sends the text as is (no parameters), so "%" needs no doubling here.
        op.execute(
            "CREATE OR REPLACE FUNCTION ml_connector_append_only() RETURNS trigger"
            " LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;"
            " END $$"
        )
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
                " FOR EACH ROW EXECUTE FUNCTION ml_connector_append_only()"
            )


def _drop_append_only_guards() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in APPEND_ONLY:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
    elif dialect == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS ml_connector_append_only()")
