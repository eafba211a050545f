"""``ml-connector journal export``: one partition's journals as a file finance opens in Excel.

It reads what the pipeline stored (the journals and the snapshot of the pay period x company,
``defs/io_manager.py``), never Rippling or F&O again: the file is the journal the checks
passed, line for line what the posting step writes. A partition whose latest journals step did
not materialize (never run, blocked by a check, failed, still running) has no current journal,
and the command says so and what to do, instead of exporting an older stored one.
"""

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ml_connector_dagster.audit.store import IdentityState
from ml_connector_dagster.cli import context
from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.export.journal import (
    JournalExport,
    Names,
    company_names,
    journal_export,
)
from ml_connector_dagster.export.writers import ExportError, ExportFormat, write_export
from ml_connector_dagster.ledger.journal import JournalBuild
from ml_connector_dagster.payroll.names import names_for as payroll_names
from ml_connector_dagster.payroll.snapshot import PeriodSnapshot

console = Console()

EXIT_OK = 0  # the file was written
EXIT_NOT_STORED = 1  # no current journals for the partition (or they cannot be read)
EXIT_NOTHING_TO_POST = 3  # the partition's journals are stored and there is none (as `run`)


class NotStored(click.ClickException):
    """The partition has no current stored journals: the message names it and what to do."""

    exit_code = EXIT_NOT_STORED


def _validated(pay_period: str, legal_entity: str) -> tuple[str, str]:
    """A calendar date and a plain dataAreaId, or a usage error (exit 2)."""
    from ml_connector_dagster.defs.payroll.partitions import PayrollPartition

    try:
        day = dt.date.fromisoformat(pay_period)
    except ValueError:
        raise click.BadParameter(
            f"{pay_period!r} is not a calendar date (YYYY-MM-DD)", param_hint="--pay-period"
        ) from None
    try:
        partition = PayrollPartition(day.isoformat(), legal_entity.upper())
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--legal-entity") from None
    return partition.pay_period, partition.company


def names_for(mapping: PayrollMapping, company: str, snapshot: PeriodSnapshot) -> Names:
    """The names shown next to the codes, as the journals step showed them: F&O's account
    names from the reference read the checks stored (no request to F&O; blank when none is
    stored, or when it was made under another mapping) and Rippling's department names from
    the stored snapshot."""
    import dagster as dg

    from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager
    from ml_connector_dagster.defs.payroll.fo_reference import REFERENCE_KEY
    from ml_connector_dagster.posting.reference import ReferenceRead

    try:  # an unreadable read is None already; no storage key configured is a Failure
        read = PartitionFilesIOManager().load_value(REFERENCE_KEY, None)
    except dg.Failure:
        read = None
    reference = None
    if isinstance(read, ReferenceRead) and read.mapping_hash == mapping.content_hash:
        reference = read.references.get(company.upper())
    return company_names(company, payroll_names(mapping, snapshot.workers.values(), reference))


def _stored(instance, pay_period: str, company: str) -> tuple[list[JournalBuild], PeriodSnapshot]:
    """The partition's stored journals and snapshot, or ``NotStored`` saying why and what to
    do. Current means: the journals step's latest attempt for the partition materialized."""
    import dagster as dg

    from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager
    from ml_connector_dagster.defs.payroll.assets import labor_cost_journals, payroll_cost_snapshot
    from ml_connector_dagster.defs.payroll.partitions import (
        legal_entities,
        partition_key,
        pay_periods,
        payroll_partitions,
    )

    key = str(partition_key(pay_period, company))
    asset = labor_cost_journals.key.to_user_string()
    run = f"`ml-connector run --pay-period {pay_period} --legal-entity {company}`"
    where = f"{asset} of partition {key} ({company} {pay_period})"
    known = pay_period in instance.get_dynamic_partitions(
        pay_periods.name
    ) and company in instance.get_dynamic_partitions(legal_entities.name)
    status = None
    if known:  # Dagster's status of a partition its instance never had is not asked
        statuses = instance.get_status_by_partition(
            labor_cost_journals.key, [key], payroll_partitions
        )
        status = (statuses or {}).get(key)
    if status is None:
        raise NotStored(
            f"{where} was never materialized here: run {run} (or materialize it in the"
            " Dagster UI), then export again"
        )
    if status is dg.AssetPartitionStatus.IN_PROGRESS:
        raise NotStored(f"{where} is being materialized by a run now: export when it has finished")
    if status is dg.AssetPartitionStatus.FAILED:
        raise NotStored(
            f"the latest run of {where} did not store journals: a check blocked it or it failed."
            f" `ml-connector audit --pay-period {pay_period}` and the failed check in the Dagster"
            f" UI say why; fix that, run {run} again, then export"
        )
    manager = PartitionFilesIOManager()
    try:
        journals, unreadable = manager.load_partitions(labor_cost_journals.key, [key])
        snapshots, unreadable_snapshots = manager.load_partitions(payroll_cost_snapshot.key, [key])
    except dg.Failure as exc:  # no storage key configured
        raise NotStored(f"{where}: {exc.description}") from None
    if unreadable or unreadable_snapshots:
        raise NotStored(
            f"{where}: the stored value cannot be read (sealed with a key no longer configured,"
            f" or altered); run {run} again to store it anew"
        )
    if key not in journals or key not in snapshots:
        raise NotStored(
            f"{where} is materialized but its stored value is not under this DAGSTER_HOME's"
            f" storage (another host, or deleted): run {run} again, then export"
        )
    return list(journals[key]), snapshots[key]


