"""``ml-connector run | replay | audit``: the payroll pipeline from the command line."""

import datetime as dt

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ml_connector_dagster.cli import context
from ml_connector_dagster.cli.launch import Submitter, submitting, verbose_option
from ml_connector_dagster.defs.failures import run_failure_messages

console = Console()


def _companies(legal_entity: str | None) -> list[str]:
    if legal_entity:
        return [legal_entity.upper()]
    return list(context.mapping().companies)


# Exit codes of `run` and `replay` (README "Exit codes").
EXIT_OK = 0  # every requested journal created in F&O or already there
EXIT_NOT_DONE = 1  # something blocked, failed, or changed after it was written
EXIT_NOTHING_TO_POST = 3  # no requested partition had anything to post
EXIT_AWAITING_APPROVAL = 4  # nothing failed; a partition waits for finance's approval
WAITING = "waiting for approval"  # posting/status.py JournalStatus.AWAITING_APPROVAL


def _status_cell(outcome) -> str:
    """The result in F&O's words: "created in F&O, not posted" is never shortened to "posted"."""
    if outcome.success:
        if outcome.status == WAITING:
            return f"[yellow]{WAITING}[/yellow]"
        if outcome.nothing_to_post:
            return "[yellow]nothing to post[/yellow]"
        return f"[green]{outcome.status or 'done'}[/green]"
    if "Rippling changed" in outcome.error:
        label = "CHANGED AFTER IT WAS CREATED"
    elif outcome.failed_checks or "blocked by" in outcome.error:
        label = "BLOCKED"
    else:
        label = "FAILED"
    return f"[red]{label}[/red]"


def print_freed_runs(freed) -> None:
    """One line per run whose process was gone and that was freed (``stale_runs``)."""
    for dead in freed:
        console.print(f"[yellow]freed[/yellow] {dead.describe()}", soft_wrap=True)


def _free_dead_runs(instance, command: str) -> None:
    """Mark runs of this host whose process died failed and free their pool slots
    (``defs/stale_runs.py``), printing each: a killed earlier run must not block this one for
    ever, and it must show as failed before ``replay`` decides what to re-run."""
    from ml_connector_dagster.defs.stale_runs import free_dead_runs

    print_freed_runs(free_dead_runs(instance, actor=f"ml-connector {command}"))


def _run_all(pairs: list[tuple[str, str]], command: str, verbose: bool) -> int:
    """Free dead runs (``_free_dead_runs``), then run each pair (``_run_pairs``)."""
    with submitting(command, verbose, console) as submitter:
        _free_dead_runs(submitter.instance, command)
        return _run_pairs(submitter, pairs)


def _run_pairs(submitter: Submitter, pairs: list[tuple[str, str]]) -> int:
    """Submit each (pay period, company) as a run of ``payroll_to_ledger`` and follow it
    (``defs/headless.submit_partition``); print one row each; the exit code.

    One run after another, each followed to its end: the runs of one command never compete for
    the Dynamics pool with each other, and the table is in the order asked. A failed run's "why"
    is the root cause of its failed steps (``defs/failures.py``), which the Dagster log would
    otherwise be the only place to find.
    """
    from ml_connector_dagster.defs.headless import submit_partition

    instance = submitter.instance
    progress = submitter.progress

    table = Table(title="payroll to ledger")
    for column in (
        "pay period",
        "legal entity",
        "result",
        "journals (JournalBatchNumber)",
        "why",
        "Dagster run",
    ):
        table.add_column(column, overflow="fold")
    outcomes = []
    for pay_period, company in pairs:
        progress.begin(f"{pay_period} {company}")
        try:
            outcome = submit_partition(
                submitter.workspace, pay_period, company, progress.on_event, progress.on_queue
            )
        finally:
            progress.end()
        if not outcome.success:
            # The root cause of each failed step, every line of it, not Dagster's wrapper.
            outcome.error = "; ".join(run_failure_messages(instance, outcome.run_id)) or (
                outcome.error
            )
        outcomes.append(outcome)
        journals = ", ".join(f"{run}: {'/'.join(n)}" for run, n in outcome.posted.items())
        why = outcome.error or outcome.why or "-"
        if outcome.failed_checks and "blocked by" not in why:
            why = f"blocked by {', '.join(outcome.failed_checks)}; {why}"
        table.add_row(
            pay_period,
            company,
            _status_cell(outcome),
            journals or "-",
            escape(why),  # F&O's and our texts hold brackets that are not rich markup
            outcome.run_id,
        )
    console.print(table)
    if any(not o.success for o in outcomes):
        return EXIT_NOT_DONE
    if any(o.status == WAITING for o in outcomes):
        return EXIT_AWAITING_APPROVAL
    if all(o.nothing_to_post for o in outcomes):
        return EXIT_NOTHING_TO_POST
    return EXIT_OK


def _validated_pay_period(text: str) -> str:
    """A real calendar date that ends a pay period in Rippling, or a clear error.

    Checked before any partition is created: a partition is permanent in the UI, so a typo
    must never become one.
    """
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a calendar date (YYYY-MM-DD)", param_hint="--pay-period"
        ) from None
    with context.connection().rippling() as rippling:
        ends = sorted(
            {r.pay_period.end_date for r in rippling.payroll_runs() if r.pay_period is not None}
        )
    if day not in ends:
        near = sorted(ends, key=lambda end: abs((end - day).days))[:3]
        hint = ", ".join(d.isoformat() for d in sorted(near)) or "none: Rippling lists no run"
        raise click.BadParameter(
            f"no Rippling pay period ends on {day.isoformat()} (nearest: {hint})",
            param_hint="--pay-period",
        )
    return day.isoformat()


