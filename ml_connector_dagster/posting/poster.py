"""Post one journal identity to Dynamics exactly once, whatever failed before and however often.

Order of work, so that every crash point is recoverable:
1. the identity is recorded in the audit store (before any write);
2. Dynamics is searched for headers carrying the identity's marker in their Description
   (this survives a lost local database): a posted header is never touched, a complete one is
   skipped as a duplicate, a header without lines gets its lines;
3. a missing header is created; an ambiguous create (connection lost, 5xx) is resolved by
   searching again, never by creating blindly;
4. all lines of a part go in one atomic ``$batch`` changeset, so a part has all lines or none;
5. the header totals are read back and compared; the trail gets one row per attempt.
If Rippling's data changed after the journal was written, nothing is overwritten: the
difference is reported and a correcting journal proposed.
"""

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ml_connector_dagster.audit.store import AuditStore, IdentityState, Outcome
from ml_connector_dagster.dynamics.client import DynamicsClient
from ml_connector_dagster.dynamics.errors import AmbiguousWriteError, DynamicsError
from ml_connector_dagster.dynamics.odata import all_of, eq
from ml_connector_dagster.dynamics.readers import ReferenceDataError
from ml_connector_dagster.ledger.checks import Finding
from ml_connector_dagster.ledger.journal import Journal, JournalBuild
from ml_connector_dagster.ledger.mapping import PayrollMapping
from ml_connector_dagster.posting.gate import Verdict, dynamics_verdict, pure_verdict
from ml_connector_dagster.posting.payloads import (
    JournalPart,
    header_payload,
    line_payloads,
    split_parts,
)
from ml_connector_dagster.posting.reference import read_references
from ml_connector_dagster.rippling.models import WorkerPayrollRecord

log = logging.getLogger(__name__)


class PostingError(RuntimeError):
    """A journal could not be brought to a complete state; the trail says why."""


@dataclass
class PartResult:
    description: str
    batch_number: str
    action: str  # created | lines-added | skipped-complete | skipped-posted
    lines: int
    total_debit: Decimal
    total_credit: Decimal


@dataclass
class PostResult:
    journal_key: str
    run_id: str
    company: str
    outcome: str
    parts: list[PartResult] = field(default_factory=list)
    message: str = ""

    @property
    def batch_numbers(self) -> list[str]:
        return [p.batch_number for p in self.parts]


