"""``ml-connector reconcile MONTH`` and ``ml-connector accrue MONTH``: month end from the
command line.

Each company is one run of the ``month_end_reconciliation`` (or ``month_end_accrual``) job
through the instance's queue, exactly what the UI launches (the asset, its check; Dagster
records it), followed to its end.

``reconcile`` prints, per company, how many places matched and what differs, and with
``--export`` writes the stored result where finance wants it (xlsx or csv). Exit codes: 0
every company reconciled; 1 a run failed; 3 the runs finished but a company did not reconcile
(a difference, journals awaiting posting, entries of other sources, or an incomplete
register): the table and the workbook say which.

``accrue`` prints, per company, the accrual's status in F&O's words ("created in F&O, not
posted", "already in F&O, not posted", "nothing to accrue"), its journal and the basis. Exit
codes: 0 every company's accrual is in F&O or there was nothing to accrue; 1 a run failed or
was blocked.
"""

from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ml_connector_dagster.cli import context
from ml_connector_dagster.cli.launch import submitting, verbose_option
from ml_connector_dagster.defs.failures import run_failure_messages

console = Console()

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_NOT_RECONCILED = 3


def _month(text: str):
    from ml_connector_dagster.month_end.month import Month

    try:
        return Month.parse(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="MONTH") from None


def _companies(legal_entity: str | None) -> list[str]:
    mapping = context.mapping()
    if legal_entity:
        if mapping.company(legal_entity) is None:
            raise click.BadParameter(
                f"{legal_entity.upper()} is not a legal entity of the mapping"
                f" ({', '.join(mapping.companies)})",
                param_hint="--legal-entity",
            )
        return [legal_entity.upper()]
    return list(mapping.companies)


def _export_path(output: Path, company: str, several: bool, suffix: str) -> Path:
    """``output`` itself for one company; ``<stem>-<COMPANY><suffix>`` beside it for several."""
    if not several:
        return output
    stem = output.name.removesuffix(output.suffix) if output.suffix else output.name
    return output.with_name(f"{stem}-{company}{suffix}")


def _submit_month(
    submitter, job_name: str, partition, run_config: dict | None = None
) -> tuple[object, bool]:
    """One month x company as a run of ``job_name`` through the queue, followed to its end:
    (the run, whether it succeeded)."""
    import dagster as dg

    from ml_connector_dagster.defs.headless import cli_trigger_tags
    from ml_connector_dagster.defs.month_end.partitions import month_partitions
    from ml_connector_dagster.defs.payroll.partitions import legal_entities
    from ml_connector_dagster.defs.submit import follow_run, submit_job_run

    key = str(partition.key())
    submitter.instance.add_dynamic_partitions(legal_entities.name, [partition.company])
    tags = {**month_partitions.get_tags_for_partition_key(key), **cli_trigger_tags()}
    submitter.progress.begin(f"{partition.month} {partition.company}")
    try:
        run = submit_job_run(submitter.workspace, job_name, tags=tags, run_config=run_config)
        ended = follow_run(
            submitter.workspace,
            run.run_id,
            submitter.progress.on_event,
            submitter.progress.on_queue,
        )
    finally:
        submitter.progress.end()
    return run, ended.status == dg.DagsterRunStatus.SUCCESS


def _failure(instance, run) -> str:
    return "; ".join(run_failure_messages(instance, run.run_id)) or "the run failed"


