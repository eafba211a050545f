"""Which payroll partitions are unfinished: what ``ml-connector replay`` re-runs by default.

Two records see different failures, so both are asked:

- the audit store knows every journal identity that did not finish: a post F&O refused or that
  could not reach it, a blocking check, a process that died between claim and end
  (``AuditStore.failed_partitions``);
- Dagster's runs know the failures before any of that: a run that failed or was canceled
  before its posting step claimed an identity (Rippling unreachable during the snapshot, no
  Entra token, a kill during the snapshot) leaves nothing in the audit store, and without this
  second look its pay period would silently never be posted.

A partition is unfinished by its runs when its latest *payroll run* ended FAILURE or CANCELED:
a later run of it that succeeded, or one still queued or in progress, makes it not so. A
payroll run of a partition is a run tagged ``dagster/partition`` with its key whose plan
executes the posting step (the ``payroll_to_ledger`` job of the pay-run sensor, ``ml-connector
run`` and ``replay``, a UI materialization that includes posting). A corrections run, or a run
of the snapshot alone, posts nothing: its failure does not make a period unfinished, and its
success does not make one finished.

Bounded look-back: only the newest ``LOOKBACK_RUNS`` (1,000) runs tagged with a partition of
this instance's payroll partitions (pay periods x legal entities) are read. A partition whose
latest payroll run is older than that is not found here (its failure, if any, is long past;
``ml-connector replay --partition`` still runs it).

A killed run stays STARTED until ``stale_runs.free_dead_runs`` marks it failed: call that first,
or the partition of a run that died looks "in progress" and is skipped.
"""

import dagster as dg

from ml_connector_dagster.audit.store import AuditStore
from ml_connector_dagster.defs import naming
from ml_connector_dagster.defs.payroll.assets import posted_journals
from ml_connector_dagster.defs.payroll.jobs import payroll_job
from ml_connector_dagster.defs.payroll.partitions import legal_entities, pay_periods

LOOKBACK_RUNS = 1000
PARTITION_TAG = "dagster/partition"
# The step that claims journal identities and writes to F&O.
POSTING_STEP = posted_journals.key.to_python_identifier()
ENDED_UNFINISHED = frozenset({dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED})


def payroll_partition_keys(instance: dg.DagsterInstance) -> list[str]:
    """Every payroll partition key the instance knows ("USMF|2026-11-15"), sorted."""
    periods = instance.get_dynamic_partitions(pay_periods.name)
    companies = instance.get_dynamic_partitions(legal_entities.name)
    return sorted(
        str(dg.MultiPartitionKey({"pay_period": period, "legal_entity": company}))
        for period in periods
        for company in companies
    )


def _posting_run(
    instance: dg.DagsterInstance, run: dg.DagsterRun, plans: dict[str | None, bool]
) -> bool:
    """Whether ``run`` executes the posting step (plans: snapshot id -> it has the step)."""
    selected = run.step_keys_to_execute
    if selected is not None and POSTING_STEP not in selected:
        return False
    snapshot_id = run.execution_plan_snapshot_id
    if snapshot_id not in plans:
        plan = instance.get_execution_plan_snapshot(snapshot_id) if snapshot_id else None
        plans[snapshot_id] = (
            POSTING_STEP in {step.key for step in plan.steps}
            if plan is not None
            else run.job_name == payroll_job.name
        )
    return plans[snapshot_id]


def failed_run_partitions(instance: dg.DagsterInstance, lookback: int = LOOKBACK_RUNS) -> list[str]:
    """Partitions whose latest payroll run (within the newest ``lookback`` runs of payroll
    partitions) ended FAILURE or CANCELED; sorted."""
    keys = payroll_partition_keys(instance)
    if not keys:
        return []
    records = instance.get_run_records(
        filters=dg.RunsFilter(tags={PARTITION_TAG: keys}), limit=lookback
    )
    plans: dict[str | None, bool] = {}
    latest: dict[str, dg.DagsterRunStatus] = {}
    for record in records:  # newest first
        run = record.dagster_run
        partition = run.tags.get(PARTITION_TAG)
        if not partition or partition in latest or not naming.own_run(run):
            continue
        if not _posting_run(instance, run, plans):
            continue
        latest[partition] = run.status
    return sorted(key for key, status in latest.items() if status in ENDED_UNFINISHED)


def unfinished_partitions(instance: dg.DagsterInstance, store: AuditStore) -> list[str]:
    """What ``replay`` re-runs: the audit store's unfinished partitions and those whose latest
    payroll run failed or was canceled (see the module text), sorted, each once.

    Free dead runs (``stale_runs.free_dead_runs``) before calling this.
    """
    return sorted(set(store.failed_partitions()) | set(failed_run_partitions(instance)))
