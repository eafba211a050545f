"""The daily full worker sync (``ML_CONNECTOR_WORKFORCE_CRON``), on when automation is on.

It answers every hint still waiting in the webhook inbox, so a missed delivery is caught up.
"""

import dagster as dg

from ml_connector_dagster.config.settings import current_settings
from ml_connector_dagster.defs.workforce.jobs import workforce_job

_SETTINGS = current_settings()

workforce_schedule = dg.ScheduleDefinition(
    job=workforce_job,
    cron_schedule=_SETTINGS.workforce_cron,
    execution_timezone=_SETTINGS.schedule_timezone,  # finance's, not UTC by accident
    default_status=dg.DefaultScheduleStatus.RUNNING
    if _SETTINGS.automation_on
    else dg.DefaultScheduleStatus.STOPPED,
)
