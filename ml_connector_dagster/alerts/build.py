"""Alerts about a Dagster run, with the connection and the run's link from the settings."""

from decimal import Decimal

from ml_connector_dagster.alerts.model import Alert, AlertKind, run_link
from ml_connector_dagster.config.settings import ConnectorSettings


def alert_for_run(
    settings: ConnectorSettings,
    kind: AlertKind,
    *,
    run_id: str,
    summary: str,
    company: str | None = None,
    pay_period: str | None = None,
    amount: Decimal | None = None,
    currency: str | None = None,
    reference: str | None = None,
) -> Alert:
    """An alert linking to ``run_id`` in the Dagster UI (``ML_CONNECTOR_DAGSTER_URL``).

    ``reference`` defaults to the run id: one alert of this kind per run and partition. Give
    the journal key instead when the alert is about a journal whatever run sees it
    (UNPOSTED, CORRECTION_NEEDED), so later runs do not tell finance again.
    """
    return Alert(
        kind=kind,
        summary=summary,
        reference=reference or run_id,
        company=company,
        pay_period=pay_period,
        amount=amount,
        currency=currency,
        run_id=run_id,
        run_url=run_link(settings.dagster_url, run_id),
        connection=settings.connection,
    )
