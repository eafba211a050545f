"""The alert outbox in the audit database: enqueue first, deliver later, once per channel.

Never lost: ``enqueue`` commits the alert to the audit database (the same one the journal
trail lives in) and nothing else; sending happens later, from there. A channel that is down
leaves the alert pending; it is tried again with a growing wait, at most
``ML_CONNECTOR_ALERT_MAX_ATTEMPTS`` times per channel.

Never twice: the unique ``dedupe_key`` makes raising the same alert again a no-op, however the
raisers race. A delivering process first takes the row's lease with one conditional UPDATE
(free, or its lease ran out), which exactly one process wins on SQLite (one writer at a time)
and on PostgreSQL (the loser's UPDATE waits for the winner's row lock, then re-checks its WHERE
and matches nothing). Each channel's success is committed right after its send, so a later
failure of the other channel never repeats it. One gap is left, as in any outbox: a process
killed between a send and its commit sends that channel again after the lease (5 minutes).
"""

import datetime as dt
import os
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ml_connector_dagster import clock
from ml_connector_dagster.alerts.channels import Channel, DeliveryError
from ml_connector_dagster.alerts.model import Alert
from ml_connector_dagster.audit.schema import alert_outbox
from ml_connector_dagster.audit.store import AuditStore

CHANNELS = ("teams", "email")  # each has <name>_delivered_at, _attempts, _last_error columns
LEASE = dt.timedelta(minutes=5)  # longer than any send (30 s timeout per channel by default)
FIRST_RETRY = dt.timedelta(seconds=30)
LONGEST_RETRY = dt.timedelta(hours=1)


def _engine(target: AuditStore | Engine) -> Engine:
    """The audit database; an ``Engine`` must already be migrated (open an AuditStore once)."""
    return target.engine if isinstance(target, AuditStore) else target


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite gives datetimes back without their zone: they were stored in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def enqueue(target: AuditStore | Engine, alert: Alert) -> bool:
    """Store ``alert`` for delivery; True when new, False when the same alert is already there.

    Commits at once and sends nothing, so the caller may go on (or fail) without losing it.
    """
    now = clock.now()
    try:
        with _engine(target).begin() as db:
            db.execute(
                alert_outbox.insert().values(
                    dedupe_key=alert.dedupe_key,
                    created_at=now,
                    connection=alert.connection,
                    kind=str(alert.kind),
                    company=alert.company,
                    pay_period=alert.pay_period,
                    summary=alert.summary,
                    amount=str(alert.amount) if alert.amount is not None else None,
                    currency=alert.currency,
                    dagster_run_id=alert.run_id,
                    run_url=alert.run_url,
                    next_attempt_at=now,
                )
            )
    except sa.exc.IntegrityError:
        return False  # the unique key: someone raised this alert first
    return True


def alert_of(row: Any) -> Alert:
    """The alert an outbox row holds."""
    m = row._mapping if hasattr(row, "_mapping") else row
    return Alert(
        kind=m["kind"],
        summary=m["summary"],
        reference=m["dedupe_key"].rsplit("|", 1)[-1],
        company=m["company"],
        pay_period=m["pay_period"],
        amount=Decimal(m["amount"]) if m["amount"] is not None else None,
        currency=m["currency"],
        run_id=m["dagster_run_id"],
        run_url=m["run_url"],
        connection=m["connection"],
    )


def outbox_rows(target: AuditStore | Engine) -> list[dict[str, Any]]:
    """Every outbox row, oldest first, times in UTC (for commands, the UI and tests)."""
    with _engine(target).connect() as db:
        rows = [dict(r._mapping) for r in db.execute(sa.select(alert_outbox).order_by("id"))]
    for row in rows:
        for name, value in row.items():
            if isinstance(value, dt.datetime):
                row[name] = _aware(value)
    return rows


def alerts_for_run(target: AuditStore | Engine, run_id: str) -> list[str]:
    """The kinds of the alerts already raised about a Dagster run."""
    query = sa.select(alert_outbox.c.kind).where(alert_outbox.c.dagster_run_id == run_id)
    with _engine(target).connect() as db:
        return [row.kind for row in db.execute(query)]


@dataclass
class DeliveryReport:
    """What one delivery pass did, per (outbox id, channel)."""

    sent: list[tuple[int, str]] = field(default_factory=list)
    failed: list[tuple[int, str, str]] = field(default_factory=list)  # with the safe error
    gave_up: list[tuple[int, str, str]] = field(default_factory=list)  # last failure allowed

    def describe(self) -> str:
        return (
            f"{len(self.sent)} sent, {len(self.failed)} failed (tried again later),"
            f" {len(self.gave_up)} given up"
        )


