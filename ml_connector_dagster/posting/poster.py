"""Post one journal identity to Dynamics exactly once, whatever failed before and however often.

Order of work, so that every crash point is recoverable and no write can duplicate:
1. the pure checks run on exactly this journal and mapping (the gate), whatever launched it;
2. the identity is recorded in the audit store and claimed exclusively (one row per identity,
   shared by every process and instance on the same audit database; a dead holder's claim on
   this host, or an expired lease, is taken over);
3. F&O is read for every journal carrying the identity's IntegrationKey (this survives a lost
   local database and does not depend on description, check date or split) and ``plan.py``
   decides the next step from what F&O holds: nothing (present, or posted by finance), a
   difference to report (never overwritten), or a write;
4. before the first write, the F&O facts the checks rely on are read again (preflight: a read
   at most a minute old, ``PREFLIGHT_MAX_AGE``, so journals written within a minute of one
   another share it);
5. writes carry fixed line numbers, so a resent changeset collides instead of duplicating;
   after a header create F&O is read again, so two writers that raced converge on the
   lowest-numbered journal and the other deletes its own while still empty; after a write
   whose outcome is unknown F&O is read until it settles before anything is written again;
6. when the plan says present, everything is read back once more and the header totals are
   compared; the trail gets one row per attempt.

With ``journal.approval: required`` a write also needs a finance approval bound to exactly the
partition's journals as built now (``posting/approval.py``), asked right before the first
write: a journal already in F&O (present, posted, changed) needs none, since nothing is
written; one without an applying approval is written nothing and its attempt is
``awaiting-approval`` with why (not approved, rejected by whom and why, content changed).
"""

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ml_connector_dagster import clock
from ml_connector_dagster.audit.claims import ClaimTaken
from ml_connector_dagster.audit.store import AuditStore, IdentityState, Outcome
from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.config.settings import current_settings
from ml_connector_dagster.dynamics.client import DynamicsClient
from ml_connector_dagster.dynamics.errors import (
    AmbiguousWriteError,
    BatchError,
    DynamicsError,
    DynamicsRequestError,
)
from ml_connector_dagster.dynamics.readers import ReferenceDataError
from ml_connector_dagster.ledger.checks import Finding
from ml_connector_dagster.ledger.inputs import PayrollRecord
from ml_connector_dagster.ledger.journal import Journal, JournalBuild, JournalIdentity
from ml_connector_dagster.posting.approval import ApprovalCheck, approve_command, check_approval
from ml_connector_dagster.posting.gate import Verdict, dynamics_verdict, pure_verdict
from ml_connector_dagster.posting.ledger_view import (
    WITHOUT_INTEGRATION_KEY,
    LedgerView,
    refuses_integration_key,
    reload_together,
)
from ml_connector_dagster.posting.lines import Difference, LedgerLine, expected_lines
from ml_connector_dagster.posting.payloads import (
    JournalPart,
    header_payload,
    line_payloads,
    split_parts,
)
from ml_connector_dagster.posting.plan import Plan, PlanKind, Step, batch_order, plan_next
from ml_connector_dagster.posting.reference import (
    PREFLIGHT_MAX_AGE,
    ReferenceRead,
    remembered_reads,
)
from ml_connector_dagster.posting.settings import PostingSettings
from ml_connector_dagster.posting.vouchers import (
    VoucherSettings,
    VoucherSource,
)

log = logging.getLogger(__name__)

# A write that leaves F&O unchanged this often in a row (each time re-read until settled) is a
# persistent failure, not a race: stop and say so rather than keep sending.
MAX_STALLED_ROUNDS = 3
MAX_CORRECTIONS = 99  # correcting journals per journal; far above any real case


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
    # CHANGED_AFTER_POSTING: per account + dimensions, F&O's amount, now, and the difference
    differences: list[Difference] = field(default_factory=list)

    @property
    def batch_numbers(self) -> list[str]:
        return [p.batch_number for p in self.parts]


