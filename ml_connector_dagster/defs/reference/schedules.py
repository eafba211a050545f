"""The daily reference refresh (``ML_CONNECTOR_REFERENCE_CRON``), on when automation is on."""

import dagster as dg

from ml_connector_dagster.config.settings import current_settings
from ml_connector_dagster.defs.reference.jobs import reference_job

_SETTINGS = current_settings()

reference_schedule = dg.ScheduleDefinition(
    job=reference_job,
    cron_schedule=_SETTINGS.reference_cron,
    execution_timezone=_SETTINGS.schedule_timezone,  # finance's, not UTC by accident
    default_status=dg.DefaultScheduleStatus.RUNNING
    if _SETTINGS.automation_on
    else dg.DefaultScheduleStatus.STOPPED,
)
