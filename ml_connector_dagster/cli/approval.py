"""``ml-connector approve | reject``: finance's decision on a pay period x company's journals.

For a connection whose mapping says ``journal.approval: required``. Each command reads the
journals stored for the partition by its last build that passed every check, prints what is
being decided on (journals, totals per currency, the payload hashes the decision binds to) and
records the decision in the audit database (``defs/payroll/approval.py``: the same code as the
``approve_journals`` job in the UI). After an approval the pay-run sensor posts the partition
on its next tick; ``ml-connector run`` does it at once.
"""

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ml_connector_dagster.cli import context

console = Console()


def _decide(pay_period: str, legal_entity: str, decision: str, by: str, note: str) -> None:
    from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager
    from ml_connector_dagster.defs.payroll.approval import (
        REVIEW_COLUMNS,
        ApprovalRefused,
        decide,
    )
    from ml_connector_dagster.defs.payroll.launcher import os_user

    mapping = context.mapping()
    context.settings()  # a missing setting is reported before anything is read
    try:
        with context.audit_store() as store:
            result = decide(
                store,
                mapping,
                PartitionFilesIOManager(),
                pay_period=pay_period,
                company=legal_entity,
                decision=decision,
                by=by,
                note=note,
                via=f"ml-connector {'approve' if decision == 'approved' else 'reject'}"
                f" (OS user {os_user()})",
            )
    except ApprovalRefused as exc:
        raise click.ClickException(f"nothing recorded: {exc}") from None
    except ValueError as exc:  # a malformed pay period or company
        raise click.BadParameter(str(exc)) from None
    table = Table(title=f"journals of {result.company} {result.pay_period}")
    for column in REVIEW_COLUMNS:
        table.add_column(column, overflow="fold")
    for run, kind, lines, currency, debit, credit, payload_hash in result.rows():
        table.add_row(
            run, kind, str(lines), currency, f"{debit:,.2f}", f"{credit:,.2f}", payload_hash
        )
    console.print(table)
    totals = Table(title="totals per currency")
    for column in ("currency", "debit", "credit"):
        totals.add_column(column)
    for currency, (debit, credit) in result.totals.items():
        totals.add_row(currency, f"{debit:,.2f}", f"{credit:,.2f}")
    console.print(totals)
    recorded = result.decision
    assert recorded is not None
    console.print(f"[bold]{escape(recorded.describe())}[/bold]", soft_wrap=True)
    if decision == "approved":
        console.print(
            "Recorded. The pay-run sensor posts these journals on its next tick, if Rippling and"
            " the mapping still give exactly this content (or run now: ml-connector run"
            f" --pay-period {result.pay_period} --legal-entity {result.company})."
        )
    else:
        console.print(
            "Recorded. Nothing is posted for this pay period and company until a new approval."
        )


@click.command()
@click.option("--pay-period", required=True, help="The pay period's end date, e.g. 2026-11-15.")
@click.option("--legal-entity", required=True, help="The F&O company (dataAreaId), e.g. USMF.")
@click.option("--by", "by", required=True, help="Who approves (recorded in the audit trail).")
@click.option("--note", default="", help="A note recorded with the approval.")
def approve(pay_period: str, legal_entity: str, by: str, note: str) -> None:
    """Approve the journals stored for a pay period and company (journal.approval: required).

    The approval binds to their content: if Rippling or the mapping changes before they are
    written, it no longer applies and they wait for a new one."""
    _decide(pay_period, legal_entity, "approved", by, note)


@click.command()
@click.option("--pay-period", required=True, help="The pay period's end date, e.g. 2026-11-15.")
@click.option("--legal-entity", required=True, help="The F&O company (dataAreaId), e.g. USMF.")
@click.option("--by", "by", required=True, help="Who rejects (recorded in the audit trail).")
@click.option("--reason", required=True, help="Why (recorded, and shown where it waits).")
def reject(pay_period: str, legal_entity: str, by: str, reason: str) -> None:
    """Reject the journals of a pay period and company: nothing is posted until a new approval."""
    _decide(pay_period, legal_entity, "rejected", by, reason)
