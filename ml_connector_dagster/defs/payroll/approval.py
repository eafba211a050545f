"""Finance approves (or rejects) a pay period x company's journals before they reach F&O.

One code path for both doors: ``ml-connector approve`` / ``reject`` (``cli/approval.py``) and
the ``approve_journals`` job launched from the Dagster UI with run config. Both read the
journals this deployment stored for the partition (the ``labor_cost_journals`` value the IO
manager sealed after every check passed), refuse when there is nothing to approve (not built,
blocked by a check, built with another mapping, nothing to post), and record the decision
bound to those journals' payload hashes and the mapping (``audit/approvals.py``).

After an approval the partition posts without further work: the pay-run sensor asks for a
``payroll_to_ledger`` run of each partition that waits for approval and has an approval
recorded since it last waited (``approval_requests``; run key ``approval:<partition>:<decision
id>``, so each approval launches at most one run). That run rebuilds the journals from
Rippling; the poster writes them only if the approval still binds to exactly what was built.
Without the sensor running (``ML_CONNECTOR_AUTOMATION=off``), ``ml-connector run`` posts it.
"""

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum

import dagster as dg
from pydantic import Field

from ml_connector_dagster.audit.approvals import ApprovalDecision, Decision
from ml_connector_dagster.audit.store import AuditStore, Outcome
from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.defs import naming, tables
from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager
from ml_connector_dagster.defs.payroll.assets import labor_cost_journals, posted_journals
from ml_connector_dagster.defs.payroll.checks import MIN_WORKERS_PER_ROW, ONE_WORKER, WORKER
from ml_connector_dagster.defs.payroll.launcher import APPROVAL_TAG
from ml_connector_dagster.defs.payroll.partitions import PayrollPartition
from ml_connector_dagster.defs.resources import ConnectorResource
from ml_connector_dagster.defs.run_limits import runtime_tags
from ml_connector_dagster.defs.stale_runs import TRIGGER_TAG
from ml_connector_dagster.ledger.journal import JournalBuild
from ml_connector_dagster.posting.approval import REQUIRED, binding, built_with

HASH_SHOWN = 12  # characters of a payload hash shown to finance (the full one is stored)
REVIEW_COLUMNS = ("payroll run", "type", "lines", "currency", "debit", "credit", "payload hash")


class ApprovalRefused(ValueError):
    """Nothing to approve, or approvals are not used here; the message says why and what to do."""


@dataclass
class ApprovalReview:
    """What is being approved: the stored journals of one pay period x company."""

    pay_period: str
    company: str
    builds: list[JournalBuild]
    detail_level: str = "summary"
    decision: ApprovalDecision | None = None
    totals: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)

    def rows(self, *, withhold: bool = False) -> list[tuple]:
        """One row per journal (``REVIEW_COLUMNS``); ``withhold``: the summary-level rule of the
        UI's metadata, no amount of a journal of fewer than two workers."""
        rows = []
        for build in self.builds:
            journal = build.journal
            hide = withhold and self._one_worker(build)
            rows.append(
                (
                    journal.identity.run_id,
                    journal.identity.journal_type.value,
                    len(journal.lines),
                    ", ".join(journal.currencies),
                    None if hide else journal.total_debit,
                    None if hide else journal.total_credit,
                    journal.payload_hash()[:HASH_SHOWN],
                )
            )
        return rows

    def totals_withheld(self, *, withhold: bool) -> bool:
        return withhold and any(self._one_worker(b) for b in self.builds)

    def _one_worker(self, build: JournalBuild) -> bool:
        return (
            self.detail_level != WORKER and len(set(build.journal.worker_ids)) < MIN_WORKERS_PER_ROW
        )


def stored_journals(
    io_manager: PartitionFilesIOManager, pay_period: str, company: str
) -> list[JournalBuild] | None:
    """The journals stored for the partition by its last build that passed every check (None:
    none stored, or unreadable)."""
    key = str(PayrollPartition(pay_period, company).key())
    value = io_manager.load_value(labor_cost_journals.key, key)
    if value is None:
        return None
    return [b for b in value if isinstance(b, JournalBuild)]


