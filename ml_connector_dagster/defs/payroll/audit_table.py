"""The partition's audit trail as a table in the UI: every attempt, what Dynamics answered.

``ml-connector audit`` prints the same rows; here finance sees them next to the journals
without a terminal. Newest last, at most ``tables.LIMIT`` (the newest kept). A run of one
worker keeps its rows without the totals (at the summary detail level; see ``assets.py``).
"""

from decimal import Decimal, InvalidOperation

import dagster as dg

from ml_connector_dagster.audit.store import AuditStore
from ml_connector_dagster.defs import tables
from ml_connector_dagster.ledger.checks import mask_amounts

# What happened first (the panel is narrow), the ids after.
AUDIT_COLUMNS = (
    tables.text("at", "when, UTC"),
    tables.text("outcome"),
    tables.text("JournalBatchNumber"),
    tables.money("debit"),
    tables.money("credit"),
    tables.count("lines"),
    tables.text("triggered by", "the sensor, backfill, command and user, or the approval"),
    tables.text("journal", "journal type"),
    tables.text("run", "the Rippling payroll run"),
    tables.text("Dagster run"),
    tables.text("answer", "what Dynamics or the checks said"),
)


def _amount(text: str | None) -> Decimal | None:
    try:
        return Decimal(text) if text else None
    except InvalidOperation:
        return None


def audit_rows(audit: AuditStore, pay_period: str, company: str, withheld: set[str]) -> list[tuple]:
    """The attempts of (``pay_period``, ``company``), oldest first; ``withheld``: runs whose
    totals are one person's pay."""
    rows = []
    for a in audit.attempts(pay_period=pay_period):
        if str(a["company"]).upper() != company.upper():
            continue
        hide = a["payroll_run_id"] in withheld
        answer = a["dynamics_answer"] or ""
        rows.append(
            (
                a["at"].isoformat(timespec="seconds") if a["at"] else None,
                a["outcome"],
                a["journal_batch_number"],
                None if hide else _amount(a["total_debit"]),
                None if hide else _amount(a["total_credit"]),
                a["line_count"],
                a.get("triggered_by") or "",
                a["journal_type"],
                a["payroll_run_id"],
                a["dagster_run_id"],
                mask_amounts(answer, keep=[a["payroll_run_id"]]) if hide else answer,
            )
        )
    return rows[-tables.LIMIT :]


def audit_table(
    audit: AuditStore, pay_period: str, company: str, withheld: set[str]
) -> dg.TableMetadataValue:
    return tables.table(AUDIT_COLUMNS, audit_rows(audit, pay_period, company, withheld))
