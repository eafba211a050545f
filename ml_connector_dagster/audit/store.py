"""The audit store: journal identities, every posting attempt, the webhook inbox, the worker map.

Journal identities are recorded *before* anything is written to Dynamics, so a crash between
the write and the bookkeeping can always be recovered: the identity's marker is also stamped in
the Dynamics header, and a replay looks there when the local state is unsure or lost.
"""

import contextlib
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ml_connector_dagster.audit import approvals
from ml_connector_dagster.audit.approvals import Approvals
from ml_connector_dagster.audit.claims import JournalClaims
from ml_connector_dagster.audit.migrate import upgrade_to_head
from ml_connector_dagster.audit.owner import AuditOwnerError, claim_owner
from ml_connector_dagster.audit.schema import (
    journal_identities,
    posting_attempts,
    webhook_inbox,
    worker_map,
    workforce_actions,
)

# An event whose worker Dynamics refuses this many syncs in a row is dead-lettered (the daily
# full sync still tries the worker). Not a setting: no deployment has asked to tune it.
MAX_REFUSED_SYNCS = 5


class Outcome(StrEnum):
    """Outcomes of a posting attempt, as finance reads them in the trail (stored as text)."""

    # The journal was written to F&O (header and lines). Not "posted": finance posts it in F&O.
    CREATED = "created"
    SKIPPED_DUPLICATE = "skipped-duplicate"
    FAILED = "failed"
    BLOCKED_BY_CHECK = "blocked-by-check"  # a check failed: nothing was written
    CHANGED_AFTER_POSTING = "changed-after-posting"  # Rippling differs from what F&O holds
    CORRECTION_PROPOSED = "correction-proposed"  # a dry run showed finance what would change
    CORRECTED = "corrected"  # finance applied it: lines replaced, or a correcting journal
    # journal.approval: required, and no approval binds to this content: nothing was written
    AWAITING_APPROVAL = approvals.AWAITING_APPROVAL
    STARTED = "started"


class IdentityState(StrEnum):
    PENDING = "pending"  # recorded, nothing written yet (or unknown after a crash)
    HEADER_CREATED = "header-created"  # header exists in Dynamics, lines not (all) there
    COMPLETE = "complete"  # header and every line in Dynamics
    POSTED = "posted"  # finance posted it in F&O: never touched again


@dataclass(frozen=True)
class Unfinished:
    """A journal identity that did not reach a final state (see ``AuditStore.unfinished``)."""

    journal_key: str
    partition_key: str
    payroll_run_id: str
    state: str
    last_outcome: str
    why: str


