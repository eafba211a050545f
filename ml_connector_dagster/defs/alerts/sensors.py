"""Alerts in Dagster: failed runs raise one, and a sensor delivers what is pending.

Both follow ``ML_CONNECTOR_AUTOMATION_ON`` like the other sensors. Raising and delivering are
apart on purpose: a run (or this failure sensor) only writes the alert to the outbox in the
audit database, and the delivery sensor sends it every 30 seconds, so a Teams or mail outage
never fails a run and an alert waits in the outbox until a channel takes it.
"""

import dagster as dg

from ml_connector_dagster.alerts import AlertKind, alert_for_run, enqueue
from ml_connector_dagster.alerts.configure import configured_channels
from ml_connector_dagster.alerts.outbox import Deliverer, alerts_for_run
from ml_connector_dagster.config.settings import current_settings
from ml_connector_dagster.defs import naming
from ml_connector_dagster.defs.payroll.partitions import split_key
from ml_connector_dagster.defs.resources import ConnectorResource

_SETTINGS = current_settings()
_DEFAULT_STATUS = (
    dg.DefaultSensorStatus.RUNNING if _SETTINGS.automation_on else dg.DefaultSensorStatus.STOPPED
)
_REASON_MAX = 400


def _partition(run: dg.DagsterRun) -> tuple[str | None, str | None]:
    """(company, pay period) of a payroll run; (None, None) for runs of other jobs and for a
    backfill run over several partitions (its range tags name more than one)."""
    key = run.tags.get("dagster/partition")
    start = run.tags.get("dagster/asset_partition_range_start")
    if not key and start and start == run.tags.get("dagster/asset_partition_range_end"):
        key = start
    if not key:
        return None, None
    try:
        pay_period, company = split_key(key)
    except ValueError:
        return None, None  # a partition of another shape (none today): the alert still goes
    return company, pay_period


def failure_summary(context: dg.RunFailureSensorContext) -> str:
    """One line: which job failed and the first failed step's error, else Dagster's message."""
    reason = ""
    for event in context.get_step_failure_events():
        error = getattr(event.event_specific_data, "error", None)
        while error is not None and error.cause is not None:
            error = error.cause  # Dagster wraps the step's own error: tell that one
        if error is not None and error.message.strip():
            step = event.step_key or "a step"
            reason = f"Step {step}: {error.message.strip().splitlines()[0]}"
            break
    if not reason:
        reason = (context.failure_event.message or "no reason recorded").strip()
    return f"The run of {context.dagster_run.job_name} failed. {reason}"[:_REASON_MAX]


@dg.run_failure_sensor(
    name=naming.name("alert_on_run_failure"),
    default_status=_DEFAULT_STATUS,
    description="Raises a RUN_FAILED alert (company, pay period, the failure, a link to the run)"
    " for every failed run of this code location; a run that already raised an alert (a"
    " blocked pay period) is not told twice.",
)
def alert_on_run_failure(context: dg.RunFailureSensorContext, connector: ConnectorResource):
    run = context.dagster_run
    company, pay_period = _partition(run)
    settings = connector.settings()
    with connector.audit() as audit:
        raised = alerts_for_run(audit, run.run_id)
        if raised:
            context.log.info(
                f"run {run.run_id} already raised {', '.join(sorted(set(raised)))}: not told again"
            )
            return
        alert = alert_for_run(
            settings,
            AlertKind.RUN_FAILED,
            run_id=run.run_id,
            summary=failure_summary(context),
            company=company,
            pay_period=pay_period,
        )
        if enqueue(audit, alert):
            context.log.info(f"alert raised for failed run {run.run_id}")


@dg.sensor(
    name=naming.name("deliver_alerts"),
    minimum_interval_seconds=30,
    default_status=_DEFAULT_STATUS,
    description="Sends pending alerts to Teams and e-mail (whichever is configured), once per"
    " channel; a channel that fails is tried again later.",
)
def deliver_alerts(context: dg.SensorEvaluationContext, connector: ConnectorResource):
    settings = connector.settings()
    channels = configured_channels(settings)
    if not channels:
        return dg.SkipReason(
            "no alert channel is configured (ML_CONNECTOR_TEAMS_WEBHOOK_URL, or"
            " ML_CONNECTOR_SMTP_HOST + _FROM + _TO)"
        )
    with connector.audit() as audit:
        report = Deliverer(audit, channels, max_attempts=settings.alert_max_attempts).deliver()
    for row_id, channel, error in report.failed:
        context.log.warning(f"alert {row_id} not sent to {channel} (tried again later): {error}")
    for row_id, channel, error in report.gave_up:
        context.log.error(
            f"alert {row_id} given up on {channel} after {settings.alert_max_attempts}"
            f" attempts: {error}"
        )
    return dg.SkipReason(f"alerts: {report.describe()}")
