"""The workforce flow's definitions: what ``definitions.py`` merges with the shared resources."""

import dagster as dg

from ml_connector_dagster.defs.workforce.assets import WORKFORCE_ASSETS
from ml_connector_dagster.defs.workforce.jobs import workforce_job
from ml_connector_dagster.defs.workforce.schedules import workforce_schedule
from ml_connector_dagster.defs.workforce.sensors import (
    workforce_poll_sensor,
    workforce_webhook_sensor,
)

defs = dg.Definitions(
    assets=WORKFORCE_ASSETS,
    jobs=[workforce_job],
    sensors=[workforce_webhook_sensor, workforce_poll_sensor],
    schedules=[workforce_schedule],
)
