"""Finance approvals of a pay period x company before its journals are written to F&O.

With ``journal.approval: required`` in the mapping, a journal is written only under an approval
that binds to exactly its content. A decision (approved or rejected) is one append-only row: who,
when, the note or reason, and what it binds to: the payload hash of every journal of the
partition (journal identity key -> ``Journal.payload_hash()``) and the mapping's content hash.

The rule (``approval_applies``) is pure and strict: the latest decision applies only if it is an
approval AND its set of (identity key -> payload hash) equals the journals about to be written
AND they were built with the same mapping. A changed amount, account, date, a journal more or
less, another mapping version: the approval no longer applies, and the partition waits for a new
one. A rejection stops the partition until a later approval. Only the latest decision counts.

The mapping hash is bound as well as the payload hashes because a line's F&O text depends on
the mapping beyond what the payload hash covers (journal name, dimension display format):
"if Rippling or the mapping changes after approval, the approval no longer applies".
"""

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ml_connector_dagster.audit.schema import approval_decisions, posting_attempts

# The posting-trail outcome of a journal that passed its checks and waits for approval. It is
# defined here (and re-exported as ``store.Outcome.AWAITING_APPROVAL``'s value) because the
# queries below look for it.
AWAITING_APPROVAL = "awaiting-approval"


class Decision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class ApprovalDecision:
    """One recorded decision."""

    id: int
    connection: str
    pay_period: str
    company: str
    decision: Decision
    decided_by: str
    note: str
    decided_at: dt.datetime
    payload_hashes: Mapping[str, str]
    mapping_hash: str
    via: str = ""
    dagster_run_id: str | None = None

    def describe(self) -> str:
        """ "approved by Ana Ruiz on 2026-11-20 09:15 UTC (approval 3): note" for the trail."""
        when = self.decided_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        note = f": {self.note}" if self.note else ""
        return f"{self.decision.value} by {self.decided_by} on {when} (decision {self.id}){note}"


def approval_applies(
    decision: ApprovalDecision | None, bound: Mapping[str, str], mapping_hash: str
) -> tuple[bool, str]:
    """(applies, why): whether ``decision`` lets exactly these journals be written.

    ``bound``: journal identity key -> payload hash of every journal of the partition now;
    ``mapping_hash``: the mapping they were built with. Pure: no clock, no database.
    """
    if decision is None:
        return False, "not approved: no approval recorded for this pay period and company"
    if decision.decision is Decision.REJECTED:
        reason = f": {decision.note}" if decision.note else ""
        return False, f"rejected by {decision.decided_by}{reason}"
    if decision.decision is not Decision.APPROVED:
        return False, f"not approved: unknown decision {decision.decision!r}"
    if dict(decision.payload_hashes) != dict(bound):
        return False, (
            "approved content changed: Rippling or the mapping changed after approval"
            f" ({_difference(decision.payload_hashes, bound)}); approve the new content"
        )
    if decision.mapping_hash != mapping_hash:
        return False, (
            "approved content changed: the mapping file changed after approval"
            f" (approved with {decision.mapping_hash[:12]}, now {mapping_hash[:12]});"
            " approve the new content"
        )
    return True, decision.describe()


def _difference(approved: Mapping[str, str], now: Mapping[str, str]) -> str:
    added = sorted(set(now) - set(approved))
    gone = sorted(set(approved) - set(now))
    changed = sorted(k for k in set(now) & set(approved) if now[k] != approved[k])
    parts = []
    if changed:
        parts.append(f"{len(changed)} journal(s) with other amounts or lines")
    if added:
        parts.append(f"{len(added)} journal(s) not approved")
    if gone:
        parts.append(f"{len(gone)} approved journal(s) no longer built")
    return ", ".join(parts) or "no difference"


@dataclass(frozen=True)
class WaitingPartition:
    """A pay period x company whose journals passed their checks and wait for approval."""

    partition_key: str  # "USMF|2026-11-15"
    pay_period: str
    company: str
    journal_keys: tuple[str, ...]
    since: dt.datetime  # the latest waiting attempt
    why: str  # the latest waiting attempt's reason
    decision: ApprovalDecision | None = None  # the latest decision, if any
    total_debit: dict[str, str] = field(default_factory=dict)  # journal key -> debit (text)

    @property
    def approved_since(self) -> bool:
        """An approval was recorded after the partition last waited: a posting run may go."""
        return (
            self.decision is not None
            and self.decision.decision is Decision.APPROVED
            and self.decision.decided_at >= self.since
        )


