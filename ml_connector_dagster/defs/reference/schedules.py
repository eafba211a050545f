"""The reference schedules, on when automation is on, in finance's time zone: the daily refresh
(``ML_CONNECTOR_REFERENCE_CRON``) and the mapping observation (``ML_CONNECTOR_MAPPING_CRON``)."""

import dagster as dg

from ml_connector_dagster.config.settings import current_settings
from ml_connector_dagster.defs.reference.jobs import mapping_job, reference_job

_SETTINGS = current_settings()
_STATUS = (
    dg.DefaultScheduleStatus.RUNNING
    if _SETTINGS.automation_on
    else dg.DefaultScheduleStatus.STOPPED
)

reference_schedule = dg.ScheduleDefinition(
    job=reference_job,
    cron_schedule=_SETTINGS.reference_cron,
    execution_timezone=_SETTINGS.schedule_timezone,  # finance's, not UTC by accident
    default_status=_STATUS,
)

mapping_schedule = dg.ScheduleDefinition(
    job=mapping_job,
    cron_schedule=_SETTINGS.mapping_cron,
    execution_timezone=_SETTINGS.schedule_timezone,
    default_status=_STATUS,
)
