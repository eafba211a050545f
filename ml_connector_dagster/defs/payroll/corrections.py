"""Corrections from the Dagster UI: the `correct_ledger` job, a dry run unless told to apply.

Finance launches `correct_ledger` for a pay period x company from the launchpad. With the
default config it only shows, per journal, what F&O holds against Rippling now and what would
fix it (replace the lines of an unposted journal, or a correcting journal when it is posted).
With ``apply: true`` (and a name in ``requested_by``) it writes that correction; the audit
trail records who asked, in which run. The snapshot and journal checks run first, as for
posting, so a correction is never built from data that fails them.
"""

import getpass
from collections.abc import Callable

import dagster as dg

from ml_connector_dagster.defs import naming, tables
from ml_connector_dagster.defs.payroll.assets import (
    GROUP,
    POLICY,
    labor_cost_journals,
    payroll_cost_snapshot,
)
from ml_connector_dagster.defs.payroll.launcher import OS_USER_TAG, os_user, poster_for_run
from ml_connector_dagster.defs.payroll.partitions import (
    legal_entities,
    partition_key,
    pay_periods,
    payroll_partitions,
    split_key,
)
from ml_connector_dagster.defs.pools import DYNAMICS_POOL
from ml_connector_dagster.defs.resources import ConnectorResource
from ml_connector_dagster.defs.run_limits import runtime_tags
from ml_connector_dagster.defs.stale_runs import TRIGGER_TAG
from ml_connector_dagster.defs.submit import QueueState, follow_run, submit_job_run
from ml_connector_dagster.dynamics.errors import DynamicsError
from ml_connector_dagster.ledger.journal import JournalBuild
from ml_connector_dagster.posting.corrections import Correction, JournalCorrector
from ml_connector_dagster.posting.poster import PostingError

CORRECTION_COLUMNS = (
    "run",
    "what",
    "journals in F&O",
    "written",
    "account and dimensions",
    "in F&O",
    "now",
    "difference",
)


class CorrectionConfig(dg.Config):
    """Dry run by default; ``apply`` writes the correction, recorded with ``requested_by``."""

    apply: bool = False
    requested_by: str = ""


# The UI table: amounts as numbers, currency a column (defs/tables.py says why numbers are for
# display only). ``correction_rows`` keeps the exact text the CLI prints (metadata ``rows``).
CORRECTION_TABLE = (
    tables.text("run", "the Rippling payroll run"),
    tables.text("what", "the correction and why"),
    tables.text("journals in F&O"),
    tables.text("written"),
    tables.text("account and dimensions"),
    tables.currency(),
    tables.money("in F&O"),
    tables.money("now"),
    tables.money("difference", "now minus in F&O"),
)


def _correction_cells(corrections: list[Correction]) -> list[tuple]:
    rows = []
    for c in corrections:
        what = f"{c.kind}{' (applied)' if c.applied else ''}: {c.reason}"
        common = (c.run_id, what, ", ".join(c.holders), ", ".join(c.batch_numbers))
        if not c.differences:
            rows.append((*common, "", "", None, None, None))
        for d in c.differences:
            rows.append((*common, d.account, d.currency, d.in_dynamics, d.now, d.difference))
    return rows


def correction_rows(corrections: list[Correction]) -> list[tuple]:
    """The rows as text, amounts exact (``CORRECTION_COLUMNS``): what the CLI prints."""
    rows = []
    for run, what, holders, written, account, currency, before, now, diff in _correction_cells(
        corrections
    ):
        if before is None:
            rows.append((run, what, holders or "-", written or "-", "-", "-", "-", "-"))
            continue
        rows.append(
            (
                run,
                what,
                holders or "-",
                written or "-",
                f"{account} {currency}",
                f"{before:,.2f}",
                f"{now:,.2f}",
                f"{diff:+,.2f}",
            )
        )
    return rows


