"""The pay-run sensor, and the jobs and schedules around it.

The sensor polls ``GET /payroll-runs/`` (ordered by check date), groups runs that reached the
trigger state by (pay period, company), adds those partitions and requests one run each. The
run key carries the run ids, the company and a hash of the records, so a corrected run gets a
new key while an unchanged one is never requested twice. History before the "sync from" date is
posted only by an explicit backfill.

Each tick also asks again for partitions whose last posting attempt did not finish, when the
cause may be gone (``retries.py``: failed or interrupted, a bounded number of times; blocked,
once the mapping changed), and first frees runs of this host whose process died
(``stale_runs.py``), so an interrupted partition is not left behind a run that never ends.
``ml-connector replay`` remains the operator's way to run any unfinished partition again.
"""

import hashlib
import json
import os

import dagster as dg

from ml_connector_dagster.defs.partitions import (
    PayrollPartition,
    legal_entities,
    pay_periods,
)
from ml_connector_dagster.defs.payroll import (
    labor_cost_journals,
    payroll_cost_snapshot,
    posted_journals,
)
from ml_connector_dagster.defs.reference import REFERENCE_ASSETS
from ml_connector_dagster.defs.resources import ConnectorResource
from ml_connector_dagster.defs.retries import plan_retries
from ml_connector_dagster.defs.stale_runs import TRIGGER_TAG, free_dead_runs
from ml_connector_dagster.payroll.selection import SETTLED_STATES, trigger_groups

payroll_job = dg.define_asset_job(
    "payroll_to_ledger",
    selection=dg.AssetSelection.assets(payroll_cost_snapshot, labor_cost_journals, posted_journals),
    description="Snapshot, journals, the five blocking checks, and posting, per pay period and"
    " legal entity.",
)

reference_job = dg.define_asset_job(
    "refresh_reference_data", selection=dg.AssetSelection.assets(*REFERENCE_ASSETS)
)

reference_schedule = dg.ScheduleDefinition(
    job=reference_job,
    cron_schedule=os.environ.get("ML_CONNECTOR_REFERENCE_CRON", "0 5 * * *"),
    default_status=dg.DefaultScheduleStatus.RUNNING
    if os.environ.get("ML_CONNECTOR_AUTOMATION_ON") == "true"
    else dg.DefaultScheduleStatus.STOPPED,
)


def _records_digest(client, run_id: str) -> str:
    digest = hashlib.sha256()
    for record in client.worker_payroll_records(run_id):
        digest.update(record.model_dump_json(exclude={"redacted"}).encode())
    return digest.hexdigest()[:16]


@dg.sensor(
    job=payroll_job,
    minimum_interval_seconds=int(os.environ.get("ML_CONNECTOR_SENSOR_INTERVAL", "60")),
    default_status=dg.DefaultSensorStatus.RUNNING
    if os.environ.get("ML_CONNECTOR_AUTOMATION_ON") == "true"
    else dg.DefaultSensorStatus.STOPPED,
    description="Posts the journals of pay runs that reach the trigger state (PAID by default);"
    " asks again for partitions whose posting did not finish when the cause may be gone.",
)
def pay_run_sensor(context: dg.SensorEvaluationContext, connector: ConnectorResource):
    mapping = connector.mapping()
    cursor = json.loads(context.cursor or "{}")
    digests: dict[str, str] = cursor.get("digests", {})
    requested: list[str] = cursor.get("requested", [])
    with connector.rippling() as rippling:
        runs = [r for r in rippling.payroll_runs() if r.pay_period is not None]
        settled = [
            r.pay_period.end_date.isoformat() for r in runs if (r.run_state or "") in SETTLED_STATES
        ]
        sync_from = (
            cursor.get("sync_from")
            or os.environ.get("ML_CONNECTOR_SYNC_FROM")
            or (max(settled) if settled else None)
        )
        if sync_from is None:
            return dg.SkipReason("no paid pay run yet; nothing to sync from")
        groups = trigger_groups(runs, mapping, since=sync_from)
        requests, new_periods, new_companies = [], set(), set()
        for (period, company), group in groups.items():
            group = sorted(group, key=lambda r: r.id)  # the run key names runs by id
            for run in group:
                state_key = f"{run.id}:{run.run_state}"
                if state_key not in digests:
                    digests[state_key] = _records_digest(rippling, run.id)
            payload = hashlib.sha256(
                "|".join(
                    f"{r.id}:{r.run_state}:{digests[f'{r.id}:{r.run_state}']}" for r in group
                ).encode()
            ).hexdigest()[:12]
            run_key = f"{period}:{company}:{'+'.join(r.id for r in group)}:{payload}"
            if run_key in requested:
                continue
            key = PayrollPartition(period, company).key()
            new_periods.add(period)
            new_companies.add(company)
            requests.append(
                dg.RunRequest(
                    run_key=run_key,
                    partition_key=key,
                    tags={TRIGGER_TAG: "pay_run_sensor"},
                )
            )
            requested.append(run_key)
    retries, retry_state, notes = _retries(
        context,
        connector,
        sync_from=sync_from,
        mapping_hash=mapping.content_hash,
        state=cursor.get("retries", {}),
        skip={str(r.partition_key) for r in requests},
    )
    for retry in retries:
        partition = PayrollPartition.parse(retry.partition)
        period, company = partition.pay_period, partition.company
        new_periods.add(period)
        new_companies.add(company)
        requests.append(
            dg.RunRequest(
                run_key=retry.run_key,
                partition_key=partition.key(),
                tags={TRIGGER_TAG: "pay_run_sensor", "ml_connector/retry": retry.why},
            )
        )
    cursor_value = json.dumps(
        {
            "sync_from": sync_from,
            "digests": digests,
            "requested": requested[-5000:],
            "retries": retry_state,
        }
    )
    if not requests:
        context.update_cursor(cursor_value)
        left = f"; left to `ml-connector replay`: {'; '.join(notes)}" if notes else ""
        return dg.SkipReason(f"no new pay run since {sync_from}{left}")
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[
            pay_periods.build_add_request(sorted(new_periods)),
            legal_entities.build_add_request(sorted(new_companies)),
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
    """The unfinished partitions to ask for again (``retries.py``), after freeing dead runs."""
    instance = context.instance
    for dead in free_dead_runs(instance, actor="pay_run_sensor"):
        context.log.warning(f"freed {dead.describe()}")
    busy = set(skip)
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=_BUSY)):
        partition = run.tags.get("dagster/partition")
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
    return retries, new_state, notes