class Approvals:
    """The approval decisions of the audit database (``AuditStore.approvals``)."""

    def __init__(self, engine: Engine, clock: Callable[[], dt.datetime]) -> None:
        self.engine = engine
        self._clock = clock

    def record_decision(
        self,
        *,
        connection: str,
        pay_period: str,
        company: str,
        decision: Decision | str,
        by: str,
        payload_hashes: Mapping[str, str],
        mapping_hash: str,
        note: str = "",
        via: str = "",
        dagster_run_id: str | None = None,
    ) -> ApprovalDecision:
        """Append one decision; returns it as stored. A rejection needs a reason (``note``)."""
        decision = Decision(decision)
        by = by.strip()
        if not by:
            raise ValueError("a decision needs the name of who decides (by)")
        if decision is Decision.REJECTED and not note.strip():
            raise ValueError("a rejection needs a reason")
        if not payload_hashes:
            raise ValueError("a decision must bind to at least one journal")
        values: dict[str, Any] = {
            "connection": connection,
            "pay_period": pay_period,
            "company": company.upper(),
            "decision": decision.value,
            "decided_by": by[:200],
            "note": note.strip(),
            "decided_at": self._clock(),
            "payload_hashes": dict(sorted(payload_hashes.items())),
            "mapping_hash": mapping_hash,
            "via": via[:200],
            "dagster_run_id": dagster_run_id,
        }
        with self.engine.begin() as db:
            new_id = int(
                db.execute(approval_decisions.insert().values(**values)).inserted_primary_key[0]
            )
        return _decision({**values, "id": new_id})

    def decision_for(
        self, connection: str, pay_period: str, company: str
    ) -> ApprovalDecision | None:
        """The latest decision of the pay period x company (the only one that counts)."""
        query = (
            sa.select(approval_decisions)
            .where(
                approval_decisions.c.connection == connection,
                approval_decisions.c.pay_period == pay_period,
                approval_decisions.c.company == company.upper(),
            )
            .order_by(approval_decisions.c.id.desc())
            .limit(1)
        )
        with self.engine.connect() as db:
            row = db.execute(query).first()
        return _decision(row._mapping) if row is not None else None

    def decisions(
        self, connection: str | None = None, pay_period: str | None = None
    ) -> list[ApprovalDecision]:
        """Every decision, oldest first (the approvals part of the audit trail)."""
        query = sa.select(approval_decisions).order_by(approval_decisions.c.id)
        if connection is not None:
            query = query.where(approval_decisions.c.connection == connection)
        if pay_period is not None:
            query = query.where(approval_decisions.c.pay_period == pay_period)
        with self.engine.connect() as db:
            return [_decision(row._mapping) for row in db.execute(query)]

    def awaiting_approval(self, connection: str | None = None) -> list[WaitingPartition]:
        """Partitions waiting for approval now: some journal's latest posting attempt is
        ``awaiting-approval``, with the latest decision of each (the alerts' signal).

        A partition stops waiting once a later attempt of its journals did something (created,
        found present, changed, corrected) or failed or was blocked (then it is unfinished,
        ``AuditStore.unfinished``). The ``STARTED`` marker rows are not attempts.
        """
        latest = (
            sa.select(sa.func.max(posting_attempts.c.id))
            .where(posting_attempts.c.outcome != "started")
            .group_by(posting_attempts.c.journal_key)
        )
        query = sa.select(posting_attempts).where(
            posting_attempts.c.id.in_(latest), posting_attempts.c.outcome == AWAITING_APPROVAL
        )
        if connection is not None:
            query = query.where(posting_attempts.c.connection == connection)
        with self.engine.connect() as db:
            rows = [row._mapping for row in db.execute(query.order_by(posting_attempts.c.id))]
        grouped: dict[tuple[str, str, str], list[Any]] = {}
        for row in rows:
            grouped.setdefault((row["connection"], row["pay_period"], row["company"]), []).append(
                row
            )
        waiting = []
        for (conn, pay_period, company), group in sorted(grouped.items()):
            last = group[-1]
            waiting.append(
                WaitingPartition(
                    partition_key=last["partition_key"] or f"{company}|{pay_period}",
                    pay_period=pay_period,
                    company=company,
                    journal_keys=tuple(r["journal_key"] for r in group),
                    since=_aware(last["at"]),
                    why=last["dynamics_answer"] or "",
                    decision=self.decision_for(conn, pay_period, company),
                    total_debit={r["journal_key"]: r["total_debit"] or "" for r in group},
                )
            )
        return waiting


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite gives naive datetimes back; they were stored in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _decision(m: Mapping[str, Any]) -> ApprovalDecision:
    return ApprovalDecision(
        id=int(m["id"]),
        connection=m["connection"],
        pay_period=m["pay_period"],
        company=m["company"],
        decision=Decision(m["decision"]),
        decided_by=m["decided_by"],
        note=m["note"] or "",
        decided_at=_aware(m["decided_at"]),
        payload_hashes=dict(m["payload_hashes"] or {}),
        mapping_hash=m["mapping_hash"],
        via=m["via"] or "",
        dagster_run_id=m["dagster_run_id"],
    )


def bound_hashes(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """identity key -> payload hash, refusing a key seen twice with two hashes (a partition
    never holds one identity twice; if it did, binding to either would be wrong)."""
    bound: dict[str, str] = {}
    for key, payload_hash in pairs:
        if bound.setdefault(key, payload_hash) != payload_hash:
            raise ValueError(f"journal identity {key} appears twice with different content")
    return bound
