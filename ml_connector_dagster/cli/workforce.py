"""``ml-connector workforce``: align Dynamics Workers, employments and vendors with Rippling.

``plan`` is the dry run (prints what would be written, writes nothing: not even the worker map
or the audit trail); ``sync`` applies it; ``headcount`` compares heads per company.
"""

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ml_connector_dagster import clock
from ml_connector_dagster.cli import context
from ml_connector_dagster.cli.launch import Submitter, submitting, verbose_option
from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.config.workforce import WorkforceSettings
from ml_connector_dagster.workforce.plan import Plan
from ml_connector_dagster.workforce.sync import SyncOutcome, read_headcount, sync_workers
from ml_connector_dagster.workforce.triggers import reread_workers

MARKS = {
    "applied": "[green]applied[/green]",
    "failed": "[red]failed[/red]",
    "ambiguous": "[red]ambiguous[/red]",
    "skipped": "[yellow]skipped[/yellow]",
    "reported": "[yellow]reported[/yellow]",
}

mapping_option = click.option(
    "--mapping",
    "mapping_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Mapping file (default: $ML_CONNECTOR_MAPPING).",
)
worker_option = click.option(
    "--worker",
    "worker_ids",
    multiple=True,
    help="Only this Rippling worker id (repeatable); default: every worker.",
)


def _load(mapping_path: Path | None) -> tuple[PayrollMapping, WorkforceSettings]:
    mapping = context.mapping(mapping_path)
    return mapping, mapping.workforce


def render_plan(plan: Plan, console: Console, title: str = "workforce plan") -> None:
    table = Table(title=title)
    for column in ("action", "personnel number", "company", "rippling worker", "detail"):
        table.add_column(column, overflow="fold")
    for action in plan.actions:
        kind = action.kind.value
        table.add_row(
            f"[yellow]{kind}[/yellow]" if kind == "report" else kind,
            action.personnel_number or "",
            action.company or "",
            action.rippling_worker_id or "",
            action.describe(),
        )
    console.print(table)
    counts = ", ".join(f"{n} {k}" for k, n in sorted(plan.counts().items()))
    console.print(f"{len(plan.writes)} write(s) planned" + (f" ({counts})" if counts else ""))


def _run(
    mapping_path: Path | None, worker_ids: Sequence[str], today: dt.date | None, dry_run: bool
) -> SyncOutcome:
    mapping, settings = _load(mapping_path)
    connection = context.connection()
    with (
        context.audit_store() as store,
        connection.rippling() as rippling,
        connection.dynamics() as dynamics,
    ):
        if worker_ids:
            reread = reread_workers(rippling, worker_ids)
            workers, gone, full = reread.workers, reread.gone, False
        else:
            workers, gone, full = list(rippling.workers()), [], True
        return sync_workers(
            workers,
            dynamics=dynamics,
            store=store,
            mapping=mapping,
            settings=settings,
            today=today,
            full=full,
            gone=gone,
            dry_run=dry_run,
        )


today_option = click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The date the plan treats as today (default: today, UTC).",
)


@click.group()
def workforce() -> None:
    """Rippling workers to Dynamics Workers, employments and contractor vendors."""


@workforce.command("plan")
@mapping_option
@worker_option
@today_option
def plan_command(
    mapping_path: Path | None, worker_ids: tuple[str, ...], today: dt.datetime | None
) -> None:
    """Dry run: print the actions a sync would take; writes nothing."""
    outcome = _run(mapping_path, worker_ids, today.date() if today else None, dry_run=True)
    render_plan(outcome.plan, Console())


@workforce.command("sync")
@mapping_option
@worker_option
@today_option
@verbose_option
def sync_command(
    mapping_path: Path | None,
    worker_ids: tuple[str, ...],
    today: dt.datetime | None,
    verbose: bool,
) -> None:
    """Apply the plan: only the planned writes, each recorded in the audit trail.

    A run of the workforce_sync job through the instance's run queue. Exit 0: every planned
    write applied (or nothing to write); 1: a write failed or the run failed; 5: the run waits
    in the queue for a Dagster daemon that stopped."""
    console = Console()
    context.mapping(mapping_path)  # a bad file is refused here, before any run exists
    with submitting("workforce sync", verbose, console) as submitter:
        code = _sync(submitter, console, mapping_path, list(worker_ids), today)
    if code:
        raise SystemExit(code)


def _sync(
    submitter: Submitter,
    console: Console,
    mapping_path: Path | None,
    worker_ids: list[str],
    today: dt.datetime | None,
) -> int:
    import dagster as dg

    from ml_connector_dagster.defs.failures import step_failure_messages
    from ml_connector_dagster.defs.payroll.launcher import OS_USER_TAG, os_user
    from ml_connector_dagster.defs.stale_runs import TRIGGER_TAG
    from ml_connector_dagster.defs.tables import cells
    from ml_connector_dagster.defs.workforce.assets import APPLIED_KEY
    from ml_connector_dagster.defs.workforce.jobs import submit_workforce_sync

    progress = submitter.progress
    progress.begin("workforce sync")
    try:
        run, events = submit_workforce_sync(
            submitter.workspace,
            worker_ids,
            today=today.date().isoformat() if today else "",
            mapping_path=str(mapping_path.resolve()) if mapping_path else "",
            tags={TRIGGER_TAG: "cli-workforce", OS_USER_TAG: os_user()},
            on_event=progress.on_event,
            on_queue=progress.on_queue,
        )
    finally:
        progress.end()
    metadata = {}
    for event in events:
        if (
            event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
            and event.asset_key == APPLIED_KEY
        ):
            metadata = event.materialization.metadata
    table = Table(title="workforce sync")
    for column in ("action", "personnel number", "company", "outcome", "detail"):
        table.add_column(column, overflow="fold")
    for row in cells(metadata["results"]) if "results" in metadata else []:
        outcome = str(row["outcome"])
        table.add_row(
            str(row["action"]),
            str(row["PersonnelNumber"]),
            str(row["company"]),
            MARKS.get(outcome, outcome),
            escape(str(row["Dynamics answer"])),
        )
    console.print(table)
    counts = dict(metadata["counts_by_outcome"].value) if "counts_by_outcome" in metadata else {}
    console.print(
        ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        or "Dynamics already matches Rippling: nothing written."
    )
    console.print(f"Dagster run {run.run_id}")
    if run.status != dg.DagsterRunStatus.SUCCESS:
        for reason in step_failure_messages(events):
            console.print(f"[red]{escape(reason)}[/red]", soft_wrap=True)
        return 1
    return 0


@workforce.command("headcount")
@mapping_option
@today_option
def headcount_command(mapping_path: Path | None, today: dt.datetime | None) -> None:
    """Heads per company on a day, Rippling against Dynamics, naming who differs."""
    mapping, settings = _load(mapping_path)
    connection = context.connection()
    day = today.date() if today else clock.today()
    with (
        context.audit_store() as store,
        connection.rippling() as rippling,
        connection.dynamics() as dynamics,
    ):
        rows = read_headcount(
            rippling=rippling,
            dynamics=dynamics,
            store=store,
            mapping=mapping,
            settings=settings,
            as_of=day,
        )
    table = Table(title=f"headcount on {day}")
    for column in ("company", "Rippling", "Dynamics", "only in Rippling", "only in Dynamics"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row.company,
            str(row.rippling),
            str(row.dynamics),
            ", ".join(row.only_in_rippling),
            ", ".join(row.only_in_dynamics),
        )
    Console().print(table)
    if not all(row.matches for row in rows):
        raise SystemExit(1)
