"""Finance approvals of journals before posting, and who triggered each posting attempt.

Revision ID: 0005
Revises: 0004

``approval_decisions``: one row per approval or rejection of a pay period x company, with the
payload hash of every journal it binds to and the mapping it was built with; append-only like
the trail (the same guards as 0001), because an approval is evidence finance may be asked for.
``posting_attempts`` gains ``triggered_by`` (the run's launcher) and ``approval_id`` (the
approval a write was made under). Columns are added only if missing, as in 0002.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "approval_decisions"
NEW_COLUMNS = (
    ("triggered_by", sa.String(300)),
    ("approval_id", sa.Integer()),
)


def _columns(table: str) -> set[str]:
    return {column["name"] for column in sa.inspect(op.get_bind()).get_columns(table)}


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("connection", sa.String(100), nullable=False),
        sa.Column("pay_period", sa.String(10), nullable=False),
        sa.Column("company", sa.String(20), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=False),
        sa.Column("note", sa.Text()),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload_hashes", sa.JSON(), nullable=False),
        sa.Column("mapping_hash", sa.String(64), nullable=False),
        sa.Column("via", sa.String(200)),
        sa.Column("dagster_run_id", sa.String(64)),
        if_not_exists=True,
    )
    op.create_index(
        "ix_approval_decisions_partition",
        TABLE,
        ["connection", "pay_period", "company"],
        if_not_exists=True,
    )
    _append_only()
    present = _columns("posting_attempts")
    for name, type_ in NEW_COLUMNS:
        if name not in present:
            # A plain ADD COLUMN (no batch copy): the table's append-only triggers stay.
            op.add_column("posting_attempts", sa.Column(name, type_))


def downgrade() -> None:
    with op.batch_alter_table("posting_attempts", recreate="never") as batch:
        for name, _ in reversed(NEW_COLUMNS):
            batch.drop_column(name)
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_{verb}")
    elif dialect == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}")
    op.drop_index("ix_approval_decisions_partition", table_name=TABLE)
    op.drop_table(TABLE)


def _append_only() -> None:
    """The table refuses UPDATE and DELETE, as the trail does (0001's guards)."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER IF NOT EXISTS {TABLE}_no_{verb.lower()} BEFORE {verb}"
                f" ON {TABLE} BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only'); END"
            )
    elif dialect == "postgresql":
        # ml_connector_append_only() is 0001's; replaced here too, so the order never matters.
        op.execute(
            "CREATE OR REPLACE FUNCTION ml_connector_append_only() RETURNS trigger"
            " LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;"
            " END $$"
        )
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}")
        op.execute(
            f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE}"
            " FOR EACH ROW EXECUTE FUNCTION ml_connector_append_only()"
        )