def _backoff(attempts: int) -> dt.timedelta:
    """30 s, 1 min, 2 min, ... at most an hour between tries of one alert."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)


class Deliverer:
    """Delivers pending alerts on ``channels``; one owner of leases (this object)."""

    def __init__(
        self,
        target: AuditStore | Engine,
        channels: Sequence[Channel],
        *,
        max_attempts: int = 10,
        lease: dt.timedelta = LEASE,
    ) -> None:
        unknown = [c.name for c in channels if c.name not in CHANNELS]
        if unknown:
            raise ValueError(f"unknown alert channel(s) {unknown}; the outbox has {CHANNELS}")
        self._engine = _engine(target)
        self.channels = list(channels)
        self.max_attempts = max_attempts
        self.lease = lease
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"

    def _owed(self) -> sa.ColumnElement[bool]:
        """A row still owes a send on one of our channels (not sent, tries left)."""
        return sa.or_(
            *(
                sa.and_(
                    alert_outbox.c[f"{c.name}_delivered_at"].is_(None),
                    alert_outbox.c[f"{c.name}_attempts"] < self.max_attempts,
                )
                for c in self.channels
            )
        )

    def _free(self, now: dt.datetime) -> sa.ColumnElement[bool]:
        return sa.or_(alert_outbox.c.claimed_until.is_(None), alert_outbox.c.claimed_until < now)

    def due(self, limit: int = 100) -> list[int]:
        """Ids of the rows that are due now and owe a send (oldest first)."""
        if not self.channels:
            return []
        now = clock.now()
        query = (
            sa.select(alert_outbox.c.id)
            .where(alert_outbox.c.next_attempt_at <= now, self._free(now), self._owed())
            .order_by(alert_outbox.c.id)
            .limit(limit)
        )
        with self._engine.connect() as db:
            return [row.id for row in db.execute(query)]

    def _claim(self, row_id: int) -> Any | None:
        """Take the row's lease (one conditional UPDATE) and read it; None when another has it."""
        now = clock.now()
        with self._engine.begin() as db:
            taken = db.execute(
                alert_outbox.update()
                .where(
                    alert_outbox.c.id == row_id,
                    alert_outbox.c.next_attempt_at <= now,
                    self._free(now),
                    self._owed(),
                )
                .values(claimed_by=self.owner, claimed_until=now + self.lease)
            )
            if taken.rowcount != 1:
                return None
            return db.execute(sa.select(alert_outbox).where(alert_outbox.c.id == row_id)).first()

    def _record(self, row_id: int, **values: Any) -> None:
        """Write to a row we hold the lease of (a lost lease writes nothing)."""
        with self._engine.begin() as db:
            db.execute(
                alert_outbox.update()
                .where(alert_outbox.c.id == row_id, alert_outbox.c.claimed_by == self.owner)
                .values(**values)
            )

    def deliver(self, limit: int = 100) -> DeliveryReport:
        """One pass: every due row we can claim, on every channel it still owes."""
        report = DeliveryReport()
        for row_id in self.due(limit):
            row = self._claim(row_id)
            if row is not None:
                self._deliver_row(row, report)
        return report

    def _deliver_row(self, row: Any, report: DeliveryReport) -> None:
        m = row._mapping
        alert = alert_of(row)
        failures = 0
        try:
            for channel in self.channels:
                name = channel.name
                attempts = m[f"{name}_attempts"]
                if m[f"{name}_delivered_at"] is not None or attempts >= self.max_attempts:
                    continue
                try:
                    channel.send(alert)
                except DeliveryError as exc:
                    error = str(exc)
                except Exception as exc:  # a channel bug: its text may hold anything, so no text
                    error = f"{name}: unexpected {type(exc).__name__}"
                else:
                    self._record(
                        m["id"],
                        **{f"{name}_delivered_at": clock.now(), f"{name}_attempts": attempts + 1},
                    )
                    report.sent.append((m["id"], name))
                    continue
                failures = max(failures, attempts + 1)
                self._record(
                    m["id"], **{f"{name}_attempts": attempts + 1, f"{name}_last_error": error}
                )
                spent = attempts + 1 >= self.max_attempts
                (report.gave_up if spent else report.failed).append((m["id"], name, error))
        finally:
            release: dict[str, Any] = {"claimed_by": None, "claimed_until": None}
            if failures:
                release["next_attempt_at"] = clock.now() + _backoff(failures)
            self._record(m["id"], **release)