@dg.asset(
    key_prefix=naming.key_prefix("dynamics"),
    partitions_def=payroll_partitions,
    backfill_policy=POLICY,
    group_name=GROUP,
    kinds={"dynamics365"},
    pool=DYNAMICS_POOL,
    ins={"journals": dg.AssetIn(key=labor_cost_journals.key)},
    description="Corrections of journals whose Rippling data changed after they reached F&O:"
    " proposed (dry run) or applied, with who asked. Launch the correct_ledger job.",
)
def ledger_corrections(
    context: dg.AssetExecutionContext,
    config: CorrectionConfig,
    connector: ConnectorResource,
    journals: dict[str, list[JournalBuild]],
) -> dg.MaterializeResult:
    key = str(context.partition_key)
    pay_period, _company = split_key(key)
    requested_by = config.requested_by.strip() or f"Dagster run {context.run.run_id}"
    corrections: list[Correction] = []
    with connector.dynamics() as dynamics, connector.audit() as audit:
        corrector = poster_for_run(
            JournalCorrector, context, dynamics, audit, connector.mapping(), requested_by
        )
        builds = journals.get(key, [])
        for build in builds:
            try:
                corrections.append(
                    corrector.correct(
                        build,
                        apply=config.apply,
                        requested_by=requested_by,
                        partition_key=key,
                        pay_period=pay_period,
                        partition_builds=builds,
                    )
                )
            except (DynamicsError, PostingError) as exc:
                raise dg.Failure(
                    description=f"{key}: correcting run {build.journal.identity.run_id} failed:"
                    f" {exc}",
                    metadata={"done": _table(corrections)},
                ) from None
    needed = [c for c in corrections if c.needed and not c.applied]
    refused = [c for c in corrections if c.kind.startswith("cannot")]
    metadata = {
        "mode": "apply" if config.apply else "dry run",
        "requested_by": requested_by,
        "summary": f"{len(corrections)} journal(s) compared"
        if corrections
        else "no journal in this pay period and company",
        "corrections": _table(corrections),
        "rows": dg.MetadataValue.json(
            [list(map(str, row)) for row in correction_rows(corrections)]
        ),
        "applied": sum(1 for c in corrections if c.applied),
        "awaiting_approval": sum(1 for c in corrections if c.awaiting_approval),
        "proposed": len(needed),
    }
    if refused:
        raise dg.Failure(
            description=f"{key}: " + "; ".join(f"run {c.run_id}: {c.reason}" for c in refused),
            metadata=metadata,
        )
    return dg.MaterializeResult(metadata=metadata)


def _table(corrections: list[Correction]) -> dg.TableMetadataValue:
    return tables.table(CORRECTION_TABLE, _correction_cells(corrections))


correction_job = dg.define_asset_job(
    naming.name("correct_ledger"),
    selection=dg.AssetSelection.assets(
        payroll_cost_snapshot, labor_cost_journals, ledger_corrections
    ),
    description="Dry run by default: what F&O holds against Rippling now per journal, and the"
    " fix. Set apply: true (and requested_by) in the ledger_corrections config to write it.",
    tags=runtime_tags(),
)


def submit_correction(
    workspace_context,
    pay_period: str,
    company: str,
    *,
    apply: bool,
    requested_by: str | None = None,
    on_event: Callable[[dg.DagsterEvent], None] = lambda _event: None,
    on_queue: Callable[[QueueState], None] | None = None,
) -> tuple[dg.DagsterRun, list[dg.DagsterEvent]]:
    """A run of the real ``correct_ledger`` job for one partition, submitted to the run queue
    and followed to its end (the CLI's way, ``defs/submit.py``): the run and its events."""
    instance: dg.DagsterInstance = workspace_context.instance
    key = partition_key(pay_period, company)
    instance.add_dynamic_partitions(pay_periods.name, [pay_period])
    instance.add_dynamic_partitions(legal_entities.name, [company])
    who = requested_by or _operator()
    run = submit_job_run(
        workspace_context,
        correction_job.name,
        tags={
            **payroll_partitions.get_tags_for_partition_key(str(key)),
            TRIGGER_TAG: "cli-correct",
            "ml_connector/requested_by": who,
            OS_USER_TAG: os_user(),
        },
        run_config={
            "ops": {
                ledger_corrections.key.to_python_identifier(): {
                    "config": {"apply": apply, "requested_by": who}
                }
            }
        },
    )
    events: list[dg.DagsterEvent] = []

    def collect(event: dg.DagsterEvent) -> None:
        events.append(event)
        on_event(event)

    return follow_run(workspace_context, run.run_id, collect, on_queue), events


def _operator() -> str:
    """Who runs the CLI: the login name (``getpass`` reads $LOGNAME/$USER, then the password
    database), else "unknown"."""
    try:
        return f"{getpass.getuser()} (ml-connector correct)"
    except (KeyError, OSError):
        return "unknown (ml-connector correct)"
