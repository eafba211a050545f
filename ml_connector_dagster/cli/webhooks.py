"""``ml-connector webhooks serve``: the Rippling webhook receiver on uvicorn.

Settings come from the environment (secrets never on the command line, where ``ps`` shows
them): ``ML_CONNECTOR_WEBHOOK_TOKEN`` (the static bearer token configured in Rippling),
``ML_CONNECTOR_WEBHOOK_PATH_SECRET`` (an unguessable URL path segment, where no token is set
up), ``ML_CONNECTOR_RIPPLING_COMPANY_IDS`` (comma-separated company ids to accept).
"""

import logging
import os
from collections.abc import Mapping

import click
from pydantic import SecretStr

from ml_connector_dagster.audit.store import AuditStore, default_audit_url
from ml_connector_dagster.workforce.webhooks import WEBHOOK_PATH, create_webhook_app

TOKEN_ENV = "ML_CONNECTOR_WEBHOOK_TOKEN"
PATH_SECRET_ENV = "ML_CONNECTOR_WEBHOOK_PATH_SECRET"
COMPANIES_ENV = "ML_CONNECTOR_RIPPLING_COMPANY_IDS"


def webhook_settings(
    env: Mapping[str, str] = os.environ,
) -> tuple[SecretStr | None, str | None, set[str]]:
    token = env.get(TOKEN_ENV, "").strip()
    path_secret = env.get(PATH_SECRET_ENV, "").strip()
    companies = {c.strip() for c in env.get(COMPANIES_ENV, "").split(",") if c.strip()}
    return (SecretStr(token) if token else None, path_secret or None, companies)


@click.group()
def webhooks() -> None:
    """Receive Rippling webhooks into the audit store's inbox."""


@webhooks.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8787, show_default=True, type=int, help="Port to bind.")
def serve(host: str, port: int) -> None:
    """Serve the receiver; the workforce sync drains the inbox it fills."""
    import uvicorn

    token, path_secret, companies = webhook_settings()
    store = AuditStore(default_audit_url())
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
