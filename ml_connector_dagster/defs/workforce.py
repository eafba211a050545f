"""Workforce alignment in Dagster: the plan, the applied result, the headcount check, triggers.

Three ways in, one idempotent sync: the webhook-inbox sensor and the polling sensor request a
run for just the workers they saw change (``worker_ids`` in run config); the daily schedule runs
a full sync. The payload of a webhook is only a hint: workers are always re-read from Rippling.
"""

import datetime as dt
import json
import os
from dataclasses import dataclass

import dagster as dg
from pydantic import Field

from ml_connector_dagster import clock
from ml_connector_dagster.defs.partitions import DYNAMICS_POOL
from ml_connector_dagster.defs.resources import ConnectorResource
from ml_connector_dagster.payroll.summary import markdown_table
from ml_connector_dagster.workforce.apply import apply_plan
from ml_connector_dagster.workforce.cadence import next_poll_interval
from ml_connector_dagster.workforce.current import load_identities
from ml_connector_dagster.workforce.plan import Plan
from ml_connector_dagster.workforce.settings import workforce_settings
from ml_connector_dagster.workforce.sync import plan_sync, read_headcount
from ml_connector_dagster.workforce.triggers import (
    PollCursor,
    inbox_worker_ids,
    poll_changes,
    reread_workers,
)

GROUP = "workforce"
PLAN_KEY = dg.AssetKey(["dynamics", "workforce_plan"])
APPLIED_KEY = dg.AssetKey(["dynamics", "workforce_sync"])


class WorkerSelection(dg.Config):
    """Which workers to sync: the ids a trigger saw change, or everyone when empty.

    ``inbox_ids`` are the webhook inbox rows behind the request; they are marked processed only
    once the sync applied without a failed write, so a failed run leaves them pending.
    """

    worker_ids: list[str] = Field(default_factory=list)
    inbox_ids: list[int] = Field(default_factory=list)


@dataclass(frozen=True)
class PlannedSync:
    """The plan, and the inbox rows it answers (marked processed after a clean apply)."""

    plan: Plan
    inbox_ids: tuple[int, ...]


@dg.asset(
    key=PLAN_KEY,
    group_name=GROUP,
    kinds={"rippling", "dynamics365"},
    deps=[dg.AssetKey(["rippling", "workers"])],
)
def workforce_plan(
    context: dg.AssetExecutionContext, config: WorkerSelection, connector: ConnectorResource
) -> dg.Output[PlannedSync]:
    """Desired state (Rippling) against current state (Dynamics): the actions to align them."""
    mapping = connector.mapping()
    settings = workforce_settings(mapping.workforce or None)
    with (
        connector.rippling() as rippling,
        connector.dynamics() as dynamics,
        connector.audit() as store,
    ):
        inbox_ids = list(config.inbox_ids)
        if config.worker_ids:
            reread = reread_workers(rippling, config.worker_ids)
            workers, gone, full = reread.workers, reread.gone, False
        else:
            # A full sync re-reads everyone, so every hint waiting in the inbox is answered.
            inbox_ids += [row["id"] for row in store.pending_webhooks()]
            workers, gone, full = list(rippling.workers()), [], True
        _, _, plan = plan_sync(
            workers,
            dynamics=dynamics,
            mapping=mapping,
            settings=settings,
            identities=load_identities(store),
            today=clock.today(),
            full=full,
            gone=gone,
        )
    rows = [
        (a.kind.value, a.personnel_number or "", a.company or "", a.describe())
        for a in plan.actions
    ]
    return dg.Output(
        PlannedSync(plan, tuple(sorted(set(inbox_ids)))),
        metadata={
            "scope": "all workers"
            if full
            else f"{len(config.worker_ids)} worker(s) from a trigger",
            "writes_planned": len(plan.writes),
            "counts_by_action": dg.MetadataValue.json(plan.counts()),
            "changes": dg.MetadataValue.md(
                markdown_table(("action", "PersonnelNumber", "company", "what"), rows)
                if rows
                else "already aligned: nothing to write"
            ),
        },
    )


@dg.asset(
    key=APPLIED_KEY,
    group_name=GROUP,
    kinds={"dynamics365"},
    pool=DYNAMICS_POOL,
    ins={"plan": dg.AssetIn(key=PLAN_KEY)},
    check_specs=[
        dg.AssetCheckSpec(
            "headcount_matches",
            asset=APPLIED_KEY,
            description="After the sync, Rippling and Dynamics agree on who is employed per legal"
            " entity (a warning, listing who differs).",
        )
    ],
)
def workforce_sync(
    context: dg.AssetExecutionContext, connector: ConnectorResource, plan: PlannedSync
):
    """The plan applied to Dynamics, each action with Dynamics' answer; one audit row per write."""
    mapping = connector.mapping()
    settings = workforce_settings(mapping.workforce or None)
    with connector.dynamics() as dynamics, connector.audit() as store:
        result = apply_plan(
            plan.plan,
            dynamics,
            store,
            connection=mapping.connection,
            dagster_run_id=context.run.run_id,
        )
        if result.ok:
            store.mark_webhooks_processed(plan.inbox_ids)
        with connector.rippling() as rippling:
            headcount = read_headcount(
                rippling=rippling,
                dynamics=dynamics,
                store=store,
                mapping=mapping,
                settings=settings,
            )
    rows = [
        (
            r.action.kind.value,
            r.action.personnel_number or "",
            r.action.company or "",
            r.outcome,
            (r.error or _answer(r.answer))[:160],
        )
        for r in result.results
    ]
    yield dg.Output(
        None,
        metadata={
            "applied": len(result.applied),
            "failed": len(result.failed),
            "results": dg.MetadataValue.md(
                markdown_table(
                    ("action", "PersonnelNumber", "company", "outcome", "Dynamics answer"), rows
                )
                if rows
                else "nothing to apply"
            ),
        },
    )
    differing = [h for h in headcount if not h.matches]
    yield dg.AssetCheckResult(
        asset_key=APPLIED_KEY,
        check_name="headcount_matches",
        passed=not differing,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "headcount": dg.MetadataValue.md(
                markdown_table(
                    ("company", "Rippling", "Dynamics", "only in Rippling", "only in Dynamics"),
                    (
                        (
                            h.company,
                            h.rippling,
                            h.dynamics,
                            ", ".join(h.only_in_rippling[:20]),
                            ", ".join(h.only_in_dynamics[:20]),
                        )
                        for h in headcount
                    ),
                )
            ),
        },
    )
    if result.failed:
        raise dg.Failure(description=f"{len(result.failed)} workforce write(s) failed; see results")


