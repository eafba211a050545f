"""The webhook inbox dead-letters events, and its dedupe key is unique among pending events.

Revision ID: 0003
Revises: 0002

An event whose processing fails for it alone is answered with the reason
(``dead_letter_reason``) instead of failing every batch it rides in. The dedupe key becomes
``company|event|id`` for the one pending event of that key and ``company|event|id#<row id>``
once answered, so a repeat collapses into the pending event by the unique key alone, which is
what makes intake safe when identical deliveries race. Rows from before are re-keyed: the
``|1``, ``|2`` suffixes of repeats after processing go, and pending events of the same key
(those repeats did not collapse) are merged into the oldest, their deliveries added up.

The column is added only if missing, as in 0002.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_inbox = sa.table(
    "webhook_inbox",
    sa.column("id", sa.Integer),
    sa.column("dedupe_key", sa.String),
    sa.column("company_id", sa.String),
    sa.column("event_name", sa.String),
    sa.column("object_id", sa.String),
    sa.column("deliveries", sa.Integer),
    sa.column("processed_at", sa.DateTime),
)


def _has_column() -> bool:
    columns = sa.inspect(op.get_bind()).get_columns("webhook_inbox")
    return any(column["name"] == "dead_letter_reason" for column in columns)


def _rekey() -> None:
    """Every row first gets ``key#<id>`` (unique, in one statement); then the oldest pending
    row of each key takes the plain key, the later pending rows of that key merged into it."""
    db = op.get_bind()
    plain = _inbox.c.company_id + "|" + _inbox.c.event_name + "|" + _inbox.c.object_id
    db.execute(_inbox.update().values(dedupe_key=plain + "#" + sa.cast(_inbox.c.id, sa.String)))
    rows = db.execute(
        sa.select(
            _inbox.c.id,
            _inbox.c.company_id,
            _inbox.c.event_name,
            _inbox.c.object_id,
            _inbox.c.deliveries,
        )
        .where(_inbox.c.processed_at.is_(None))
        .order_by(_inbox.c.id)
    ).all()
    pending: dict[str, list[tuple[int, int]]] = {}
    for row in rows:
        key = f"{row.company_id}|{row.event_name}|{row.object_id}"
        pending.setdefault(key, []).append((row.id, row.deliveries or 1))
    for key, events in pending.items():
        (first, _), *later = events
        if later:
            db.execute(_inbox.delete().where(_inbox.c.id.in_([i for i, _ in later])))
        db.execute(
            _inbox.update()
            .where(_inbox.c.id == first)
            .values(dedupe_key=key, deliveries=sum(n for _, n in events))
        )


def upgrade() -> None:
    if not _has_column():
        with op.batch_alter_table("webhook_inbox") as batch:
            batch.add_column(sa.Column("dead_letter_reason", sa.Text, nullable=True))
    _rekey()


def downgrade() -> None:
    # The keys stay as they are: the old code reads any unique key.
    with op.batch_alter_table("webhook_inbox") as batch:
        batch.drop_column("dead_letter_reason")
