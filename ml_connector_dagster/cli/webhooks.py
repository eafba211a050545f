"""``ml-connector webhooks serve``: the Rippling webhook receiver on uvicorn.

Settings come from the environment (secrets never on the command line, where ``ps`` shows
them): ``ML_CONNECTOR_WEBHOOK_TOKEN`` (the static bearer token configured in Rippling),
``ML_CONNECTOR_WEBHOOK_PATH_SECRET`` (an unguessable URL path segment, where no token is set
up), ``ML_CONNECTOR_RIPPLING_COMPANY_IDS`` (comma-separated company ids to accept).
"""

import logging

import click
from pydantic import SecretStr

from ml_connector_dagster.audit.store import AuditStore
from ml_connector_dagster.cli import context
from ml_connector_dagster.config.settings import ConnectorSettings
from ml_connector_dagster.workforce.webhooks import WEBHOOK_PATH, create_webhook_app

PATH_SECRET_ENV = "ML_CONNECTOR_WEBHOOK_PATH_SECRET"


def webhook_settings(
    settings: ConnectorSettings,
) -> tuple[SecretStr | None, str | None, set[str]]:
    """The bearer token, the path secret and the accepted company ids."""
    token = settings.webhook_token
    token = token if token is not None and token.get_secret_value().strip() else None
    secret = settings.webhook_path_secret
    path_secret = secret.get_secret_value().strip() if secret is not None else ""
    companies = {c.strip() for c in (settings.rippling_company_ids or "").split(",") if c.strip()}
    return (token, path_secret or None, companies)


@click.group()
def webhooks() -> None:
    """Receive Rippling webhooks into the audit store's inbox."""


@webhooks.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8787, show_default=True, type=int, help="Port to bind.")
def serve(host: str, port: int) -> None:
    """Serve the receiver; the workforce sync drains the inbox it fills."""
    import uvicorn

    settings = context.settings()
    token, path_secret, companies = webhook_settings(settings)
    store = AuditStore(settings.audit_database_url(), connection=settings.connection)
    try:
        app = create_webhook_app(
            store, bearer_token=token, path_secret=path_secret, known_company_ids=companies
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    path = WEBHOOK_PATH + (f"/<${PATH_SECRET_ENV}>" if path_secret else "")
    auth = " + ".join(
        name for name, on in (("bearer token", token), ("path secret", path_secret)) if on
    )
    click.echo(
        f"Rippling webhooks: POST http://{host}:{port}{path} ({auth};"
        f" {len(companies)} compan{'y' if len(companies) == 1 else 'ies'})"
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # No access log: it would print the request path, and with it the path secret.
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="info")