@click.command("run")
@click.option("--pay-period", required=True, help="Pay period end date, e.g. 2026-11-15.")
@click.option("--legal-entity", help="Dynamics company (dataAreaId); default: every mapped one.")
@verbose_option
def run_command(pay_period: str, legal_entity: str | None, verbose: bool) -> None:
    """Run one pay period end to end: a run of the payroll_to_ledger job per legal entity,
    through the instance's run queue. Exit 0: every journal created in F&O or already there;
    1: blocked, failed or changed after it was written; 3: nothing to post; 4: waiting for
    finance's approval (journal.approval: required), nothing written; 5: the run waits in the
    queue for a Dagster daemon that stopped."""
    companies = _companies(legal_entity)
    period = _validated_pay_period(pay_period)
    raise SystemExit(_run_all([(period, company) for company in companies], "run", verbose))


def _pairs(keys: list[str]) -> list[tuple[str, str]]:
    """(pay period, company) of each 'COMPANY|PAY_PERIOD' key, or a clear parameter error."""
    from ml_connector_dagster.defs.payroll.partitions import PayrollPartition

    pairs = []
    for key in keys:
        company, sep, period = key.partition("|")
        try:
            partition = PayrollPartition.parse(f"{company.upper()}{sep}{period}")
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--partition") from None
        pairs.append((partition.pay_period, partition.company))
    return pairs


@click.command()
@click.option(
    "--partition",
    "partitions",
    multiple=True,
    help="'COMPANY|PAY_PERIOD' (e.g. 'USMF|2026-11-15'); default: every unfinished one.",
)
@verbose_option
def replay(partitions: tuple[str, ...], verbose: bool) -> None:
    """Re-run unfinished partitions (failed, blocked, interrupted) idempotently through Dagster.

    Unfinished: a journal identity the audit trail holds as not final, or a partition whose
    latest payroll run failed or was canceled before posting anything (``defs/payroll/
    unfinished.py``). Runs whose process died are freed (marked failed) first, so a killed run
    counts as failed, not as still running.
    """
    from ml_connector_dagster.defs.payroll.unfinished import unfinished_partitions

    given = _pairs(list(partitions))  # a typo is refused before anything is touched
    with context.dagster_instance() as instance:
        _free_dead_runs(instance, "replay")
        if partitions:
            pairs = given
        else:
            with context.audit_store() as store:
                pairs = _pairs(unfinished_partitions(instance, store))
    if not pairs:
        console.print(
            "Nothing to replay: every journal identity is in a final state and no payroll"
            " run failed before posting."
        )
        return
    with submitting("replay", verbose, console) as submitter:
        code = _run_pairs(submitter, pairs)
    raise SystemExit(code)


@click.command()
@click.option("--pay-period", help="Pay period end date.")
@click.option("--journal", "journal_batch_number", help="A JournalBatchNumber.")
@click.option("--payroll-run", "payroll_run_id", help="A Rippling payroll run id.")
def audit(
    pay_period: str | None, journal_batch_number: str | None, payroll_run_id: str | None
) -> None:
    """Print the posting trail of a pay period, journal or payroll run; without a selection,
    every journal identity that did not reach a final state (what `replay` would re-run)."""
    with context.audit_store() as store:
        if not (pay_period or journal_batch_number or payroll_run_id):
            _print_unfinished(store.unfinished())
            return
        rows = store.attempts(pay_period=pay_period, payroll_run_id=payroll_run_id)
        decisions = store.approvals.decisions(pay_period=pay_period) if pay_period else []
        unfinished = [
            u for u in store.unfinished() if not pay_period or pay_period in u.partition_key
        ]
    if journal_batch_number:
        rows = [r for r in rows if journal_batch_number in (r["journal_batch_number"] or "")]
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
        "triggered by",
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
            escape(r.get("triggered_by") or ""),
            escape((r["dynamics_answer"] or "")[:300]),
        )
    console.print(table)
    if not rows:
        console.print("no attempts recorded for that selection")
    if decisions:
        _print_decisions(decisions)
    if unfinished:
        _print_unfinished(unfinished)


def _print_decisions(decisions) -> None:
    """Finance's approvals and rejections (journal.approval: required), oldest first."""
    table = Table(title="approvals (what each decision binds to: payload hashes, shortened)")
    for column in ("at (UTC)", "partition", "decision", "by", "note or reason", "journals", "via"):
        table.add_column(column, overflow="fold")
    for d in decisions:
        table.add_row(
            d.decided_at.strftime("%Y-%m-%d %H:%M:%S"),
            f"{d.company}|{d.pay_period}",
            d.decision.value,
            escape(d.decided_by),
            escape(d.note),
            ", ".join(h[:12] for h in d.payload_hashes.values()),
            escape(d.via),
        )
    console.print(table)


def _print_unfinished(unfinished) -> None:
    if not unfinished:
        console.print("Every journal identity is in a final state; nothing to replay.")
        return
    table = Table(title="unfinished journal identities (ml-connector replay re-runs them)")
    for column in ("partition", "payroll run", "state", "last outcome", "why"):
        table.add_column(column, overflow="fold")
    for u in unfinished:
        table.add_row(u.partition_key, u.payroll_run_id, u.state, u.last_outcome, u.why[:300])
    console.print(table)
