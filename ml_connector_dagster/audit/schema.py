"""The audit store's tables (SQLAlchemy Core), on SQLite by default and PostgreSQL by URL.

``posting_attempts`` and ``workforce_actions`` are append-only: the database itself refuses
UPDATE and DELETE on them (a trigger on both engines, installed by migration 0001), because
Dagster's event log can be deleted and finance needs a trail that cannot.
``journal_identities`` holds the current state of each journal identity; ``webhook_inbox`` the
durable inbox (its ``dedupe_key`` is unique among *pending* events only: an answered event's key
gets its row id appended, see ``AuditStore.enqueue_webhook``); ``worker_map`` the Rippling id
to PersonnelNumber map that survives renames.
``approval_decisions`` (append-only too) holds every finance approval or rejection of a pay
period x company, with the journal contents (payload hashes) it binds to (``approvals.py``).
``journal_claims`` holds at most one row per journal key: the row is the lock that lets one
process at a time post that journal (see ``claims.py``).
``audit_owner`` names the one connection the database serves (``owner.py``).
``stored_values`` holds the IO manager's sealed asset values when the shared backend is chosen
(``ML_CONNECTOR_STORAGE_URL``); declared by ``storage/database.py``, which uses it.

The database gets these tables from the migrations (``audit/migrate.py``), never from
``metadata.create_all``; this metadata is what the queries use and what autogenerate compares
against, and a test checks that the migrations produce exactly it.
"""

import sqlalchemy as sa

from ml_connector_dagster.storage.database import STORED_VALUES

metadata = sa.MetaData()

posting_attempts = sa.Table(
    "posting_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("connection", sa.String(100), nullable=False),
    sa.Column("dagster_run_id", sa.String(64)),
    sa.Column("partition_key", sa.String(200)),
    sa.Column("journal_key", sa.String(32), nullable=False, index=True),
    sa.Column("payroll_run_id", sa.String(100), nullable=False, index=True),
    sa.Column("company", sa.String(20), nullable=False),
    sa.Column("journal_type", sa.String(20), nullable=False),
    sa.Column("pay_period", sa.String(10), index=True),
    sa.Column("payload_hash", sa.String(64)),
    sa.Column("source_record_ids", sa.JSON),
    sa.Column("outcome", sa.String(30), nullable=False),
    sa.Column("journal_batch_number", sa.String(50)),
    sa.Column("dynamics_answer", sa.Text),
    sa.Column("total_debit", sa.String(40)),
    sa.Column("total_credit", sa.String(40)),
    sa.Column("line_count", sa.Integer),
    # Who launched the run that made this attempt (a sensor, a backfill, ``ml-connector`` and
    # the OS user, a UI launch) and the approval it wrote under, if any: migration 0005.
    sa.Column("triggered_by", sa.String(300)),
    sa.Column("approval_id", sa.Integer),
)