@dataclass(frozen=True)
class IdentityRecord:
    journal_key: str
    connection: str
    payroll_run_id: str
    company: str
    journal_type: str
    pay_period: str | None
    payload_hash: str
    state: str
    journal_batch_numbers: tuple[str, ...]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class AuditStore:
    def __init__(
        self,
        url: str,
        clock: Callable[[], dt.datetime] = _utcnow,
        connection: str | None = None,
    ) -> None:
        """Open (and migrate) the store; with ``connection``, refuse another connection's."""
        self.url = url
        self._clock = clock
        connect_args = {"timeout": 30} if url.startswith("sqlite") else {}
        self.engine: Engine = sa.create_engine(url, connect_args=connect_args, pool_pre_ping=True)
        # Tables and guards come from the migrations, applied by whichever process opens first.
        upgrade_to_head(self.engine)
        if connection is not None:
            try:
                claim_owner(self.engine, connection, self._clock, self._shown_url())
            except AuditOwnerError:
                self.engine.dispose()
                raise
        # Exclusive, leased claims on journals (one poster at a time across processes).
        self.claims = JournalClaims(self.engine, self._clock)
        # Finance's approvals and rejections, bound to journal content (``approvals.py``).
        self.approvals = Approvals(self.engine, self._clock)

    def _shown_url(self) -> str:
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"AuditStore(url={self._shown_url()!r})"

    def dispose(self) -> None:
        self.engine.dispose()

    # --- journal identities -------------------------------------------------------------------
    def claim_identity(
        self,
        *,
        journal_key: str,
        connection: str,
        payroll_run_id: str,
        company: str,
        journal_type: str,
        pay_period: str | None,
        payload_hash: str,
    ) -> IdentityRecord:
        """The identity's record, created as PENDING if this is its first attempt.

        Two processes may record the same identity at the same moment: the primary key lets
        one insert win, and the other reads the winner's row.
        """
        now = self._clock()
        with contextlib.suppress(sa.exc.IntegrityError), self.engine.begin() as db:
            existing = db.execute(
                sa.select(journal_identities).where(journal_identities.c.journal_key == journal_key)
            ).first()
            if existing is None:
                db.execute(
                    journal_identities.insert().values(
                        journal_key=journal_key,
                        connection=connection,
                        payroll_run_id=payroll_run_id,
                        company=company,
                        journal_type=journal_type,
                        pay_period=pay_period,
                        payload_hash=payload_hash,
                        state=IdentityState.PENDING,
                        journal_batch_numbers=[],
                        created_at=now,
                        updated_at=now,
                    )
                )
        found = self.identity(journal_key)
        assert found is not None
        return found

    def identity(self, journal_key: str) -> IdentityRecord | None:
        with self.engine.connect() as db:
            row = db.execute(
                sa.select(journal_identities).where(journal_identities.c.journal_key == journal_key)
            ).first()
        return _identity(row) if row else None

    def identities(self, pay_period: str | None = None) -> list[IdentityRecord]:
        query = sa.select(journal_identities).order_by(journal_identities.c.created_at)
        if pay_period:
            query = query.where(journal_identities.c.pay_period == pay_period)
        with self.engine.connect() as db:
            return [_identity(row) for row in db.execute(query)]

    def update_identity(
        self,
        journal_key: str,
        *,
        state: str,
        journal_batch_numbers: Iterable[str] | None = None,
        payload_hash: str | None = None,
    ) -> None:
        values: dict[str, Any] = {"state": state, "updated_at": self._clock()}
        if journal_batch_numbers is not None:
            values["journal_batch_numbers"] = list(journal_batch_numbers)
        if payload_hash is not None:
            values["payload_hash"] = payload_hash
        with self.engine.begin() as db:
            db.execute(
                journal_identities.update()
                .where(journal_identities.c.journal_key == journal_key)
                .values(**values)
            )

    # --- the trail ----------------------------------------------------------------------------
    def record_attempt(self, **fields: Any) -> int:
        """Append one attempt; returns its id. Nothing ever updates or deletes it."""
        fields.setdefault("at", self._clock())
        with self.engine.begin() as db:
            result = db.execute(posting_attempts.insert().values(**fields))
            return int(result.inserted_primary_key[0])

    def attempts(
        self,
        *,
        pay_period: str | None = None,
        journal_key: str | None = None,
        payroll_run_id: str | None = None,
        journal_batch_number: str | None = None,
    ) -> list[dict[str, Any]]:
        query = sa.select(posting_attempts).order_by(posting_attempts.c.id)
        for column, value in (
            (posting_attempts.c.pay_period, pay_period),
            (posting_attempts.c.journal_key, journal_key),
            (posting_attempts.c.payroll_run_id, payroll_run_id),
            (posting_attempts.c.journal_batch_number, journal_batch_number),
        ):
            if value is not None:
                query = query.where(column == value)
        with self.engine.connect() as db:
            return [dict(row._mapping) for row in db.execute(query)]

    def failed_partitions(self) -> list[str]:
        """Partitions with an identity that did not finish (what ``replay`` re-runs)."""
        return sorted({row.partition_key for row in self.unfinished() if row.partition_key})

    def unfinished(self) -> list["Unfinished"]:
        """Every journal identity not in a final state, with its latest attempt.

        Unfinished: its latest attempt failed or was blocked by a check (replay once the cause
        is fixed), or it was claimed or its header created with no attempt recorded after
        (a crash between the claim and the end). Final: complete, posted, nothing to post, or
        changed after posting (that one needs a correction, not a replay). Waiting for
        approval is neither: nothing to replay until finance decides
        (``approvals.awaiting_approval``).
        """
        latest = (
            sa.select(sa.func.max(posting_attempts.c.id))
            .where(posting_attempts.c.outcome != Outcome.STARTED)
            .group_by(posting_attempts.c.journal_key)
        )
        with self.engine.connect() as db:
            attempts = {
                row.journal_key: row
                for row in db.execute(
                    sa.select(posting_attempts).where(posting_attempts.c.id.in_(latest))
                )
            }
            identities = {row.journal_key: row for row in db.execute(sa.select(journal_identities))}
        result = []
        for key in sorted(set(attempts) | set(identities)):
            attempt, identity = attempts.get(key), identities.get(key)
            state = identity.state if identity is not None else None
            outcome = attempt.outcome if attempt is not None else None
            if outcome in (Outcome.FAILED, Outcome.BLOCKED_BY_CHECK) or (
                outcome is None and state in (IdentityState.PENDING, IdentityState.HEADER_CREATED)
            ):
                source = attempt if attempt is not None else identity
                partition = (
                    attempt.partition_key
                    if attempt is not None
                    else f"{identity.company}|{identity.pay_period}"
                )
                result.append(
                    Unfinished(
                        journal_key=key,
                        partition_key=partition,
                        payroll_run_id=source.payroll_run_id,
                        state=state or "not claimed",
                        last_outcome=outcome or "none recorded (interrupted)",
                        why=(attempt.dynamics_answer or "") if attempt is not None else "",
                    )
                )
        return result

    # --- webhook inbox ------------------------------------------------------------------------
    # ``dedupe_key`` is ``company|event|id`` for the one *pending* event of that key, and that
    # plus ``#<row id>`` once the event is answered (processed or dead-lettered). The unique
    # constraint then means "at most one pending event per key", and the database itself makes
    # identical deliveries collapse, however they race.
    @staticmethod
    def _inbox_key(company_id: str, event_name: str, object_id: str) -> str:
        return f"{company_id}|{event_name}|{object_id}"

    def enqueue_webhook(self, company_id: str, event_name: str, object_id: str) -> bool:
        """Store an event durably; returns True when it is new, False for a repeat.

        A repeat of a *pending* event collapses into it (its ``deliveries`` count goes up). A
        delivery after the event was answered (processed or dead-lettered) is a new pending
        event: Rippling sends one event per change, so it may announce a change made after the
        sync that answered the first one, and the worker must be re-read again.

        Safe under concurrency on SQLite and PostgreSQL: the repeat is an UPDATE of the pending
        row by its unique key; only when there is none is a row inserted, and an insert that
        loses a race on the key (``IntegrityError``) is retried as the repeat it turned out to
        be. No read-then-write inside one transaction, so SQLite never has to upgrade a read
        lock (which fails at once, without waiting for the busy timeout).
        """
        key = self._inbox_key(company_id, event_name, object_id)
        for _ in range(5):  # each lap loses a race to another delivery that then was answered
            with self.engine.begin() as db:
                repeat = db.execute(
                    webhook_inbox.update()
                    .where(webhook_inbox.c.dedupe_key == key)
                    .values(deliveries=webhook_inbox.c.deliveries + 1)
                )
                if repeat.rowcount:
                    return False
            try:
                with self.engine.begin() as db:
                    db.execute(
                        webhook_inbox.insert().values(
                            dedupe_key=key,
                            received_at=self._clock(),
                            company_id=company_id,
                            event_name=event_name,
                            object_id=object_id,
                            deliveries=1,
                        )
                    )
                return True
            except sa.exc.IntegrityError:
                continue  # an identical delivery inserted it first: count this one on it
        raise RuntimeError(f"webhook inbox: could not store or count the event {key!r}")

    def pending_webhooks(self, limit: int = 1000) -> list[dict[str, Any]]:
        query = (
            sa.select(webhook_inbox)
            .where(webhook_inbox.c.processed_at.is_(None))
            .order_by(webhook_inbox.c.id)
            .limit(limit)
        )
        with self.engine.connect() as db:
            return [dict(row._mapping) for row in db.execute(query)]

    def webhooks(self, ids: Iterable[int]) -> list[dict[str, Any]]:
        """The inbox rows with these ids, in id order, answered or not."""
        ids = list(ids)
        if not ids:
            return []
        query = sa.select(webhook_inbox).where(webhook_inbox.c.id.in_(ids))
        with self.engine.connect() as db:
            return [dict(row._mapping) for row in db.execute(query.order_by(webhook_inbox.c.id))]

    def _answer_webhooks(self, ids: Iterable[int], **values: Any) -> None:
        """Mark pending events answered and free their key for a later delivery."""
        ids = list(ids)
        if not ids:
            return
        freed = webhook_inbox.c.dedupe_key + "#" + sa.cast(webhook_inbox.c.id, sa.String)
        with self.engine.begin() as db:
            db.execute(
                webhook_inbox.update()
                .where(webhook_inbox.c.id.in_(ids), webhook_inbox.c.processed_at.is_(None))
                .values(processed_at=self._clock(), dedupe_key=freed, **values)
            )

    def mark_webhooks_processed(self, ids: Iterable[int]) -> None:
        """The events were answered by a sync (an already answered one is left as it is)."""
        self._answer_webhooks(ids)

    def dead_letter_webhooks(self, ids: Iterable[int], reason: str) -> None:
        """Answer events without a sync, keeping why: processing them failed for them alone,
        so they must not stay pending and ride along (and fail) in every later batch."""
        self._answer_webhooks(ids, dead_letter_reason=reason or "no reason given")

    def note_refused_syncs(self, reasons: Mapping[int, str]) -> dict[int, str]:
        """Count one more sync in which Dynamics refused a write of each event's worker; the
        events that reach ``MAX_REFUSED_SYNCS`` are dead-lettered with the last refusal, and
        returned (id -> reason). Answered events are left as they are.

        Only refusals count: an outage or an unknown outcome says nothing about the event, and
        counting them would dead-letter innocent events after a few bad hours.
        """
        if not reasons:
            return {}
        with self.engine.begin() as db:
            db.execute(
                webhook_inbox.update()
                .where(
                    webhook_inbox.c.id.in_(list(reasons)), webhook_inbox.c.processed_at.is_(None)
                )
                .values(refused_syncs=webhook_inbox.c.refused_syncs + 1)
            )
            spent = [
                row.id
                for row in db.execute(
                    sa.select(webhook_inbox.c.id).where(
                        webhook_inbox.c.id.in_(list(reasons)),
                        webhook_inbox.c.processed_at.is_(None),
                        webhook_inbox.c.refused_syncs >= MAX_REFUSED_SYNCS,
                    )
                )
            ]
        dead = {
            i: f"Dynamics refused this worker's write in {MAX_REFUSED_SYNCS} syncs in a row;"
            f" last: {reasons[i]}"[:2000]
            for i in spent
        }
        for inbox_id, reason in dead.items():
            self.dead_letter_webhooks([inbox_id], reason)
        return dead

    def dead_webhooks(self, limit: int = 1000) -> list[dict[str, Any]]:
        """Dead-lettered events, newest first (what someone should look at)."""
        query = (
            sa.select(webhook_inbox)
            .where(webhook_inbox.c.dead_letter_reason.is_not(None))
            .order_by(webhook_inbox.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as db:
            return [dict(row._mapping) for row in db.execute(query)]

    # --- worker map ---------------------------------------------------------------------------
    def personnel_number(self, rippling_worker_id: str) -> str | None:
        with self.engine.connect() as db:
            row = db.execute(
                sa.select(worker_map.c.personnel_number).where(
                    worker_map.c.rippling_worker_id == rippling_worker_id
                )
            ).first()
        return row[0] if row else None

    def personnel_number_for_user(self, rippling_user_id: str) -> str | None:
        """A rehire under a new worker id keeps the person's number (matched by user id)."""
        with self.engine.connect() as db:
            row = db.execute(
                sa.select(worker_map.c.personnel_number)
                .where(worker_map.c.rippling_user_id == rippling_user_id)
                .order_by(worker_map.c.created_at)
            ).first()
        return row[0] if row else None

    def map_worker(
        self, rippling_worker_id: str, personnel_number: str, rippling_user_id: str | None
    ) -> None:
        now = self._clock()
        with self.engine.begin() as db:
            exists = db.execute(
                sa.select(worker_map.c.rippling_worker_id).where(
                    worker_map.c.rippling_worker_id == rippling_worker_id
                )
            ).first()
            if exists:
                db.execute(
                    worker_map.update()
                    .where(worker_map.c.rippling_worker_id == rippling_worker_id)
                    .values(
                        personnel_number=personnel_number,
                        rippling_user_id=rippling_user_id,
                        updated_at=now,
                    )
                )
            else:
                db.execute(
                    worker_map.insert().values(
                        rippling_worker_id=rippling_worker_id,
                        personnel_number=personnel_number,
                        rippling_user_id=rippling_user_id,
                        created_at=now,
                        updated_at=now,
                    )
                )

    def map_vendor(self, rippling_worker_id: str, vendor_account: str) -> bool:
        """Record a contractor's vendor account on the worker's map row (F&O may have assigned
        it, so the template cannot find it again). False when the worker is not mapped."""
        with self.engine.begin() as db:
            result = db.execute(
                worker_map.update()
                .where(worker_map.c.rippling_worker_id == rippling_worker_id)
                .values(vendor_account=vendor_account, updated_at=self._clock())
            )
            return bool(result.rowcount)

    def vendor_account(self, rippling_worker_id: str) -> str | None:
        with self.engine.connect() as db:
            row = db.execute(
                sa.select(worker_map.c.vendor_account).where(
                    worker_map.c.rippling_worker_id == rippling_worker_id
                )
            ).first()
        return row[0] if row else None

    def worker_mappings(self) -> dict[str, str]:
        with self.engine.connect() as db:
            return {
                row[0]: row[1]
                for row in db.execute(
                    sa.select(worker_map.c.rippling_worker_id, worker_map.c.personnel_number)
                )
            }

    def record_workforce_action(self, **fields: Any) -> int:
        fields.setdefault("at", self._clock())
        with self.engine.begin() as db:
            result = db.execute(workforce_actions.insert().values(**fields))
            return int(result.inserted_primary_key[0])

    def workforce_actions(self, rippling_worker_id: str | None = None) -> list[dict[str, Any]]:
        query = sa.select(workforce_actions).order_by(workforce_actions.c.id)
        if rippling_worker_id:
            query = query.where(workforce_actions.c.rippling_worker_id == rippling_worker_id)
        with self.engine.connect() as db:
            return [dict(row._mapping) for row in db.execute(query)]


def _identity(row: Any) -> IdentityRecord:
    m = row._mapping
    return IdentityRecord(
        journal_key=m["journal_key"],
        connection=m["connection"],
        payroll_run_id=m["payroll_run_id"],
        company=m["company"],
        journal_type=m["journal_type"],
        pay_period=m["pay_period"],
        payload_hash=m["payload_hash"],
        state=m["state"],
        journal_batch_numbers=tuple(m["journal_batch_numbers"] or ()),
    )
