"""Alerts to finance and the operator, by Microsoft Teams and e-mail, through an outbox.

How the rest of the connector raises one (the payroll assets, sensors, commands)::

    from ml_connector_dagster.alerts import AlertKind, alert_for_run, enqueue

    with connector.audit() as audit:
        enqueue(audit, alert_for_run(
            connector.settings(), AlertKind.BLOCKED,
            company="USMF", pay_period="2026-11-15", run_id=context.run.run_id,
            summary="Department D110 is not in mapping.yaml: 45 workers; nothing was written"
                    " to Dynamics",
            amount=Decimal("175772.44"), currency="USD",
        ))

``enqueue`` commits the alert to the audit database at once and returns; it never sends. The
delivery sensor (``defs/alerts``) sends pending alerts every 30 seconds on each configured
channel, and records per channel when it went out, how many tries, and the last error.
"""

from ml_connector_dagster.alerts.build import alert_for_run
from ml_connector_dagster.alerts.model import Alert, AlertError, AlertKind, run_link
from ml_connector_dagster.alerts.outbox import enqueue

__all__ = ["Alert", "AlertError", "AlertKind", "alert_for_run", "enqueue", "run_link"]