journal_identities = sa.Table(
    "journal_identities",
    metadata,
    sa.Column("journal_key", sa.String(32), primary_key=True),
    sa.Column("connection", sa.String(100), nullable=False),
    sa.Column("payroll_run_id", sa.String(100), nullable=False),
    sa.Column("company", sa.String(20), nullable=False),
    sa.Column("journal_type", sa.String(20), nullable=False),
    sa.Column("pay_period", sa.String(10)),
    sa.Column("payload_hash", sa.String(64), nullable=False),
    sa.Column("state", sa.String(30), nullable=False),
    sa.Column("journal_batch_numbers", sa.JSON),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

webhook_inbox = sa.Table(
    "webhook_inbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dedupe_key", sa.String(300), nullable=False, unique=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("company_id", sa.String(100), nullable=False),
    sa.Column("event_name", sa.String(100), nullable=False),
    sa.Column("object_id", sa.String(100), nullable=False),
    sa.Column("deliveries", sa.Integer, nullable=False, default=1),
    sa.Column("processed_at", sa.DateTime(timezone=True)),
    # Set when the event was dead-lettered (answered without a sync: processing it failed for
    # it alone), with why; migration 0003.
    sa.Column("dead_letter_reason", sa.Text),
    # Syncs in which Dynamics refused a write of this event's worker (migration 0004); at
    # ``store.MAX_REFUSED_SYNCS`` the event is dead-lettered instead of riding along for ever.
    sa.Column("refused_syncs", sa.Integer, nullable=False, default=0, server_default="0"),
)

worker_map = sa.Table(
    "worker_map",
    metadata,
    sa.Column("rippling_worker_id", sa.String(100), primary_key=True),
    sa.Column("personnel_number", sa.String(50), nullable=False, index=True),
    sa.Column("rippling_user_id", sa.String(100), index=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    # A contractor's vendor account (assigned by F&O's number sequence or by the template);
    # migration 0002.
    sa.Column("vendor_account", sa.String(50)),
)

# The primary key is the lock: inserting the row is acquiring it, so exclusivity comes from the
# database, across processes and Dagster instances that share it.
journal_claims = sa.Table(
    "journal_claims",
    metadata,
    sa.Column("journal_key", sa.String(32), primary_key=True),
    sa.Column("owner", sa.String(200), nullable=False),  # "<host>:<pid>:<random hex>"
    sa.Column("host", sa.String(200), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
)

workforce_actions = sa.Table(
    "workforce_actions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("connection", sa.String(100), nullable=False),
    sa.Column("dagster_run_id", sa.String(64)),
    sa.Column("rippling_worker_id", sa.String(100), index=True),
    sa.Column("personnel_number", sa.String(50)),
    sa.Column("company", sa.String(20)),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("request", sa.JSON),
    sa.Column("outcome", sa.String(30), nullable=False),
    sa.Column("dynamics_answer", sa.Text),
)

# The alert outbox (``alerts/outbox.py``, migration 0006): an alert is a row here before any
# channel is tried, so none is lost; ``dedupe_key`` is unique, so the same alert raised twice
# (two processes, a retried step) is one row. Each channel has its own delivery columns, so a
# Teams post that went out is never repeated because the e-mail failed. ``claimed_by`` /
# ``claimed_until`` are the delivery lease: a conditional UPDATE takes it, so two delivering
# processes never send the same row.
alert_outbox = sa.Table(
    "alert_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dedupe_key", sa.String(300), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("connection", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(30), nullable=False),
    sa.Column("company", sa.String(20)),
    sa.Column("pay_period", sa.String(10)),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("amount", sa.String(40)),  # a Decimal as text, never a float
    sa.Column("currency", sa.String(3)),
    sa.Column("dagster_run_id", sa.String(64), index=True),
    sa.Column("run_url", sa.String(500)),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("claimed_by", sa.String(200)),
    sa.Column("claimed_until", sa.DateTime(timezone=True)),
    sa.Column("teams_delivered_at", sa.DateTime(timezone=True)),
    sa.Column("teams_attempts", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("teams_last_error", sa.Text),
    sa.Column("email_delivered_at", sa.DateTime(timezone=True)),
    sa.Column("email_attempts", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("email_last_error", sa.Text),
)


approval_decisions = sa.Table(
    "approval_decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("connection", sa.String(100), nullable=False),
    sa.Column("pay_period", sa.String(10), nullable=False),
    sa.Column("company", sa.String(20), nullable=False),
    sa.Column("decision", sa.String(20), nullable=False),  # approved | rejected
    sa.Column("decided_by", sa.String(200), nullable=False),
    sa.Column("note", sa.Text),  # the approver's note, or the reason of a rejection
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    # journal identity key -> payload hash of every journal the decision is about
    sa.Column("payload_hashes", sa.JSON, nullable=False),
    sa.Column("mapping_hash", sa.String(64), nullable=False),
    sa.Column("via", sa.String(200)),  # "ml-connector approve (user)", "Dagster job ..."
    sa.Column("dagster_run_id", sa.String(64)),
    sa.Index("ix_approval_decisions_partition", "connection", "pay_period", "company"),
)

# The connection the database belongs to: one row (``audit/owner.py``).
audit_owner = sa.Table(
    "audit_owner",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("connection", sa.String(100), nullable=False),
    sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
)

# The stored values' table, declared where it is used; a copy here so the migrations are
# compared against it like every other table.
stored_values = STORED_VALUES.to_metadata(metadata)