class JournalPoster:
    def __init__(
        self,
        client: DynamicsClient,
        audit: AuditStore,
        mapping: PayrollMapping,
        *,
        dagster_run_id: str | None = None,
    ) -> None:
        self.client = client
        self.audit = audit
        self.mapping = mapping
        self.dagster_run_id = dagster_run_id

    # --- Dynamics lookups -----------------------------------------------------------------
    def _headers_with_marker(self, journal: Journal) -> dict[str, dict[str, Any]]:
        rows = self.client.list_entities(
            "LedgerJournalHeaders",
            filter=all_of(
                eq("dataAreaId", journal.company.lower()),
                eq("Description", f"*{journal.identity.marker}*"),
            ),
        )
        return {str(row.get("Description")): row for row in rows}

    def _line_count(self, company: str, batch_number: str) -> int:
        rows = self.client.list_entities(
            "LedgerJournalLines",
            filter=all_of(
                eq("dataAreaId", company.lower()), eq("JournalBatchNumber", batch_number)
            ),
            select=["LineNumber"],
        )
        return len(rows)

    def _header(self, company: str, batch_number: str) -> dict[str, Any]:
        row = self.client.get_entity(
            "LedgerJournalHeaders",
            {"dataAreaId": company.lower(), "JournalBatchNumber": batch_number},
        )
        if row is None:
            raise PostingError(f"journal {batch_number} vanished from {company} while posting")
        return row

    # --- the steps --------------------------------------------------------------------------
    def _create_header(self, journal: Journal, part: JournalPart) -> dict[str, Any]:
        try:
            return self.client.create("LedgerJournalHeaders", header_payload(journal, part))
        except AmbiguousWriteError:
            found = self._headers_with_marker(journal).get(part.description)
            if found is not None:
                log.info(
                    "header %s landed despite the error; using it", found["JournalBatchNumber"]
                )
                return found
            return self.client.create("LedgerJournalHeaders", header_payload(journal, part))

    def _add_lines(self, journal: Journal, part: JournalPart, batch_number: str) -> None:
        payloads = line_payloads(journal, part, batch_number, self.mapping)
        try:
            self.client.create_many("LedgerJournalLines", payloads)
        except AmbiguousWriteError:
            landed = self._line_count(journal.company, batch_number)
            if landed == len(payloads):
                return
            if landed:
                raise PostingError(
                    f"journal {batch_number}: {landed} of {len(payloads)} lines present after an"
                    " interrupted write; a changeset is atomic, so this needs a look in F&O"
                ) from None
            self.client.create_many("LedgerJournalLines", payloads)

    def _post_part(
        self, journal: Journal, part: JournalPart, existing: dict[str, Any] | None
    ) -> PartResult:
        if existing is not None:
            batch_number = str(existing["JournalBatchNumber"])
            if existing.get("IsPosted") == "Yes":
                return self._result(part, existing, "skipped-posted")
            landed = self._line_count(journal.company, batch_number)
            if landed == len(part.lines):
                return self._result(part, existing, "skipped-complete")
            if landed:
                raise PostingError(
                    f"journal {batch_number} has {landed} of {len(part.lines)} lines; refusing to"
                    " add more (lines go in atomically, so something else wrote here)"
                )
            action = "lines-added"
        else:
            existing = self._create_header(journal, part)
            batch_number = str(existing["JournalBatchNumber"])
            self.audit.update_identity(
                journal.identity.key,
                state=IdentityState.HEADER_CREATED,
                journal_batch_numbers=[batch_number],
            )
            action = "created"
        self._add_lines(journal, part, batch_number)
        header = self._header(journal.company, batch_number)
        result = self._result(part, header, action)
        if (result.total_debit, result.total_credit) != (part.total_debit, part.total_credit):
            raise PostingError(
                f"journal {batch_number}: Dynamics reports debit {result.total_debit} / credit"
                f" {result.total_credit}, sent {part.total_debit} / {part.total_credit}"
            )
        return result

    @staticmethod
    def _result(part: JournalPart, header: dict[str, Any], action: str) -> PartResult:
        return PartResult(
            description=part.description,
            batch_number=str(header["JournalBatchNumber"]),
            action=action,
            lines=len(part.lines),
            total_debit=Decimal(str(header.get("JournalTotalDebit", "0"))),
            total_credit=Decimal(str(header.get("JournalTotalCredit", "0"))),
        )

    # --- the gate -----------------------------------------------------------------------------
    def _blocked(self, result: PostResult, verdict: Verdict, common: dict[str, Any]) -> PostResult:
        result.outcome = Outcome.BLOCKED_BY_CHECK
        result.message = "nothing was written to Dynamics; " + verdict.summary()
        self.audit.record_attempt(**common, outcome=result.outcome, dynamics_answer=result.message)
        return result

    def _preflight(self, build: JournalBuild) -> Verdict:
        """valid_in_dynamics against F&O as it is now, read right before the first write."""
        try:
            _, references = read_references(self.client, self.mapping, [build.journal.company])
        except ReferenceDataError as exc:
            finding = Finding("ledger dimension format", "active format", "one", "none", str(exc))
            return Verdict({"valid_in_dynamics": [finding]})
        return dynamics_verdict(build, self.mapping, references[build.journal.company.upper()])

    # --- entry point ------------------------------------------------------------------------
    def post(
        self,
        build: JournalBuild,
        records: list[WorkerPayrollRecord],
        *,
        partition_key: str,
        pay_period: str,
    ) -> PostResult:
        """Write one journal unless the gate refuses it; ``records`` are its run's records."""
        journal = build.journal
        identity = journal.identity
        payload_hash = journal.payload_hash()
        common = {
            "connection": identity.connection,
            "dagster_run_id": self.dagster_run_id,
            "partition_key": partition_key,
            "journal_key": identity.key,
            "payroll_run_id": identity.run_id,
            "company": identity.company,
            "journal_type": identity.journal_type.value,
            "pay_period": pay_period,
            "payload_hash": payload_hash,
            "source_record_ids": journal.source_record_ids,
            "line_count": len(journal.lines),
            "total_debit": str(journal.total_debit),
            "total_credit": str(journal.total_credit),
        }
        result = PostResult(identity.key, identity.run_id, identity.company, Outcome.FAILED)
        verdict = pure_verdict(build, records, self.mapping)
        if not verdict.passed:
            return self._blocked(result, verdict, common)
        recorded = self.audit.claim_identity(
            journal_key=identity.key,
            connection=identity.connection,
            payroll_run_id=identity.run_id,
            company=identity.company,
            journal_type=identity.journal_type.value,
            pay_period=pay_period,
            payload_hash=payload_hash,
        )
        try:
            if not journal.lines:
                result.outcome, result.message = Outcome.SKIPPED_DUPLICATE, "nothing to post"
                self.audit.update_identity(identity.key, state=IdentityState.COMPLETE)
                self.audit.record_attempt(
                    **common, outcome=result.outcome, dynamics_answer=result.message
                )
                return result
            existing = self._headers_with_marker(journal)
            written = [
                h
                for h in existing.values()
                if h.get("IsPosted") == "Yes"
                or self._line_count(journal.company, str(h["JournalBatchNumber"]))
            ]
            if recorded.payload_hash != payload_hash and (
                written or recorded.state in (IdentityState.COMPLETE, IdentityState.POSTED)
            ):
                numbers = ", ".join(str(h["JournalBatchNumber"]) for h in written)
                result.outcome = Outcome.CHANGED_AFTER_POSTING
                result.message = (
                    f"Rippling data for run {identity.run_id} changed after journal {numbers} was"
                    " written; nothing was overwritten. Post a correcting journal for the"
                    " difference."
                )
                self.audit.record_attempt(
                    **common,
                    outcome=result.outcome,
                    journal_batch_number=numbers,
                    dynamics_answer=result.message,
                )
                return result
            # Each part's lines go in one atomic changeset, so a part never exceeds it.
            limit = min(self.mapping.journal.max_lines_per_journal, self.client.changeset_size)
            try:
                parts = split_parts(journal, limit)
            except ValueError as exc:
                raise PostingError(str(exc)) from None
            preflight = self._preflight(build)
            if not preflight.passed:
                return self._blocked(result, preflight, common)
            for part in parts:
                result.parts.append(self._post_part(journal, part, existing.get(part.description)))
        except (DynamicsError, PostingError) as exc:
            result.message = str(exc)
            self.audit.record_attempt(
                **common,
                outcome=Outcome.FAILED,
                dynamics_answer=str(exc),
                journal_batch_number=", ".join(result.batch_numbers) or None,
            )
            raise
        all_posted = all(p.action == "skipped-posted" for p in result.parts)
        nothing_written = all(p.action.startswith("skipped") for p in result.parts)
        result.outcome = Outcome.SKIPPED_DUPLICATE if nothing_written else Outcome.CREATED
        self.audit.update_identity(
            identity.key,
            state=IdentityState.POSTED if all_posted else IdentityState.COMPLETE,
            journal_batch_numbers=result.batch_numbers,
            payload_hash=payload_hash,
        )
        self.audit.record_attempt(
            **common,
            outcome=result.outcome,
            journal_batch_number=", ".join(result.batch_numbers),
            dynamics_answer="; ".join(
                f"{p.batch_number} {p.action} debit {p.total_debit} credit {p.total_credit}"
                for p in result.parts
            ),
        )
        return result
