"""The pay-run sensor: one run per (pay period, company) whose paid runs are new or changed.

The sensor polls ``GET /payroll-runs/`` (ordered by check date) and hands the decisions to
``payroll/pay_run_watch.py`` (pure, tested without Dagster): the "sync from" date, the
partitions whose runs reached the trigger state, and run keys carrying the run ids, the company
and a hash of the runs' states, so a run in a new state gets a new key while an unchanged one is
never requested twice. It reads the runs list only, never the records (the runs read those).
History before the "sync from" date is posted only by an explicit backfill.

Each tick also asks again for partitions whose last posting attempt did not finish, when the
cause may be gone (``retries.py``: failed or interrupted, a bounded number of times; blocked,
once the mapping changed), and first frees runs of this host whose process died
(``stale_runs.py``), so an interrupted partition is not left behind a run that never ends.
``ml-connector replay`` remains the operator's way to run any unfinished partition again.

With ``journal.approval: required`` the runs still build and check every partition, and the
posting step writes nothing without an approval bound to the content: such a partition ends
"waiting for approval", which is not a failure, so it is never retried. Once finance approves
it, the next tick asks for one payroll run of it (``approval.approval_requests``: run key
``approval:<partition>:<decision id>``).
"""

from dataclasses import replace

import dagster as dg

from ml_connector_dagster.config.settings import current_settings
from ml_connector_dagster.defs import naming
from ml_connector_dagster.defs.payroll.approval import approval_requests
from ml_connector_dagster.defs.payroll.jobs import payroll_job
from ml_connector_dagster.defs.payroll.partitions import (
    PayrollPartition,
    legal_entities,
    pay_periods,
    run_partition_key,
)
from ml_connector_dagster.defs.payroll.retries import plan_retries
from ml_connector_dagster.defs.resources import ConnectorResource
from ml_connector_dagster.defs.stale_runs import TRIGGER_TAG, free_dead_runs
from ml_connector_dagster.payroll.pay_run_watch import (
    WatchState,
    choose_sync_from,
    new_requests,
)
from ml_connector_dagster.payroll.runs_seen import RUNS_SEEN_TAG

_SETTINGS = current_settings()


@dg.sensor(
    name=naming.name("pay_run_sensor"),
    job=payroll_job,
    minimum_interval_seconds=_SETTINGS.sensor_interval,
    default_status=dg.DefaultSensorStatus.RUNNING
    if _SETTINGS.automation_on
    else dg.DefaultSensorStatus.STOPPED,
    description="Posts the journals of pay runs that reach the trigger state (PAID by default);"
    " asks again for partitions whose posting did not finish when the cause may be gone.",
)
def pay_run_sensor(context: dg.SensorEvaluationContext, connector: ConnectorResource):
    mapping = connector.mapping()
    state = WatchState.from_cursor(context.cursor)
    configured = current_settings().sync_from  # read on each tick, as the runs read theirs
    with connector.rippling() as rippling:
        runs = [r for r in rippling.payroll_runs() if r.pay_period is not None]
        sync_from = choose_sync_from(
            state.sync_from, configured.isoformat() if configured else None, runs
        )
        if sync_from is None:
            return dg.SkipReason("no paid pay run yet; nothing to sync from")
        found, state = new_requests(runs, mapping, state, since=sync_from)
    requests = [
        dg.RunRequest(
            run_key=item.run_key,
            partition_key=PayrollPartition(item.pay_period, item.company).key(),
            # the runs and states it saw, so the run may take a shared read of the runs list
            # that shows the same (``payroll/runs_seen.py``)
            tags={TRIGGER_TAG: "pay_run_sensor", RUNS_SEEN_TAG: item.runs_seen},
        )
        for item in found
    ]
    partitions = [PayrollPartition(item.pay_period, item.company) for item in found]
    retries, retry_state, notes, busy = _retries(
        context,
        connector,
        sync_from=sync_from,
        mapping_hash=mapping.content_hash,
        state=state.retries,
        skip={str(r.partition_key) for r in requests},
    )
    for retry in retries:
        partition = PayrollPartition.parse(retry.partition)
        partitions.append(partition)
        requests.append(
            dg.RunRequest(
                run_key=retry.run_key,
                partition_key=partition.key(),
                tags={TRIGGER_TAG: "pay_run_sensor", "ml_connector/retry": retry.why},
            )
        )
    asked = busy | {str(r.partition_key) for r in requests}
    with connector.audit() as audit:
        approved = approval_requests(audit, mapping.connection, asked)
    for request in approved:
        context.log.info(f"asking for {request.partition_key}: {request.tags}")
        partitions.append(PayrollPartition.parse(str(request.partition_key)))
        requests.append(request)
    cursor_value = replace(state, sync_from=sync_from, retries=retry_state).to_cursor()
    if not requests:
        context.update_cursor(cursor_value)
        left = f"; left to `{naming.COMMAND} replay`: {'; '.join(notes)}" if notes else ""
        return dg.SkipReason(f"no new pay run since {sync_from}{left}")
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[
            pay_periods.build_add_request(sorted({p.pay_period for p in partitions})),
            legal_entities.build_add_request(sorted({p.company for p in partitions})),
        ],
        cursor=cursor_value,
    )


# Runs that can still post: a partition with one of these is not asked for again.
_BUSY = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def _retries(
    context: dg.SensorEvaluationContext,
    connector: ConnectorResource,
    *,
    sync_from: str,
    mapping_hash: str,
    state: dict,
    skip: set[str],
):
    """The unfinished partitions to ask for again (``retries.py``), after freeing dead runs;
    also the partitions with a run queued or in progress (``busy``)."""
    instance = context.instance
    for dead in free_dead_runs(instance, actor="pay_run_sensor"):
        context.log.warning(f"freed {dead.describe()}")
    busy = set(skip)
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=_BUSY)):
        if not naming.own_run(run):  # another connection's company of the same code
            continue
        partition = run_partition_key(run.tags)  # a backfill's run: a range of one key
        if partition:
            busy.add(partition)
    with connector.audit() as audit:
        unfinished = audit.unfinished()
        latest = {}
        for item in unfinished:
            rows = audit.attempts(journal_key=item.journal_key)
            if rows:
                latest[item.journal_key] = max(int(row["id"]) for row in rows)
    retries, new_state, notes = plan_retries(
        unfinished,
        latest,
        busy=busy,
        sync_from=sync_from,
        mapping_hash=mapping_hash,
        state=state,
    )
    for retry in retries:
        context.log.info(f"asking again for {retry.partition}: {retry.why}")
    return retries, new_state, notes, busy