def _latest_block(audit: AuditStore, pay_period: str, company: str) -> str:
    """The reason of the partition's latest trail row when it is a block by a check ("")."""
    key = str(PayrollPartition(pay_period, company))
    rows = [
        r
        for r in audit.attempts(pay_period=pay_period)
        if r["partition_key"] == key and r["outcome"] != Outcome.STARTED
    ]
    if rows and rows[-1]["outcome"] == Outcome.BLOCKED_BY_CHECK:
        return rows[-1]["dynamics_answer"] or "blocked by a check"
    return ""


def review(
    audit: AuditStore,
    mapping: PayrollMapping,
    io_manager: PartitionFilesIOManager,
    pay_period: str,
    company: str,
    decision: Decision,
) -> ApprovalReview:
    """The stored journals to decide on, or ``ApprovalRefused`` saying why there are none."""
    company = company.upper()
    partition = PayrollPartition(pay_period, company)  # a malformed key is refused here
    if mapping.journal.approval != REQUIRED:
        raise ApprovalRefused(
            "this connection posts without approval (journal.approval: automatic in the"
            " mapping); set journal.approval: required to make journals wait for finance"
        )
    if mapping.company(company) is None:
        raise ApprovalRefused(f"{company} is not a legal entity of the mapping")
    builds = stored_journals(io_manager, pay_period, company)
    run_it = f"{naming.COMMAND} run --pay-period {pay_period} --legal-entity {company}"
    if builds is None:
        raise ApprovalRefused(
            f"no journals are stored for {partition}: the pay period was not built yet, or its"
            f" checks blocked it ({naming.COMMAND} audit --pay-period {pay_period} says why). Build"
            f" it first: {run_it}"
        )
    if not builds or not any(b.journal.lines for b in builds):
        raise ApprovalRefused(f"{partition} has nothing to post: no journal to approve")
    if decision is Decision.APPROVED:
        blocked = _latest_block(audit, pay_period, company)
        if blocked:
            raise ApprovalRefused(
                f"{partition} is blocked by a check, nothing to approve until it passes: {blocked}"
            )
        if built_with(builds) != mapping.content_hash:
            raise ApprovalRefused(
                f"the journals stored for {partition} were built with another version of the"
                f" mapping file; build them again first: {run_it}"
            )
    result = ApprovalReview(pay_period, company, builds, mapping.journal.detail_level)
    sums: dict[str, list[Decimal]] = {}
    for build in builds:
        for line in build.journal.lines:
            pair = sums.setdefault(line.currency, [Decimal("0.00"), Decimal("0.00")])
            pair[0] += line.debit
            pair[1] += line.credit
    result.totals = {c: (d, k) for c, (d, k) in sorted(sums.items())}
    return result


def decide(
    audit: AuditStore,
    mapping: PayrollMapping,
    io_manager: PartitionFilesIOManager,
    *,
    pay_period: str,
    company: str,
    decision: Decision | str,
    by: str,
    note: str = "",
    via: str,
    dagster_run_id: str | None = None,
) -> ApprovalReview:
    """Review the stored journals and record the decision bound to them (the CLI's and the
    UI job's one path). ``ApprovalRefused`` when there is nothing to decide on or a name or
    reason is missing."""
    decision = Decision(decision)
    if not by.strip():
        raise ApprovalRefused("say who decides: a name in --by (the by field in the UI)")
    if decision is Decision.REJECTED and not note.strip():
        raise ApprovalRefused("a rejection needs a reason (--reason; note in the UI)")
    result = review(audit, mapping, io_manager, pay_period, company, decision)
    result.decision = audit.approvals.record_decision(
        connection=mapping.connection,
        pay_period=pay_period,
        company=result.company,
        decision=decision,
        by=by,
        note=note,
        payload_hashes=binding(result.builds),
        mapping_hash=built_with(result.builds) or mapping.content_hash,
        via=via,
        dagster_run_id=dagster_run_id,
    )
    return result


