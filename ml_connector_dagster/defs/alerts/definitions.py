"""The alerts flow's definitions: what ``definitions.py`` merges with the shared resources."""

import dagster as dg

from ml_connector_dagster.defs.alerts.sensors import alert_on_run_failure, deliver_alerts

defs = dg.Definitions(sensors=[alert_on_run_failure, deliver_alerts])
