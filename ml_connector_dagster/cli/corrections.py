"""``ml-connector correct``: review, then apply, the correction of a changed payroll run.

A dry run by default: it shows, per journal of the pay period and company, what F&O holds
against Rippling now and the fix (replace the lines of an unposted journal, or a correcting
journal when it is posted). ``--apply`` writes it; the audit trail records who asked.
"""

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ml_connector_dagster.cli import context
from ml_connector_dagster.cli.launch import Submitter, submitting, verbose_option
from ml_connector_dagster.cli.payroll import _validated_pay_period
from ml_connector_dagster.defs.failures import step_failure_messages

console = Console()

EXIT_OK = 0  # F&O equals Rippling now (nothing to correct, or the correction was applied)
EXIT_DIFFERS = 1  # F&O still differs (dry run, refused or failed): the table says why


@click.command("correct")
@click.option("--pay-period", required=True, help="The pay period's end date, e.g. 2026-11-15.")
@click.option("--legal-entity", required=True, help="The F&O company, e.g. USMF.")
@click.option("--apply", "apply_", is_flag=True, help="Write the correction (default: dry run).")
@click.option("--requested-by", default=None, help="Who asks; default: your login name.")
@verbose_option
def correct(
    pay_period: str, legal_entity: str, apply_: bool, requested_by: str | None, verbose: bool
) -> None:
    """Compare F&O with Rippling now for one pay period and company; fix it with --apply.

    A run of the correct_ledger job through the instance's run queue. Exit 0: F&O equals
    Rippling (nothing to correct, or applied). 1: it still differs (dry run, refused or failed;
    the table says why). 2: usage error. 5: the run waits in the queue for a Dagster daemon
    that stopped."""
    pay_period = _validated_pay_period(pay_period)
    company = legal_entity.upper()
    with submitting("correct", verbose, console) as submitter:
        _correct(submitter, pay_period, company, apply_, requested_by)


def _correct(
    submitter: Submitter, pay_period: str, company: str, apply_: bool, requested_by: str | None
) -> None:
    import dagster as dg

    from ml_connector_dagster.defs.payroll.corrections import (
        CORRECTION_COLUMNS,
        ledger_corrections,
        submit_correction,
    )

    progress = submitter.progress
    progress.begin(f"{pay_period} {company}")
    try:
        run, events = submit_correction(
            submitter.workspace,
            pay_period,
            company,
            apply=apply_,
            requested_by=requested_by,
            on_event=progress.on_event,
            on_queue=progress.on_queue,
        )
    finally:
        progress.end()
    rows: list[list[str]] = []
    for event in events:
        if (
            event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
            and event.asset_key == ledger_corrections.key
        ):
            rows = list(event.materialization.metadata["rows"].value)
    if rows:
        table = Table(
            title=f"correction of {company} {pay_period} ({'apply' if apply_ else 'dry run'})"
        )
        for column in CORRECTION_COLUMNS:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    elif run.status == dg.DagsterRunStatus.SUCCESS:
        # An empty table says nothing to the reader; this does.
        console.print(
            f"The connector created no journal of {company} for {pay_period} in F&O:"
            " nothing to correct."
        )
    console.print(f"Dagster run {run.run_id}")
    if run.status != dg.DagsterRunStatus.SUCCESS:
        for reason in step_failure_messages(events):
            console.print(f"[red]{escape(reason)}[/red]")
        raise SystemExit(EXIT_DIFFERS)
    pending = [
        r for r in rows if r[1].startswith(("replace", "create")) and "(applied)" not in r[1]
    ]
    waiting = [r for r in rows if "waiting for approval" in r[1]]
    if waiting:
        for what in sorted({r[1] for r in waiting}):
            console.print(f"[yellow]{escape(what)}[/yellow]", soft_wrap=True)
        console.print(
            "[yellow]Nothing was written: this connection requires an approval of the corrected"
            " content first (journal.approval: required). Approve it with:"
            f" {context.settings().command()} approve"
            f" --pay-period {pay_period} --legal-entity {company} --by NAME, then run this"
            " again with --apply.[/yellow]",
            soft_wrap=True,
        )
        raise SystemExit(EXIT_DIFFERS)
    if pending:
        console.print(
            "[yellow]F&O differs from Rippling; nothing was written. Run again with"
            " --apply to write the correction.[/yellow]"
        )
        raise SystemExit(EXIT_DIFFERS)
    raise SystemExit(EXIT_OK)
