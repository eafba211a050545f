"""The environment variables the credentials code reads, in one place, and how they parse.

An empty variable counts as unset: container runtimes and compose files often define a
variable as empty rather than leaving it out, and an empty secret is never meant literally.
"""

from collections.abc import Mapping

from ml_connector_dagster.config import settings
from ml_connector_dagster.credentials.models import CredentialsError

# Where the key and the store are.
KEY = "ML_CONNECTOR_CREDENTIALS_KEY"
KEY_FILE = "ML_CONNECTOR_CREDENTIALS_KEY_FILE"
STORE_FILE = "ML_CONNECTOR_CREDENTIALS_FILE"
ALLOW_KEY_BESIDE_STORE = "ML_CONNECTOR_ALLOW_KEY_BESIDE_STORE"
DAGSTER_HOME = "DAGSTER_HOME"

# The connection settings: model field name -> environment variable.
RIPPLING = {
    "base_url": "RIPPLING_API_BASE_URL",
    "v1_base_url": "RIPPLING_V1_BASE_URL",
    "api_version": "RIPPLING_API_VERSION",
    "api_token": "RIPPLING_API_TOKEN",
    "oauth_client_id": "RIPPLING_OAUTH_CLIENT_ID",
    "oauth_client_secret": "RIPPLING_OAUTH_CLIENT_SECRET",
    "oauth_refresh_token": "RIPPLING_OAUTH_REFRESH_TOKEN",
    "oauth_token_url": "RIPPLING_OAUTH_TOKEN_URL",
}
DYNAMICS = {
    "environment_url": "DYNAMICS_ENVIRONMENT_URL",
    "tenant_id": "DYNAMICS_TENANT_ID",
    "client_id": "DYNAMICS_CLIENT_ID",
    "client_secret": "DYNAMICS_CLIENT_SECRET",
    "authority_host": "DYNAMICS_AUTHORITY_HOST",
    "allow_any_host": "DYNAMICS_ALLOW_ANY_HOST",
}
# The alert channels' secrets (``alerts/``): the Teams incoming webhook URL carries its own
# signature, so the whole URL is the secret; the SMTP password goes with ML_CONNECTOR_SMTP_USER.
ALERTS = {
    "teams_webhook_url": "ML_CONNECTOR_TEAMS_WEBHOOK_URL",
    "smtp_password": "ML_CONNECTOR_SMTP_PASSWORD",
}
CA_BUNDLE = "ML_CONNECTOR_CA_BUNDLE"
SIDES = {"rippling": RIPPLING, "dynamics": DYNAMICS, "alerts": ALERTS}


def env_value(env: Mapping[str, str], name: str) -> str | None:
    """The variable's value, or None when it is unset or empty."""
    value = env.get(name)
    return value if value else None


def parse_bool(name: str, value: str) -> bool:
    """The connector's one boolean rule (``config.settings``), as a credentials error."""
    try:
        return settings.parse_bool(name, value)
    except settings.SettingsError as exc:
        raise CredentialsError(str(exc)) from None


def env_bool(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    value = env_value(env, name)
    return default if value is None else parse_bool(name, value)
