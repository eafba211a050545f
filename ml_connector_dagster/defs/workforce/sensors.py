"""The workforce triggers: the webhook inbox (when Rippling webhooks are set up) or polling.

Exactly one of them runs when automation is on (``ML_CONNECTOR_WEBHOOKS`` chooses); both
request the workforce job for just the workers they saw change, and the daily schedule
(``schedules.py``) catches up whatever they missed.
"""

import datetime as dt
import json

import dagster as dg

from ml_connector_dagster import clock
from ml_connector_dagster.config.settings import current_settings
from ml_connector_dagster.defs.resources import ConnectorResource
from ml_connector_dagster.defs.workforce.jobs import worker_selection, workforce_job
from ml_connector_dagster.workforce.triggers import (
    PollCursor,
    inbox_worker_ids,
    poll_cadence,
    poll_changes,
)

_SETTINGS = current_settings()


@dg.sensor(
    job=workforce_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING
    if _SETTINGS.automation_on and _SETTINGS.webhooks
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
        run_config=worker_selection(worker_ids, inbox_ids),
        tags={"ml_connector/trigger": "webhook"},
    )


@dg.sensor(
    job=workforce_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING
    if _SETTINGS.automation_on and not _SETTINGS.webhooks
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
        cadence = poll_cadence(rippling, now)
    interval = cadence.interval
    if cadence.calendar_unreadable and not state.get("calendar_unreadable"):
        # Said once, when it starts; the cursor remembers it until payroll is readable again.
        context.log.warning(f"Workforce polling on a {cadence.reason}")
    previous = state
    state = {"poll": polled.cursor.to_json(), "next_at": (now + interval).isoformat()}
    if cadence.calendar_unreadable:
        state["calendar_unreadable"] = True
    elif previous.get("calendar_unreadable"):
        context.log.info("The payroll calendar is readable again: polling follows it")
    context.update_cursor(json.dumps(state))
    ids = [w.id for w in polled.workers] + list(polled.gone)
    if not ids:
        return dg.SkipReason(f"no worker changed; next poll in {interval} ({cadence.reason})")
    run_config = worker_selection([] if polled.full else ids)
    return dg.RunRequest(
        run_key=f"poll:{now.isoformat()}",
        run_config=run_config,
        tags={"ml_connector/trigger": "poll"},
    )
