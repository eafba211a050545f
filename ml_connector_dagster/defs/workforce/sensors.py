"""The workforce triggers: the webhook inbox (when Rippling webhooks are set up) and polling.

When automation is on, the poll sensor always runs: without webhooks it is the trigger, paced
by the payroll calendar; with webhooks (``ML_CONNECTOR_WEBHOOKS``) it is the safety net at a
slow fixed pace (``ML_CONNECTOR_SAFETY_POLL_SECONDS``, 6 h by default), because Rippling fires
created, updated and deleted only for employees provisioned to the app. Both request the
workforce job for just the workers they saw change, and the daily schedule (``schedules.py``)
catches up whatever they missed.
"""

import datetime as dt
import json

import dagster as dg

from ml_connector_dagster import clock
from ml_connector_dagster.config.settings import current_settings
from ml_connector_dagster.defs import naming
from ml_connector_dagster.defs.resources import ConnectorResource
from ml_connector_dagster.defs.workforce.jobs import worker_selection, workforce_job
from ml_connector_dagster.rippling.ids import is_rippling_id
from ml_connector_dagster.workforce.resolve import NOT_AN_ID
from ml_connector_dagster.workforce.triggers import (
    WORKER_EVENTS,
    PollCursor,
    inbox_employee_ids,
    poll_cadence,
    poll_changes,
)

_SETTINGS = current_settings()


@dg.sensor(
    name=naming.name("workforce_webhook_sensor"),
    job=workforce_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING
    if _SETTINGS.automation_on and _SETTINGS.webhooks
    else dg.DefaultSensorStatus.STOPPED,
    description="Drains the webhook inbox: one sync run for the employees it names.",
)
def workforce_webhook_sensor(context: dg.SensorEvaluationContext, connector: ConnectorResource):
    """No Rippling call here: the events' employee ids go to the run, which resolves them to
    workers (``assets.py`` says why), so a tick only reads the inbox.

    An event whose id is not a Rippling id (stored before the receiver checked ids) is
    dead-lettered here, never requested: it would fail every run it rode in.
    """
    with connector.audit() as store:
        pending = store.pending_webhooks()
        malformed = [
            row
            for row in pending
            if row["event_name"] in WORKER_EVENTS and not is_rippling_id(row["object_id"])
        ]
        if malformed:
            store.dead_letter_webhooks((row["id"] for row in malformed), NOT_AN_ID)
            context.log.warning(
                f"{len(malformed)} webhook event(s) dead-lettered: {NOT_AN_ID}"
                f" ({', '.join(repr(row['object_id'][:40]) for row in malformed[:5])})"
            )
            pending = [row for row in pending if row not in malformed]
        if not pending:
            return dg.SkipReason("the webhook inbox is empty")
        employee_ids = inbox_employee_ids(pending)
        if not employee_ids:  # nothing to sync for these events: answered as they are
            store.mark_webhooks_processed(row["id"] for row in pending)
            return dg.SkipReason(f"{len(pending)} event(s) without a worker to sync")
    # Events stay pending until the run applies cleanly. The key names the newest event, so a
    # queued or failed batch is not requested again until another delivery (or the daily full
    # sync) comes; the next batch then carries the older events too.
    inbox_ids = [row["id"] for row in pending]
    return dg.RunRequest(
        run_key=f"inbox:{max(inbox_ids)}",
        run_config=worker_selection([], inbox_ids, employee_ids=employee_ids),
        tags={"ml_connector/trigger": "webhook"},
    )


@dg.sensor(
    name=naming.name("workforce_poll_sensor"),
    job=workforce_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING
    if _SETTINGS.automation_on
    else dg.DefaultSensorStatus.STOPPED,
    description="Workers changed since the watermark (and v1 company_activity when"
    " ML_CONNECTOR_COMPANY_ACTIVITY is on). Without webhooks: polled often before a pay run's"
    " approval deadline and rarely otherwise; with webhooks: a slow safety net.",
)
def workforce_poll_sensor(context: dg.SensorEvaluationContext, connector: ConnectorResource):
    settings = connector.settings()  # read on each tick, as the runs read theirs
    safety_net = dt.timedelta(seconds=settings.safety_poll_seconds) if settings.webhooks else None
    state = json.loads(context.cursor or "{}")
    now = clock.now()
    due = state.get("next_at")
    if due and now < dt.datetime.fromisoformat(due):
        pace = "safety-net" if safety_net else "payroll-calendar"
        return dg.SkipReason(f"next poll at {due} ({pace} cadence)")
    cursor = PollCursor.from_json(state["poll"]) if state.get("poll") else None
    with connector.rippling() as rippling:
        polled = poll_changes(
            rippling, cursor, now=now, use_activity=settings.company_activity, logger=context.log
        )
        cadence = poll_cadence(rippling, now, safety_net=safety_net)
    interval = cadence.interval
    if cadence.calendar_unreadable and not state.get("calendar_unreadable"):
        # Said once, when it starts; the cursor remembers it until payroll is readable again.
        context.log.warning(f"Workforce polling on a {cadence.reason}")
    previous = state
    state = {"poll": polled.cursor.to_json(), "next_at": (now + interval).isoformat()}
    if cadence.calendar_unreadable:
        state["calendar_unreadable"] = True
    elif previous.get("calendar_unreadable") and not cadence.safety_net:
        context.log.info("The payroll calendar is readable again: polling follows it")
    context.update_cursor(json.dumps(state))
    worker_ids = [w.id for w in polled.workers]
    if not worker_ids and not polled.employee_ids:
        return dg.SkipReason(f"no worker changed; next poll in {interval} ({cadence.reason})")
    # Employee ids from company_activity are resolved in the run, as a webhook's are.
    run_config = (
        worker_selection([])
        if polled.full
        else worker_selection(worker_ids, employee_ids=polled.employee_ids)
    )
    return dg.RunRequest(
        run_key=f"poll:{now.isoformat()}",
        run_config=run_config,
        tags={"ml_connector/trigger": "safety-poll" if safety_net else "poll"},
    )
