"""Which channels are on: Teams when its webhook credential is set, e-mail when SMTP is.

The secrets come from the credential resolution (environment over the encrypted store), like
Rippling's and Dynamics'; the rest from ``ConnectorSettings``. Read on every delivery, so a
channel configured while the code location runs is used from the next tick on.
"""

from collections.abc import Mapping

from ml_connector_dagster.alerts.channels import Channel
from ml_connector_dagster.alerts.smtp import EmailChannel
from ml_connector_dagster.alerts.teams import TeamsChannel
from ml_connector_dagster.config.settings import ENVIRONMENT, ConnectorSettings
from ml_connector_dagster.credentials.locate import existing_store
from ml_connector_dagster.credentials.resolve import resolve_alerts, resolve_ca_bundle


def configured_channels(
    settings: ConnectorSettings, env: Mapping[str, str] = ENVIRONMENT
) -> list[Channel]:
    """The channels alerts go out on now (empty: nobody is told, and nothing is sent)."""
    store = existing_store(env)
    secrets = resolve_alerts(env, store)
    ca_bundle = resolve_ca_bundle(env, store)
    channels: list[Channel] = []
    if secrets.teams_webhook_url is not None:
        channels.append(
            TeamsChannel(
                secrets.teams_webhook_url,
                ca_bundle=ca_bundle,
                timeout=settings.alert_timeout_seconds,
            )
        )
    if settings.email_configured():
        assert settings.smtp_host is not None and settings.smtp_from is not None
        channels.append(
            EmailChannel(
                host=settings.smtp_host,
                port=settings.smtp_port_or_default(),
                security=settings.smtp_security,
                sender=settings.smtp_from,
                recipients=settings.smtp_recipients(),
                user=settings.smtp_user,
                password=secrets.smtp_password,
                ca_bundle=ca_bundle,
                timeout=settings.alert_timeout_seconds,
            )
        )
    return channels