def _batch_numbers(builds: Sequence[JournalBuild]) -> dict[str, list[str]]:
    """The JournalBatchNumbers F&O holds for journals written with exactly this content."""
    numbers: dict[str, list[str]] = {}
    with context.audit_store() as store:
        for build in builds:
            journal = build.journal
            identity = store.identity(journal.identity.key)
            if (
                identity is not None
                and identity.state in (IdentityState.COMPLETE, IdentityState.POSTED)
                and identity.payload_hash == journal.payload_hash()
            ):
                numbers[journal.identity.key] = list(identity.journal_batch_numbers)
    return numbers


def default_output(pay_period: str, company: str, format: ExportFormat) -> Path:
    return Path(f"journals-{company}-{pay_period}.{format.value}")


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def print_totals(export: JournalExport) -> None:
    table = Table(title=f"totals of {export.company} {export.pay_period} against Rippling")
    for column in export.totals.columns:
        table.add_column(column.name, justify="right" if column.kind == "money" else "left")
    kinds = [column.kind for column in export.totals.columns]
    for row in export.totals.rows:
        cells = []
        for kind, value in zip(kinds, row, strict=True):
            if kind == "money":
                cells.append(_money(value if isinstance(value, Decimal) else None))
            elif value == "no":
                cells.append("[red]no[/red]")
            else:
                cells.append(escape(str(value or "")))
        table.add_row(*cells)
    console.print(table)


@click.group("journal")
def journal() -> None:
    """The journals of a pay period as finance reviews them."""


@journal.command("export")
@click.option("--pay-period", required=True, help="The pay period's end date, e.g. 2026-11-15.")
@click.option("--legal-entity", required=True, help="The F&O company (dataAreaId), e.g. USMF.")
@click.option(
    "--format",
    "format_",
    type=click.Choice([f.value for f in ExportFormat]),
    default=ExportFormat.XLSX.value,
    show_default=True,
    help="xlsx: one workbook (Lines, Totals); csv: <stem>-lines.csv and <stem>-totals.csv.",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="The file (or, for csv, the stem) to write; a directory puts the default name in it."
    " Default: journals-<COMPANY>-<PAY_PERIOD>.<format> in the current directory.",
)
def export_command(pay_period: str, legal_entity: str, format_: str, output: Path | None) -> None:
    """Write one pay period x company's stored journals (lines with accounts, dimensions, names,
    debit, credit, currency; totals by category reconciled to Rippling) for Excel.

    Exit 0: written. 1: the partition has no current stored journals (never run, blocked,
    failed or running; the message says what to do) or the file could not be written.
    2: usage error. 3: the journals are stored and there is none (nothing to post)."""
    pay_period, company = _validated(pay_period, legal_entity)
    format = ExportFormat(format_)
    mapping = context.mapping()
    with context.dagster_instance() as instance:
        builds, snapshot = _stored(instance, pay_period, company)
    if not builds:
        console.print(
            f"[yellow]{company} {pay_period}: no journal to export:"
            f" {escape(snapshot.nothing_to_post_reason())}[/yellow]"
        )
        raise SystemExit(EXIT_NOTHING_TO_POST)
    export = journal_export(
        pay_period,
        company,
        builds,
        snapshot,
        mapping,
        names_for(mapping, company, snapshot),
        _batch_numbers(builds),
    )
    target = output or default_output(pay_period, company, format)
    if target.is_dir():
        target = target / default_output(pay_period, company, format).name
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        written = write_export(export, target, format)
    except (ExportError, OSError) as exc:
        raise click.ClickException(f"{company} {pay_period}: nothing written: {exc}") from None
    print_totals(export)
    for path in written:
        console.print(f"wrote {escape(str(path.resolve()))}", soft_wrap=True)
    if not export.reconciled:
        console.print("[red]the journals do not reconcile with Rippling: see the Totals[/red]")
    raise SystemExit(EXIT_OK)