def chunk_payloads(
    payloads: list[dict[str, Any]],
    size: int,
    voucher_of: Callable[[dict[str, Any]], object] = lambda payload: payload.get("Voucher"),
) -> list[list[dict[str, Any]]]:
    """Changesets of at most ``size`` lines, cut between vouchers where a voucher fits.

    A cut inside a voucher is safe (line numbers make any gap resumable and F&O will not post
    an unbalanced voucher), only less tidy, so it happens only for a voucher above ``size``.
    ``voucher_of`` tells a line's voucher when the payload does not carry it (F&O numbers it).
    """
    chunks: list[list[dict[str, Any]]] = [[]]
    for voucher_lines in _by_voucher(payloads, voucher_of):
        if chunks[-1] and len(chunks[-1]) + len(voucher_lines) > size:
            chunks.append([])
        for payload in voucher_lines:
            if len(chunks[-1]) >= size:
                chunks.append([])
            chunks[-1].append(payload)
    return [c for c in chunks if c]


def _by_voucher(
    payloads: list[dict[str, Any]], voucher_of: Callable[[dict[str, Any]], object]
) -> list[list[dict[str, Any]]]:
    groups: list[list[dict[str, Any]]] = []
    current: object = object()
    for payload in payloads:
        if voucher_of(payload) != current:
            groups.append([])
            current = voucher_of(payload)
        groups[-1].append(payload)
    return groups


def _collided(error: BatchError) -> bool:
    """F&O refused the changeset because a line number is taken: someone wrote it already."""
    return any("already exists" in f.message.lower() for f in error.failures)