# --- the sensor's part -------------------------------------------------------------------------
def approval_requests(audit: AuditStore, connection: str, busy: set[str]) -> list[dg.RunRequest]:
    """A payroll run for each partition waiting for approval with an approval recorded since it
    last waited (not for one with a run queued or in progress: ``busy``). Idempotent: the run
    key names the decision, so one approval launches one run; a run that still finds no
    applying approval (the content changed) records a newer wait, and nothing more is asked
    until the next approval."""
    requests = []
    for waiting in audit.approvals.awaiting_approval(connection):
        decision = waiting.decision
        if not waiting.approved_since or decision is None or waiting.partition_key in busy:
            continue
        partition = PayrollPartition(waiting.pay_period, waiting.company)
        requests.append(
            dg.RunRequest(
                run_key=f"approval:{partition}:{decision.id}",
                partition_key=partition.key(),
                tags={
                    TRIGGER_TAG: "pay_run_sensor",
                    APPROVAL_TAG: f"decision {decision.id}, approved by {decision.decided_by}",
                },
            )
        )
    return requests


# --- the UI's door: the approve_journals job ----------------------------------------------------
class DecisionChoice(Enum):
    approved = "approved"
    rejected = "rejected"


class ApprovalConfig(dg.Config):
    """Launchpad config of ``approve_journals``: who approves or rejects which partition."""

    pay_period: str = Field(description="The pay period's end date, e.g. 2026-11-15")
    legal_entity: str = Field(description="The F&O company (dataAreaId), e.g. USMF")
    decision: DecisionChoice = Field(
        default=DecisionChoice.approved, description="approved, or rejected (give a reason)"
    )
    by: str = Field(description="Your name: recorded in the audit trail")
    note: str = Field(default="", description="A note; the reason, required for a rejection")


REVIEW_TABLE = (
    tables.text("payroll run"),
    tables.text("type"),
    tables.count("lines"),
    tables.currency(),
    tables.money("debit"),
    tables.money("credit"),
    tables.text("payload hash", "the first characters of the hash the decision binds to"),
)


@dg.op(
    description="Record finance's approval or rejection of a pay period x company's stored"
    " journals, bound to their content; the pay-run sensor then posts an approved partition.",
)
def record_approval(
    context: dg.OpExecutionContext,
    config: ApprovalConfig,
    connector: ConnectorResource,
    io_manager: dg.ResourceParam[PartitionFilesIOManager],
) -> None:
    mapping = connector.mapping()
    with connector.audit() as audit:
        try:
            result = decide(
                audit,
                mapping,
                io_manager,
                pay_period=config.pay_period.strip(),
                company=config.legal_entity.strip(),
                decision=config.decision.value,
                by=config.by,
                note=config.note,
                via=f"Dagster job approve_journals (run {context.run.run_id})",
                dagster_run_id=context.run.run_id,
            )
        except (ApprovalRefused, ValueError) as exc:
            raise dg.Failure(description=f"nothing recorded: {exc}") from None
    decision = result.decision
    assert decision is not None
    withheld = result.totals_withheld(withhold=True)
    totals = Counter({c: d for c, (d, _) in result.totals.items()})
    described = decision.describe()
    context.log.info(
        f"{result.company} {result.pay_period}: {described}; {len(result.builds)} journal(s),"
        f" hashes {', '.join(row[-1] for row in result.rows())}"
    )
    metadata = {
        "approval": described,
        "journals": tables.table(REVIEW_TABLE, result.rows(withhold=True)),
        "total_debit": dg.MetadataValue.json(
            {c: ONE_WORKER if withheld else str(a) for c, a in totals.items()}
        ),
        "next": "the pay-run sensor posts it if the content is unchanged"
        if decision.decision is Decision.APPROVED
        else "nothing is posted until a new approval",
    }
    context.log_event(
        dg.AssetObservation(
            asset_key=posted_journals.key,
            partition=str(PayrollPartition(result.pay_period, result.company)),
            metadata=metadata,
        )
    )


@dg.job(
    name=naming.name("approve_journals"),
    description="Approve or reject one pay period x company's journals before they are written"
    " to F&O (journal.approval: required). Fill pay_period, legal_entity, decision, by and note"
    " in the Launchpad.",
    tags={TRIGGER_TAG: "approve_journals", **runtime_tags()},
)
def approve_journals() -> None:
    record_approval()