@click.command("reconcile")
@click.argument("month")
@click.option("--legal-entity", help="One company (dataAreaId); default: every mapped company.")
@click.option(
    "--export",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the reconciliation here (one file per company when several).",
)
@click.option(
    "--format",
    "format_",
    type=click.Choice(["xlsx", "csv"]),
    default="xlsx",
    show_default=True,
    help="csv: one file per sheet, <stem>-places.csv and so on.",
)
@verbose_option
def reconcile_command(
    month: str, legal_entity: str | None, output: Path | None, format_: str, verbose: bool
) -> None:
    """Reconcile MONTH (2026-11): Rippling's register against the posted ledger."""
    from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager
    from ml_connector_dagster.defs.month_end.partitions import MonthPartition
    from ml_connector_dagster.defs.month_end.reconciliation import ASSET_KEY, reconciliation_job
    from ml_connector_dagster.export.reconciliation import write_reconciliation
    from ml_connector_dagster.export.writers import ExportFormat

    chosen = _month(month)
    companies = _companies(legal_entity)
    table = Table(title=f"labor cost reconciliation {chosen}")
    for column in ("legal entity", "result", "places", "what differs", "workbook", "Dagster run"):
        table.add_column(column, overflow="fold")
    codes: list[int] = []
    with submitting("reconcile", verbose, console) as submitter:
        instance = submitter.instance
        for company in companies:
            partition = MonthPartition(chosen, company)
            key = str(partition.key())
            run, success = _submit_month(submitter, reconciliation_job.name, partition)
            if not success:
                why = _failure(instance, run)
                table.add_row(company, "[red]FAILED[/red]", "-", escape(why), "-", run.run_id)
                codes.append(EXIT_FAILED)
                continue
            values, unreadable = PartitionFilesIOManager().load_partitions(ASSET_KEY, [key])
            if key not in values or unreadable:
                table.add_row(
                    company, "[red]FAILED[/red]", "-", "the result cannot be read", "-", run.run_id
                )
                codes.append(EXIT_FAILED)
                continue
            result = values[key]
            counts = result.reconciliation.counts()
            places = ", ".join(f"{n} {status.value}" for status, n in counts.items() if n)
            workbook = "-"
            if output is not None:
                suffix = ".xlsx" if format_ == "xlsx" else ".csv"
                target = _export_path(output, company, len(companies) > 1, suffix)
                written = write_reconciliation(result, target, ExportFormat(format_))
                workbook = ", ".join(str(p) for p in written)
            if result.reconciled:
                table.add_row(
                    company, "[green]reconciled[/green]", places, "-", workbook, run.run_id
                )
                codes.append(EXIT_OK)
            else:
                table.add_row(
                    company,
                    "[yellow]NOT RECONCILED[/yellow]",
                    places or "-",
                    escape(result.summary()),
                    workbook,
                    run.run_id,
                )
                codes.append(EXIT_NOT_RECONCILED)
    console.print(table)
    if EXIT_FAILED in codes:
        raise SystemExit(EXIT_FAILED)
    raise SystemExit(EXIT_NOT_RECONCILED if EXIT_NOT_RECONCILED in codes else EXIT_OK)


@click.command("accrue")
@click.argument("month")
@click.option("--legal-entity", help="One company (dataAreaId); default: every mapped company.")
@click.option(
    "--correct",
    is_flag=True,
    help="When the accrual in F&O differs from the estimate now, correct it (replace the lines"
    " of an unposted one, or write a correcting journal for a posted one).",
)
@click.option("--requested-by", default="", help="Who asks for the correction (the audit trail).")
@verbose_option
def accrue_command(
    month: str, legal_entity: str | None, correct: bool, requested_by: str, verbose: bool
) -> None:
    """Estimate and write MONTH's (2026-11) accrual of unpaid days to F&O."""
    from ml_connector_dagster.defs.month_end.accrual import ASSET_KEY, accrual_job
    from ml_connector_dagster.defs.month_end.partitions import MonthPartition

    chosen = _month(month)
    companies = _companies(legal_entity)
    if correct and not requested_by.strip():
        raise click.BadParameter("--correct needs --requested-by NAME", param_hint="--requested-by")
    run_config = {
        "ops": {
            ASSET_KEY.to_python_identifier(): {
                "config": {"apply_correction": correct, "requested_by": requested_by.strip()}
            }
        }
    }
    if not context.mapping().journal.month_end_accrual:
        raise click.ClickException(
            "the month-end accrual is off for this connection: set journal.month_end_accrual:"
            " true and accounts.accrued_payroll in the mapping"
        )
    table = Table(title=f"month-end accrual {chosen}")
    for column in (
        "legal entity",
        "result",
        "journal (JournalBatchNumber)",
        "basis",
        "Dagster run",
    ):
        table.add_column(column, overflow="fold")
    failed = False
    with submitting("accrue", verbose, console) as submitter:
        instance = submitter.instance
        for company in companies:
            partition = MonthPartition(chosen, company)
            run, success = _submit_month(submitter, accrual_job.name, partition, run_config)
            if not success:
                failed = True
                why = escape(_failure(instance, run))
                table.add_row(company, "[red]FAILED[/red]", "-", why, run.run_id)
                continue
            metadata = _materialization_metadata(instance, ASSET_KEY, str(partition.key()))
            status = str(metadata.get("status", "done"))
            journals = ", ".join(metadata.get("journal_batch_numbers", []) or []) or "-"
            basis = str(metadata.get("why") or metadata.get("unpaid_span") or "-")
            table.add_row(company, f"[green]{escape(status)}[/green]", journals, basis, run.run_id)
    console.print(table)
    raise SystemExit(EXIT_FAILED if failed else EXIT_OK)


def _materialization_metadata(instance, asset_key, partition: str) -> dict:
    """The plain values of the latest materialization's metadata of ``partition``."""
    import dagster as dg

    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[partition]), limit=1
    ).records
    if not records:
        return {}
    materialization = records[0].asset_materialization
    return {k: getattr(v, "value", v) for k, v in (materialization.metadata or {}).items()}
