"""Bring F&O in line with Rippling after a payroll run changed: finance reviews, then applies.

Detection compares what F&O holds for a journal identity (its journals plus its correcting
journals, summed per account and dimensions) with the journal built from Rippling now; it does
not depend on the local store. Resolution, proposed as a dry run and written only on ``apply``:

- every journal of the identity still unposted in F&O: its lines are replaced in one atomic
  ``$batch`` changeset (delete the old lines, write the new, identity and journal numbers
  kept), so F&O never holds half a correction;
- a journal of it already posted (read-only in F&O): a correcting journal with only the
  differences, one balanced voucher, under its own identity (``correction-n`` of the original,
  found again by its own IntegrationKey, so an interrupted correction resumes and a repeated
  one finds nothing left to correct). It is dated like the original and reverses like it;
  finance may re-date it in F&O before posting when that period is closed.

Every proposal and every applied correction is written to the audit trail with who asked.

With ``journal.approval: required`` applying a correction is a write like any other: it needs
an approval bound to the partition's journals as built now (the new content). Without one the
correction stays a proposal, its trail row is ``awaiting-approval`` with why, and finance
approves the new content (``ml-connector approve``) before ``--apply``.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from ml_connector_dagster.audit.store import IdentityState, Outcome
from ml_connector_dagster.dynamics import batch as batch_codec
from ml_connector_dagster.dynamics.errors import AmbiguousWriteError, DynamicsError
from ml_connector_dagster.dynamics.odata import key_segment
from ml_connector_dagster.ledger.dimensions import DimensionFormatSpec
from ml_connector_dagster.ledger.journal import (
    DESCRIPTION_LIMIT,
    Journal,
    JournalBuild,
    JournalLine,
    LineRole,
)
from ml_connector_dagster.posting.ledger_view import LedgerView
from ml_connector_dagster.posting.lines import (
    Difference,
    LedgerLine,
    account_differences,
    expected_lines,
)
from ml_connector_dagster.posting.payloads import line_payloads, split_parts
from ml_connector_dagster.posting.plan import PlanKind, batch_order, plan_next
from ml_connector_dagster.posting.poster import JournalPoster, PostingError

log = logging.getLogger(__name__)


class CorrectionKind:
    NONE = "nothing to correct"
    REPLACE = "replace the lines of the unposted journal"
    CORRECTING_JOURNAL = "create a correcting journal with the differences"
    REFUSED = "cannot be corrected automatically"


@dataclass
class Correction:
    """What F&O holds against Rippling now for one journal identity, and what would fix it."""

    journal_key: str
    run_id: str
    company: str
    kind: str
    differences: list[Difference] = field(default_factory=list)
    holders: tuple[str, ...] = ()  # the journal's F&O journals
    reason: str = ""
    applied: bool = False
    awaiting_approval: str = ""  # why an apply was refused for want of an approval
    batch_numbers: list[str] = field(default_factory=list)  # journals written by the apply

    @property
    def needed(self) -> bool:
        return self.kind in (CorrectionKind.REPLACE, CorrectionKind.CORRECTING_JOURNAL)


Dimensions = tuple[tuple[str, str], ...]


def parse_display_value(spec: DimensionFormatSpec, text: str) -> tuple[str, Dimensions]:
    """Main account and non-blank dimension values of an ``AccountDisplayValue``.

    Unambiguous because the mapping refuses values containing the delimiter when it loads.
    """
    segments = text.split(spec.delimiter)
    account, values = segments[0], segments[1:]
    dims = tuple(
        (name, value)
        for name, value in zip(spec.financial_dimensions, values, strict=False)
        if value
    )
    return account, dims


def correcting_journal(
    original: Journal,
    n: int,
    fixes: list[Difference],
    spec: DimensionFormatSpec,
    holders: tuple[str, ...],
) -> Journal:
    """The n-th correcting journal of ``original``: one balanced voucher of the differences."""
    identity = original.identity.corrected_by(n)
    voucher = f"PR{original.identity.key[:6].upper()}-C{n:03d}"
    lines = []
    for fix in fixes:
        account, dims = parse_display_value(spec, fix.account)
        amount = fix.difference
        lines.append(
            JournalLine(
                voucher=voucher,
                account=account,
                dimensions=dims,
                currency=fix.currency,
                # The role only feeds reconciliation with Rippling's totals, which a
                # correcting journal (differences only) is not checked against.
                role=LineRole.EARNINGS if amount > 0 else LineRole.NET_PAY,
                debit=amount if amount > 0 else Decimal("0.00"),
                credit=-amount if amount < 0 else Decimal("0.00"),
                text=f"Correction {n} of payroll run {original.identity.run_id}"[:60],
            )
        )
    label = f"Correction {n} of {holders[0] if holders else original.identity.run_id}"
    description = f"{label} {identity.marker}"[-DESCRIPTION_LIMIT:]
    return Journal(
        identity=identity,
        company=original.company,
        journal_name=original.journal_name,
        trans_date=original.trans_date,
        reverse_date=original.reverse_date,
        description=description,
        lines=lines,
        source_record_ids=original.source_record_ids,
        worker_ids=original.worker_ids,
        mapping_hash=original.mapping_hash,
    )


class JournalCorrector(JournalPoster):
    """Proposes and applies corrections with the poster's claims, reads and no-duplicate writes."""

    def propose(self, build: JournalBuild) -> Correction:
        journal = build.journal
        identity = journal.identity
        result = Correction(identity.key, identity.run_id, identity.company, CorrectionKind.NONE)
        view = LedgerView(self.client, identity, integration_key=self._integration_key)
        view.reload()
        self._integration_key = view.integration_key
        expected = expected_lines(journal, self.mapping)
        parts = split_parts(journal, max(len(journal.lines), 1))
        corrections = self.correction_lines(identity)
        plan = plan_next(expected, parts, view.states(), corrections)
        result.holders = plan.holders
        if plan.kind is PlanKind.PRESENT:
            result.reason = "F&O holds what Rippling says now"
            return result
        if plan.kind is PlanKind.WRITE and not plan.holders:
            result.kind = CorrectionKind.REFUSED
            result.reason = "the journal is not in F&O yet: run the pay period instead"
            return result
        if plan.kind is not PlanKind.CHANGED:
            result.kind = CorrectionKind.REFUSED
            result.reason = plan.reason or "the journal in F&O is incomplete: replay it first"
            return result
        result.differences = list(plan.differences)
        posted = any(s.posted for s in view.states() if s.batch_number in plan.holders)
        if posted or corrections:
            result.kind = CorrectionKind.CORRECTING_JOURNAL
            result.reason = "a journal is posted in F&O and read-only"
        else:
            result.kind = CorrectionKind.REPLACE
            result.reason = "every journal of it is unposted in F&O"
        return result

    # --- apply ----------------------------------------------------------------------------------
    def correct(
        self,
        build: JournalBuild,
        *,
        apply: bool,
        requested_by: str,
        partition_key: str,
        pay_period: str,
        partition_builds: Sequence[JournalBuild] | None = None,
    ) -> Correction:
        """Propose (and with ``apply`` write) the correction; the trail records who asked.

        ``partition_builds``: every journal of the pay period x company, what an approval
        binds to when the mapping requires one (None: this journal alone)."""
        journal = build.journal
        identity = journal.identity
        common = self.trail_fields(journal, partition_key=partition_key, pay_period=pay_period)
        with self.audit.claims.held(
            identity.key,
            lease=self.settings.claim_lease,
            wait_seconds=self.settings.claim_wait_seconds,
        ):
            proposal = self.propose(build)
            if not (apply and proposal.needed):
                if proposal.needed:
                    self.audit.record_attempt(
                        **common,
                        outcome=Outcome.CORRECTION_PROPOSED,
                        journal_batch_number=", ".join(proposal.holders) or None,
                        dynamics_answer=_describe(proposal, requested_by),
                    )
                return proposal
            approval = self._approval(build, partition_builds, common)
            if not approval.applies:
                self._record_waiting(approval, common)
                proposal.awaiting_approval = approval.why
                proposal.reason = (
                    f"waiting for approval of the corrected content, nothing was written:"
                    f" {approval.why}"
                )
                return proposal
            if approval.decision is not None:
                common["approval_id"] = approval.decision.id
            preflight = self._preflight(build)
            if not preflight.passed:
                message = "nothing was written to Dynamics; " + preflight.summary(
                    detail_level=self.mapping.journal.detail_level
                )
                self.audit.record_attempt(
                    **common,
                    outcome=Outcome.BLOCKED_BY_CHECK,
                    dynamics_answer=f"correction requested by {requested_by}: {message}",
                )
                raise PostingError(message)
            try:
                if proposal.kind == CorrectionKind.REPLACE:
                    self._replace(build, proposal)
                else:
                    self._correcting_journal(build, proposal)
                proposal.applied = True
                check = self.propose(build)  # read back: F&O must now equal Rippling
                if check.kind != CorrectionKind.NONE:
                    raise PostingError(
                        f"after the correction F&O still differs from Rippling: {check.reason}"
                    )
            except (DynamicsError, PostingError) as exc:
                self.audit.record_attempt(
                    **common,
                    outcome=Outcome.FAILED,
                    journal_batch_number=", ".join(proposal.holders) or None,
                    dynamics_answer=f"correction requested by {requested_by} failed: {exc}",
                )
                raise
            self.audit.update_identity(
                identity.key,
                state=IdentityState.COMPLETE,
                journal_batch_numbers=sorted(
                    set(proposal.holders) | set(proposal.batch_numbers), key=batch_order
                ),
                payload_hash=journal.payload_hash(),
            )
            self.audit.record_attempt(
                **common,
                outcome=Outcome.CORRECTED,
                journal_batch_number=", ".join(proposal.batch_numbers or proposal.holders),
                dynamics_answer=_describe(proposal, requested_by),
            )
            return proposal

    def _replace(self, build: JournalBuild, proposal: Correction) -> None:
        """Old lines out, new lines in, one atomic changeset; journal numbers kept."""
        journal = build.journal
        view = LedgerView(self.client, journal.identity, integration_key=self._integration_key)
        view.reload()
        holders = sorted(proposal.holders, key=batch_order)
        parts = split_parts(journal, self.mapping.journal.max_lines_per_journal)
        if len(parts) > len(holders):
            raise PostingError(
                f"the corrected journal needs {len(parts)} F&O journals and {len(holders)} exist;"
                " delete them in F&O (they are unposted) and run the pay period again"
            )
        operations: list[batch_codec.Operation] = []
        company = journal.company.lower()
        for state in view.states():
            if state.batch_number not in holders:
                continue
            for number in sorted(state.lines):
                key = {
                    "dataAreaId": company,
                    "JournalBatchNumber": state.batch_number,
                    "LineNumber": Decimal(number),
                }
                operations.append(
                    batch_codec.Operation("DELETE", key_segment("LedgerJournalLines", key))
                )
        for part, batch_number in zip(parts, holders, strict=False):
            for payload in line_payloads(
                journal,
                part,
                batch_number,
                self.mapping,
                supply_voucher=self.supplies_vouchers(journal),
            ):
                operations.append(batch_codec.Operation("POST", "LedgerJournalLines", payload))
        for batch_number in holders[len(parts) :]:
            key = {"dataAreaId": company, "JournalBatchNumber": batch_number}
            operations.append(
                batch_codec.Operation("DELETE", key_segment("LedgerJournalHeaders", key))
            )
        if len(operations) > batch_codec.MAX_OPERATIONS:
            raise PostingError(
                f"replacing the lines takes {len(operations)} operations, more than one atomic"
                f" $batch may hold ({batch_codec.MAX_OPERATIONS}); delete the unposted journals"
                " in F&O and run the pay period again"
            )
        try:
            self.client.batch([operations])
        except AmbiguousWriteError:
            self._poll(lambda: self.propose(build).kind == CorrectionKind.NONE)
        proposal.batch_numbers = holders[: len(parts)]

    def _correcting_journal(self, build: JournalBuild, proposal: Correction) -> None:
        """Write correction n: the first that does not exist, or an unfinished one (resumed)."""
        original = build.journal
        earlier: list[LedgerLine] = []
        n = 1
        while True:
            identity = original.identity.corrected_by(n)
            view = LedgerView(self.client, identity, integration_key=self._integration_key)
            view.reload()
            lines = [line for s in view.states() for line in s.lines.values()]
            debit = sum((line.debit for line in lines), Decimal("0"))
            credit = sum((line.credit for line in lines), Decimal("0"))
            if not view.states() or not debit or debit != credit:
                break  # n is free, or unfinished (a complete correction is one balanced voucher)
            earlier += lines
            n += 1
        held = LedgerView(self.client, original.identity, integration_key=self._integration_key)
        held.reload()
        in_dynamics = [line for s in held.states() for line in s.lines.values()] + earlier
        fixes = account_differences(in_dynamics, expected_lines(original, self.mapping).values())
        journal = correcting_journal(
            original, n, fixes, self.mapping.dimension_format, proposal.holders
        )
        parts = split_parts(journal, self.mapping.journal.max_lines_per_journal)
        expected = expected_lines(journal, self.mapping)
        plan = plan_next(expected, parts, view.states())
        if plan.kind is PlanKind.WRITE:
            plan = self._write(journal, parts, expected, view, plan, {})
        if plan.kind is not PlanKind.PRESENT:
            raise PostingError(
                f"correcting journal {n}: {plan.reason or plan.kind.value}; nothing more written"
            )
        self._check_totals(view, plan)
        proposal.batch_numbers = list(plan.holders)


def _describe(proposal: Correction, requested_by: str) -> str:
    verb = "applied" if proposal.applied else "proposed"
    written = f" into {', '.join(proposal.batch_numbers)}" if proposal.batch_numbers else ""
    details = "; ".join(d.describe() for d in proposal.differences)
    return (
        f"correction {verb} by {requested_by}: {proposal.kind}{written}"
        f" (journals {', '.join(proposal.holders) or '-'}). {details}"
    )