class JournalPoster:
    def __init__(
        self,
        client: DynamicsClient,
        audit: AuditStore,
        mapping: PayrollMapping,
        *,
        dagster_run_id: str | None = None,
        settings: PostingSettings | None = None,
        triggered_by: str | None = None,
    ) -> None:
        self.client = client
        self.audit = audit
        self.mapping = mapping
        self.dagster_run_id = dagster_run_id
        # Who launched the run (``defs/payroll/launcher.py``), on every trail row it writes.
        self.triggered_by = triggered_by
        self.settings = settings or PostingSettings.from_settings(current_settings())
        # Learned from F&O once per poster: whether LedgerJournalHeaders has IntegrationKey.
        self._integration_key = True
        self._last_ambiguity = "none"  # F&O's answer to the latest write of unknown outcome
        # (company, journal name) -> its voucher settings (None: the name is missing there)
        self._voucher_settings: dict[tuple[str, str], VoucherSettings | None] = {}
        # F&O's reference data for the preflight, read by this poster: never another run's or
        # the checks' read, which may predate a change the write must see.
        self.references = remembered_reads(client, mapping)
        self._preflight_read: ReferenceRead | None = None  # the latest, for voucher settings

    def supplies_vouchers(self, journal: Journal) -> bool:
        """Whether this journal's lines carry the connector's vouchers: only where the journal
        name numbers none itself (``posting.vouchers``); taken from F&O once per poster."""
        key = (journal.company.upper(), journal.journal_name)
        if key not in self._voucher_settings:
            # From the preflight's JournalNames rows (read right before the first write, so
            # usually no request here); kept for the poster's life so one journal's lines are
            # never written under two settings.
            read = self._preflight_read
            if read is None or key[0] not in read.references:
                read = self.references({key[0]}, PREFLIGHT_MAX_AGE)
            settings = read.vouchers.get(key)
            if settings is not None:
                log.info("vouchers: %s", settings.describe())
            self._voucher_settings[key] = settings
        settings = self._voucher_settings[key]
        return settings is not None and settings.source is VoucherSource.CONNECTOR

    # --- waiting for F&O to settle ------------------------------------------------------------
    def _poll(self, probe: Callable[[], bool]) -> bool:
        """Call ``probe`` until it says done or the recheck window passed (monotonic time)."""
        deadline = time.monotonic() + self.settings.recheck_seconds
        while True:
            if probe():
                return True
            if time.monotonic() >= deadline:
                return False
            clock.sleep(self.settings.recheck_interval_seconds)

    def _settle_lines(self, view: LedgerView, batch_number: str) -> None:
        """Read a journal's lines until two reads in a row agree (F&O may still commit)."""
        counts: list[int] = [len(view.read_lines(batch_number))]

        def stable() -> bool:
            counts.append(len(view.read_lines(batch_number)))
            return counts[-1] == counts[-2]

        clock.sleep(self.settings.recheck_interval_seconds)
        self._poll(stable)

    # --- the writes -----------------------------------------------------------------------------
    def _create_header(self, journal: Journal, part: JournalPart, view: LedgerView) -> str | None:
        """Create a header for ``part``; its number, or None when F&O must be asked again."""
        payload = header_payload(journal, part, integration_key=view.integration_key)
        try:
            row = self.client.create("LedgerJournalHeaders", payload)
        except DynamicsRequestError as exc:
            if view.integration_key and refuses_integration_key(exc):
                log.warning(WITHOUT_INTEGRATION_KEY.format(marker=journal.identity.marker))
                view.integration_key = self._integration_key = False
                view.reload()
                return None
            raise
        except AmbiguousWriteError as exc:
            self._last_ambiguity = str(exc)
            # F&O may have created it, maybe only later: look for it before creating again.
            found: list[str] = []
            landed = self._poll(lambda: bool(found.extend(view.refresh_headers()) or found))
            if landed:
                landed_number = min(found, key=batch_order)
                log.info("header %s landed despite the error; using it", landed_number)
                return landed_number
            return None
        batch_number = str(row["JournalBatchNumber"])
        # Look again: another writer may have raced us to the identity (its lines are read;
        # ours, created just now, has none).
        view.refresh_headers(created=batch_number)
        return batch_number

    def _add_lines(self, journal: Journal, step: Step, view: LedgerView) -> None:
        assert step.target is not None
        wanted = set(step.missing)
        payloads = [
            payload
            for payload in line_payloads(
                journal,
                step.part,
                step.target,
                self.mapping,
                supply_voucher=self.supplies_vouchers(journal),
            )
            if int(payload["LineNumber"]) in wanted
        ]
        numbers, lines = step.part.line_numbers, step.part.lines
        vouchers = {n: line.voucher for n, line in zip(numbers, lines, strict=True)}
        for chunk in chunk_payloads(
            payloads,
            self.client.changeset_size,
            lambda payload: vouchers[int(payload["LineNumber"])],
        ):
            try:
                self.client.create_many("LedgerJournalLines", chunk)
            except AmbiguousWriteError as exc:
                self._last_ambiguity = str(exc)
                self._settle_lines(view, step.target)
                return
            except BatchError as exc:
                if not _collided(exc):
                    raise
                log.info("journal %s: lines were written by another attempt", step.target)
                view.read_lines(step.target)
                return
            view.add_written(step.target, [LedgerLine.from_dynamics(p) for p in chunk])

    def _delete_empty(self, view: LedgerView, batch_number: str) -> None:
        """Delete a surplus journal of the identity, only while F&O shows it empty, unposted."""
        if view.read_lines(batch_number) or view.header(batch_number).get("IsPosted") == "Yes":
            return
        key = {"dataAreaId": view.company, "JournalBatchNumber": batch_number}
        try:
            self.client.delete("LedgerJournalHeaders", key)
        except DynamicsRequestError as exc:
            log.warning("could not delete the surplus empty journal %s: %s", batch_number, exc)
            return
        log.info("deleted surplus empty journal %s of %s", batch_number, view.identity.key)
        view.forget(batch_number)

    def _write(
        self,
        journal: Journal,
        parts: list[JournalPart],
        expected: dict[int, LedgerLine],
        view: LedgerView,
        plan: Plan,
        touched: dict[str, str],
        corrections: Sequence[LedgerLine] = (),
    ) -> Plan:
        """Take plan steps until F&O holds the journal; read everything back before trusting it.

        ``touched`` collects what this attempt did per journal (created / lines-added).
        """
        verified = False
        rounds = 4 * len(parts) + 2 * len(expected) // max(self.client.changeset_size, 1) + 10
        stalled = 0  # write rounds in a row that changed nothing in F&O
        for _ in range(rounds):
            if stalled >= MAX_STALLED_ROUNDS:
                raise PostingError(
                    f"journal {journal.identity.integration_key}: {stalled} writes in a row left"
                    f" F&O unchanged; stopped. Last answer: {self._last_ambiguity}"
                )
            if plan.kind is PlanKind.PRESENT:
                if not verified:
                    view.reload()
                    verified = True
                    plan = plan_next(expected, parts, view.states(), corrections)
                    continue
                for batch_number in plan.surplus:
                    self._delete_empty(view, batch_number)
                return plan
            if plan.kind is not PlanKind.WRITE:
                return plan
            verified = False
            self.audit.claims.renew(journal.identity.key, self.settings.claim_lease)
            before = view.states()
            mine = [b for b in plan.surplus if touched.get(b) == "created"]
            if mine:  # we lost a race to create: our header goes while it is still empty
                for batch_number in mine:
                    self._delete_empty(view, batch_number)
                    touched.pop(batch_number, None)
            else:
                step = plan.step
                assert step is not None
                if step.target is None:
                    batch_number = self._create_header(journal, step.part, view)
                    if batch_number is not None:
                        touched[batch_number] = "created"
                        self.audit.update_identity(
                            journal.identity.key,
                            state=IdentityState.HEADER_CREATED,
                            journal_batch_numbers=sorted(touched, key=batch_order),
                        )
                else:
                    touched.setdefault(step.target, "lines-added")
                    self._add_lines(journal, step, view)
            stalled = stalled + 1 if view.states() == before else 0
            plan = plan_next(expected, parts, view.states(), corrections)
        raise PostingError(
            f"journal {journal.identity.integration_key}: F&O did not settle after {rounds}"
            " write rounds; nothing more was written. Look at its journals in F&O."
        )

    def _check_totals(self, view: LedgerView, plan: Plan) -> None:
        """F&O's own header totals must equal the lines it holds (read just now)."""
        for state in view.states():
            if state.batch_number not in plan.holders:
                continue
            header = view.header(state.batch_number)
            debit = Decimal(str(header.get("JournalTotalDebit", "0")))
            credit = Decimal(str(header.get("JournalTotalCredit", "0")))
            lines_debit = sum((line.debit for line in state.lines.values()), Decimal("0"))
            lines_credit = sum((line.credit for line in state.lines.values()), Decimal("0"))
            if (debit, credit) != (lines_debit, lines_credit):
                raise PostingError(
                    f"journal {state.batch_number}: F&O reports debit {debit} / credit {credit},"
                    f" its lines add up to {lines_debit} / {lines_credit}"
                )

    def _results(self, view: LedgerView, plan: Plan, touched: dict[str, str]) -> list[PartResult]:
        results = []
        for state in sorted(view.states(), key=lambda h: batch_order(h.batch_number)):
            if state.batch_number not in plan.holders:
                continue
            header = view.header(state.batch_number)
            action = touched.get(state.batch_number) or (
                "skipped-posted" if state.posted else "skipped-complete"
            )
            results.append(
                PartResult(
                    description=state.description,
                    batch_number=state.batch_number,
                    action=action,
                    lines=len(state.lines),
                    total_debit=Decimal(str(header.get("JournalTotalDebit", "0"))),
                    total_credit=Decimal(str(header.get("JournalTotalCredit", "0"))),
                )
            )
        return results

    def correction_lines(
        self, identity: JournalIdentity, first: LedgerView | None = None
    ) -> list[LedgerLine]:
        """Lines of the identity's correcting journals in F&O (correction 1, 2, ... until none).

        ``first``: correction 1's view, already read (with the identity's own headers)."""
        lines: list[LedgerLine] = []
        for n in range(1, MAX_CORRECTIONS + 1):
            if n == 1 and first is not None:
                view = first
            else:
                view = LedgerView(
                    self.client, identity.corrected_by(n), integration_key=self._integration_key
                )
                view.reload()
            states = view.states()
            if not states:
                break
            lines += [line for state in states for line in state.lines.values()]
        return lines

    # --- the gate -----------------------------------------------------------------------------
    def _blocked(self, result: PostResult, verdict: Verdict, common: dict[str, Any]) -> PostResult:
        result.outcome = Outcome.BLOCKED_BY_CHECK
        result.message = "nothing was written to Dynamics; " + verdict.summary(
            detail_level=self.mapping.journal.detail_level
        )
        self.audit.record_attempt(**common, outcome=result.outcome, dynamics_answer=result.message)
        return result

    def _approval(
        self,
        build: JournalBuild,
        partition_builds: Sequence[JournalBuild] | None,
        common: dict[str, Any],
    ) -> ApprovalCheck:
        return check_approval(
            self.audit, self.mapping, build, partition_builds, pay_period=common["pay_period"]
        )

    def _record_waiting(self, check: ApprovalCheck, common: dict[str, Any]) -> str:
        """Nothing written: the journal waits for an approval of exactly this content. The
        trail row says why; returns that text."""
        message = (
            f"waiting for approval, nothing was written to Dynamics: {check.why}. Approve:"
            f" {approve_command(common['pay_period'], common['company'])}"
        )
        log.info("journal %s: %s", common["journal_key"], message)
        self.audit.record_attempt(
            **common, outcome=Outcome.AWAITING_APPROVAL, dynamics_answer=message
        )
        return message

    def _preflight(self, build: JournalBuild) -> Verdict:
        """valid_in_dynamics against F&O as it is now: read by this poster right before its
        first write, and again before a later journal's once ``PREFLIGHT_MAX_AGE`` (a minute)
        has passed; journals written within that minute share the read."""
        company = build.journal.company.upper()
        try:
            read = self._preflight_read = self.references({company}, PREFLIGHT_MAX_AGE)
        except ReferenceDataError as exc:
            finding = Finding("ledger dimension format", "active format", "one", "none", str(exc))
            return Verdict({"valid_in_dynamics": [finding]})
        return dynamics_verdict(build, self.mapping, read.references[company])

    def _changed(self, result: PostResult, plan: Plan, common: dict[str, Any]) -> PostResult:
        journal_key = common["journal_key"]
        settings = current_settings()  # how the operator calls the commands, in the message
        numbers = ", ".join(plan.holders) or "-"
        details = "; ".join(d.describe() for d in plan.differences)
        result.outcome = Outcome.CHANGED_AFTER_POSTING
        result.differences = list(plan.differences)
        result.message = (
            f"Rippling data for run {common['payroll_run_id']} differs from journal {numbers} in"
            f" F&O ({plan.reason}); nothing was overwritten."
            + (f" Per account and dimensions: {details}." if details else "")
            + f" Review and apply the correction: {settings.command()} correct --pay-period"
            + f" {common['pay_period']} --legal-entity {common['company']} (dry run; add"
            + f" --apply), or the {settings.dagster_name('correct_ledger')} job in Dagster."
        )
        log.warning("journal %s: %s", journal_key, result.message)
        self.audit.record_attempt(
            **common,
            outcome=result.outcome,
            journal_batch_number=numbers,
            dynamics_answer=result.message,
        )
        return result

    def trail_fields(
        self, journal: Journal, *, partition_key: str, pay_period: str
    ) -> dict[str, Any]:
        """What every trail row of this journal says about it (who, which run, what, how much)."""
        identity = journal.identity
        return {
            "connection": identity.connection,
            "dagster_run_id": self.dagster_run_id,
            "triggered_by": (self.triggered_by or "")[:300] or None,
            "partition_key": partition_key,
            "journal_key": identity.key,
            "payroll_run_id": identity.run_id,
            "company": identity.company,
            "journal_type": identity.journal_type.value,
            "pay_period": pay_period,
            "payload_hash": journal.payload_hash(),
            "source_record_ids": journal.source_record_ids,
            "line_count": len(journal.lines),
            "total_debit": str(journal.total_debit),
            "total_credit": str(journal.total_credit),
        }

    # --- entry point ------------------------------------------------------------------------
    def post(
        self,
        build: JournalBuild,
        records: list[PayrollRecord],
        *,
        partition_key: str,
        pay_period: str,
        partition_builds: Sequence[JournalBuild] | None = None,
    ) -> PostResult:
        """Write one journal unless the gate refuses it; ``records`` are its run's records.

        ``partition_builds``: every journal of the pay period x company as built now, what an
        approval binds to when the mapping requires one (None: this journal alone)."""
        journal = build.journal
        identity = journal.identity
        payload_hash = journal.payload_hash()
        common = self.trail_fields(journal, partition_key=partition_key, pay_period=pay_period)
        result = PostResult(identity.key, identity.run_id, identity.company, Outcome.FAILED)
        verdict = pure_verdict(build, records, self.mapping)
        if not verdict.passed:
            return self._blocked(result, verdict, common)
        self.audit.claim_identity(
            journal_key=identity.key,
            connection=identity.connection,
            payroll_run_id=identity.run_id,
            company=identity.company,
            journal_type=identity.journal_type.value,
            pay_period=pay_period,
            payload_hash=payload_hash,
        )
        if not journal.lines:
            result.outcome, result.message = Outcome.SKIPPED_DUPLICATE, "nothing to post"
            self.audit.update_identity(identity.key, state=IdentityState.COMPLETE)
            self.audit.record_attempt(
                **common, outcome=result.outcome, dynamics_answer=result.message
            )
            return result
        touched: dict[str, str] = {}
        try:
            try:
                parts = split_parts(journal, self.mapping.journal.max_lines_per_journal)
                split_error = ""
            except ValueError as exc:
                # Only a write needs the split: a journal already in F&O is present anyway.
                parts, split_error = split_parts(journal, max(len(journal.lines), 1)), str(exc)
            expected = expected_lines(journal, self.mapping)
            with self.audit.claims.held(
                identity.key,
                lease=self.settings.claim_lease,
                wait_seconds=self.settings.claim_wait_seconds,
            ):
                view = LedgerView(self.client, identity, integration_key=self._integration_key)
                first = LedgerView(
                    self.client, identity.corrected_by(1), integration_key=view.integration_key
                )
                reload_together(self.client, [view, first])  # one header read for both
                self._integration_key = view.integration_key
                corrections = self.correction_lines(identity, first)
                plan = plan_next(expected, parts, view.states(), corrections)
                if plan.kind is PlanKind.CHANGED:
                    return self._changed(result, plan, common)
                if plan.kind is PlanKind.WRITE:
                    approval = self._approval(build, partition_builds, common)
                    if not approval.applies:
                        result.outcome = Outcome.AWAITING_APPROVAL
                        result.message = self._record_waiting(approval, common)
                        return result
                    if approval.decision is not None:
                        common["approval_id"] = approval.decision.id
                    if split_error:
                        raise PostingError(split_error)
                    preflight = self._preflight(build)
                    if not preflight.passed:
                        return self._blocked(result, preflight, common)
                    plan = self._write(journal, parts, expected, view, plan, touched, corrections)
                    if plan.kind is PlanKind.CHANGED:
                        return self._changed(result, plan, common)
                if plan.kind is PlanKind.CONFLICT:
                    raise PostingError(plan.reason)
                self._check_totals(view, plan)
                result.parts = self._results(view, plan, touched)
        except ClaimTaken as exc:
            result.message = str(exc)
            self.audit.record_attempt(**common, outcome=Outcome.FAILED, dynamics_answer=str(exc))
            raise PostingError(str(exc)) from None
        except (DynamicsError, PostingError) as exc:
            result.message = str(exc)
            self.audit.record_attempt(
                **common,
                outcome=Outcome.FAILED,
                dynamics_answer=str(exc),
                journal_batch_number=", ".join(sorted(touched, key=batch_order)) or None,
            )
            raise
        notes = []
        if not self._integration_key:
            notes.append(WITHOUT_INTEGRATION_KEY.format(marker=identity.marker))
        if plan.dated:
            notes.append(
                "amounts match but Rippling's check date moved: " + "; ".join(plan.dated[:3])
            )
        result.message = "; ".join(notes)
        result.outcome = Outcome.CREATED if touched else Outcome.SKIPPED_DUPLICATE
        self.audit.update_identity(
            identity.key,
            state=IdentityState.POSTED if plan.all_posted else IdentityState.COMPLETE,
            journal_batch_numbers=result.batch_numbers,
            payload_hash=payload_hash,
        )
        answer = "; ".join(
            f"{p.batch_number} {p.action} debit {p.total_debit} credit {p.total_credit}"
            for p in result.parts
        )
        self.audit.record_attempt(
            **common,
            outcome=result.outcome,
            journal_batch_number=", ".join(result.batch_numbers),
            dynamics_answer="; ".join(filter(None, [answer, result.message])),
        )
        return result