def _answer(answer: object) -> str:
    if isinstance(answer, dict):
        keys = ("PersonnelNumber", "EmploymentId", "VendorAccountNumber", "dataAreaId")
        return ", ".join(f"{k}={answer[k]}" for k in keys if k in answer) or "created"
    return "ok" if answer is None else str(answer)


workforce_job = dg.define_asset_job(
    "workforce_sync",
    selection=dg.AssetSelection.assets(PLAN_KEY, APPLIED_KEY),
    description="Align Dynamics workers, employments and contractor vendors with Rippling.",
)

_AUTOMATION = os.environ.get("ML_CONNECTOR_AUTOMATION_ON") == "true"
_WEBHOOKS = os.environ.get("ML_CONNECTOR_WEBHOOKS", "off") == "on"

workforce_schedule = dg.ScheduleDefinition(
    job=workforce_job,
    cron_schedule=os.environ.get("ML_CONNECTOR_WORKFORCE_CRON", "30 5 * * *"),
    default_status=dg.DefaultScheduleStatus.RUNNING
    if _AUTOMATION
    else dg.DefaultScheduleStatus.STOPPED,
)


def _selection(worker_ids: list[str], inbox_ids: list[int] | None = None) -> dict:
    config = {"worker_ids": sorted(set(worker_ids)), "inbox_ids": sorted(inbox_ids or [])}
    return {"ops": {"dynamics__workforce_plan": {"config": config}}}


@dg.sensor(
    job=workforce_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING
    if _AUTOMATION and _WEBHOOKS
    else dg.DefaultSensorStatus.STOPPED,
    description="Drains the webhook inbox: one sync run for the workers it names.",
)
def workforce_webhook_sensor(context: dg.SensorEvaluationContext, connector: ConnectorResource):
    with connector.audit() as store:
        pending = store.pending_webhooks()
        if not pending:
            return dg.SkipReason("the webhook inbox is empty")
        worker_ids = inbox_worker_ids(pending)
        if not worker_ids:  # nothing to sync for these events: answered as they are
            store.mark_webhooks_processed(row["id"] for row in pending)
            return dg.SkipReason(f"{len(pending)} event(s) without a worker to sync")
    # Events stay pending until the run applies cleanly. The key names the newest event, so a
    # queued or failed batch is not requested again until another delivery (or the daily full
    # sync) comes; the next batch then carries the older events too.
    inbox_ids = [row["id"] for row in pending]
    return dg.RunRequest(
        run_key=f"inbox:{max(inbox_ids)}",
        run_config=_selection(worker_ids, inbox_ids),
        tags={"ml_connector/trigger": "webhook"},
    )


@dg.sensor(
    job=workforce_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING
    if _AUTOMATION and not _WEBHOOKS
    else dg.DefaultSensorStatus.STOPPED,
    description="Without webhooks: workers changed since the watermark and company_activity,"
    " polled often before a pay run's approval deadline and rarely otherwise.",
)
def workforce_poll_sensor(context: dg.SensorEvaluationContext, connector: ConnectorResource):
    state = json.loads(context.cursor or "{}")
    now = clock.now()
    due = state.get("next_at")
    if due and now < dt.datetime.fromisoformat(due):
        return dg.SkipReason(f"next poll at {due} (payroll-calendar cadence)")
    cursor = PollCursor.from_json(state["poll"]) if state.get("poll") else None
    with connector.rippling() as rippling:
        polled = poll_changes(rippling, cursor, now=now)
        interval = next_poll_interval(list(rippling.payroll_runs()), now)
    state = {"poll": polled.cursor.to_json(), "next_at": (now + interval).isoformat()}
    context.update_cursor(json.dumps(state))
    ids = [w.id for w in polled.workers] + list(polled.gone)
    if not ids:
        return dg.SkipReason(f"no worker changed; next poll in {interval}")
    run_config = _selection([] if polled.full else ids)
    return dg.RunRequest(
        run_key=f"poll:{now.isoformat()}",
        run_config=run_config,
        tags={"ml_connector/trigger": "poll"},
    )


WORKFORCE_ASSETS = [workforce_plan, workforce_sync]
