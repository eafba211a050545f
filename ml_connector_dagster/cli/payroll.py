"""``ml-connector run | replay | audit``: the payroll pipeline from the command line."""

import os
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ml_connector_dagster.audit.store import AuditStore, default_audit_url
from ml_connector_dagster.ledger.mapping import MappingError, load_mapping

console = Console()


def _instance():
    import dagster as dg

    from ml_connector_dagster.instance import prepare_dagster_home

    home = prepare_dagster_home(Path(os.environ.get("DAGSTER_HOME", ".dagster_home")))
    os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


def _companies(legal_entity: str | None) -> list[str]:
    if legal_entity:
        return [legal_entity.upper()]
    path = os.environ.get("ML_CONNECTOR_MAPPING")
    if not path:
        raise click.ClickException("set ML_CONNECTOR_MAPPING or pass --legal-entity")
    try:
        return list(load_mapping(Path(path)).companies)
    except MappingError as exc:
        raise click.ClickException(str(exc)) from None


def _run_all(pairs: list[tuple[str, str]]) -> bool:
    from ml_connector_dagster.defs.headless import run_partition

    table = Table(title="payroll to ledger")
    for column in (
        "pay period",
        "legal entity",
        "result",
        "journals (JournalBatchNumber)",
        "blocked by",
        "Dagster run",
    ):
        table.add_column(column, overflow="fold")
    ok = True
    with _instance() as instance:
        for pay_period, company in pairs:
            with console.status(f"{pay_period} {company}: snapshot, journals, checks, posting"):
                outcome = run_partition(instance, pay_period, company)
            ok = ok and outcome.success
            posted = ", ".join(f"{run[-8:]}: {'/'.join(n)}" for run, n in outcome.posted.items())
            table.add_row(
                pay_period,
                company,
                "[green]posted[/green]" if outcome.success else "[red]FAILED[/red]",
                posted or "-",
                ", ".join(outcome.failed_checks) or (outcome.error[:200] if outcome.error else "-"),
                outcome.run_id[:8],
            )
    console.print(table)
    return ok


@click.command("run")
@click.option("--pay-period", required=True, help="Pay period end date, e.g. 2026-11-15.")
@click.option("--legal-entity", help="Dynamics company (dataAreaId); default: every mapped one.")
def run_command(pay_period: str, legal_entity: str | None) -> None:
    """Run one pay period end to end through Dagster; non-zero exit if a check blocked or a
    post failed."""
    pairs = [(pay_period, company) for company in _companies(legal_entity)]
    if not _run_all(pairs):
        raise SystemExit(1)


@click.command()
@click.option(
    "--partition",
    "partitions",
    multiple=True,
    help="'COMPANY|PAY_PERIOD' (e.g. 'USMF|2026-11-15'); default: every failed one.",
)
def replay(partitions: tuple[str, ...]) -> None:
    """Re-run failed partitions (from the audit trail) idempotently through Dagster."""
    keys = list(partitions)
    if not keys:
        store = AuditStore(default_audit_url())
        keys = store.failed_partitions()
        store.dispose()
    if not keys:
        console.print("Nothing to replay: no partition's latest attempt failed.")
        return
    pairs = []
    for key in keys:
        company, _, period = key.partition("|")
        if not period:
            raise click.BadParameter(f"{key!r}: expected COMPANY|PAY_PERIOD")
        pairs.append((period, company.upper()))
    if not _run_all(pairs):
        raise SystemExit(1)


@click.command()
@click.option("--pay-period", help="Pay period end date.")
@click.option("--journal", "journal_batch_number", help="A JournalBatchNumber.")
@click.option("--payroll-run", "payroll_run_id", help="A Rippling payroll run id.")
def audit(
    pay_period: str | None, journal_batch_number: str | None, payroll_run_id: str | None
) -> None:
    """Print the posting trail of a pay period, journal or payroll run."""
    if not (pay_period or journal_batch_number or payroll_run_id):
        raise click.UsageError("give --pay-period, --journal or --payroll-run")
    store = AuditStore(default_audit_url())
    rows = store.attempts(pay_period=pay_period, payroll_run_id=payroll_run_id)
    if journal_batch_number:
        rows = [r for r in rows if journal_batch_number in (r["journal_batch_number"] or "")]
    store.dispose()
    table = Table(title="audit trail")
    for column in (
        "at (UTC)",
        "partition",
        "payroll run",
        "type",
        "outcome",
        "journal",
        "debit",
        "credit",
        "lines",
        "Dagster run",
        "Dynamics answer",
    ):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            r["at"].strftime("%Y-%m-%d %H:%M:%S"),
            r["partition_key"] or "",
            r["payroll_run_id"],
            r["journal_type"],
            r["outcome"],
            r["journal_batch_number"] or "",
            r["total_debit"] or "",
            r["total_credit"] or "",
            str(r["line_count"] or ""),
            (r["dagster_run_id"] or "")[:8],
            (r["dynamics_answer"] or "")[:160],
        )
    console.print(table)
    if not rows:
        console.print("no attempts recorded for that selection")
