"""Whether the journals about to be written are covered by a finance approval.

The poster asks this right before its first write of a journal (``JournalPoster.post``, and
``JournalCorrector.correct`` before applying a correction): with ``journal.approval:
automatic`` the answer is always yes; with ``required`` it is yes only when the latest decision
of the pay period x company is an approval bound to exactly the partition's journals as built
now (``audit.approvals.approval_applies``). The journal being written must be one of them: a
caller that passes a partial set of journals gets a set that differs from the approved one, so
it is refused (fail closed), never waved through.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ml_connector_dagster.audit import approvals as book
from ml_connector_dagster.audit.approvals import ApprovalDecision
from ml_connector_dagster.audit.store import AuditStore
from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.config.settings import current_settings
from ml_connector_dagster.ledger.journal import JournalBuild

REQUIRED = "required"


@dataclass(frozen=True)
class ApprovalCheck:
    applies: bool
    why: str  # "not approved", "rejected by X: reason", "approved content changed: ..."
    decision: ApprovalDecision | None = None
    required: bool = True


def binding(builds: Iterable[JournalBuild]) -> dict[str, str]:
    """journal identity key -> payload hash: what an approval of these journals binds to."""
    return book.bound_hashes((b.journal.identity.key, b.journal.payload_hash()) for b in builds)


def built_with(builds: Sequence[JournalBuild]) -> str:
    """The mapping hash the journals were built with (one per partition; "" when they
    disagree, which no approval can match)."""
    hashes = {b.journal.mapping_hash for b in builds}
    return hashes.pop() if len(hashes) == 1 else ""


def approval_applies(
    decision: ApprovalDecision | None, builds: Sequence[JournalBuild]
) -> tuple[bool, str]:
    """The pure rule on builds: approved AND the same (identity -> payload hash) set AND the
    same mapping (``audit.approvals.approval_applies``)."""
    return book.approval_applies(decision, binding(builds), built_with(builds))


def check_approval(
    audit: AuditStore,
    mapping: PayrollMapping,
    build: JournalBuild,
    partition_builds: Sequence[JournalBuild] | None,
    *,
    pay_period: str,
) -> ApprovalCheck:
    """May ``build`` be written now? ``partition_builds``: every journal of its pay period x
    company as built now (None: ``build`` alone)."""
    if mapping.journal.approval != REQUIRED:
        return ApprovalCheck(
            True, "approval not required (journal.approval: automatic)", None, False
        )
    builds = list(partition_builds) if partition_builds is not None else [build]
    key = build.journal.identity.key
    if key not in {b.journal.identity.key for b in builds}:
        return ApprovalCheck(False, f"journal {key} is not one of its partition's journals")
    identity = build.journal.identity
    decision = audit.approvals.decision_for(identity.connection, pay_period, identity.company)
    applies, why = approval_applies(decision, builds)
    return ApprovalCheck(applies, why, decision)


def approve_command(pay_period: str, company: str) -> str:
    """What finance runs (or launches in the UI) to approve the partition."""
    settings = current_settings()
    job = settings.dagster_name("approve_journals")
    return (
        f"{settings.command()} approve --pay-period {pay_period} --legal-entity {company}"
        f" --by NAME (or the {job} job in Dagster)"
    )
