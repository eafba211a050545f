"""What a connection needs to reach Rippling and Dynamics, with secrets that never print.

Secrets are pydantic ``SecretStr``: their repr, str and JSON dump are masked, so a model that
ends up in a log line, an exception or Dagster metadata shows ``**********``. Code that must
send a secret calls ``get_secret_value()`` at the last moment.
"""

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator, model_validator

RIPPLING_V2_BASE_URL = "https://rest.ripplingapis.com"
RIPPLING_V1_BASE_URL = "https://api.rippling.com/platform/api"
RIPPLING_OAUTH_TOKEN_URL = "https://app.rippling.com/api/o/token/"
ENTRA_AUTHORITY_HOST = "https://login.microsoftonline.com"


class CredentialsError(ValueError):
    """Credentials that are missing, inconsistent, or cannot be read; names the setting."""


class RipplingCredentials(BaseModel):
    """A direct API token, or an OAuth App Shop install (client + refresh token)."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    base_url: str = RIPPLING_V2_BASE_URL
    v1_base_url: str = RIPPLING_V1_BASE_URL
    api_version: str | None = None
    api_token: SecretStr | None = None
    oauth_client_id: str | None = None
    oauth_client_secret: SecretStr | None = None
    oauth_refresh_token: SecretStr | None = None
    oauth_token_url: str = RIPPLING_OAUTH_TOKEN_URL

    @property
    def uses_oauth(self) -> bool:
        return self.api_token is None

    @model_validator(mode="after")
    def _one_way_in(self) -> "RipplingCredentials":
        oauth = (self.oauth_client_id, self.oauth_client_secret, self.oauth_refresh_token)
        if self.api_token is None and not all(oauth):
            raise CredentialsError(
                "Rippling: give RIPPLING_API_TOKEN, or all of RIPPLING_OAUTH_CLIENT_ID,"
                " RIPPLING_OAUTH_CLIENT_SECRET and RIPPLING_OAUTH_REFRESH_TOKEN"
            )
        for name in ("base_url", "v1_base_url", "oauth_token_url"):
            if urlsplit(getattr(self, name)).scheme != "https":
                raise CredentialsError(f"Rippling {name} must be an https URL")
        return self


class DynamicsCredentials(BaseModel):
    """An Entra ID app registration allowed into one F&O environment."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    environment_url: str
    tenant_id: str
    client_id: str
    client_secret: SecretStr
    authority_host: str = ENTRA_AUTHORITY_HOST
    # The F&O host must be *.dynamics.com unless explicitly allowed (the sandbox needs it).
    allow_any_host: bool = False

    @field_validator("environment_url", "authority_host")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _valid_environment(self) -> "DynamicsCredentials":
        parts = urlsplit(self.environment_url)
        if parts.scheme != "https" or not parts.hostname:
            raise CredentialsError(
                f"DYNAMICS_ENVIRONMENT_URL must be https://<host>, got {self.environment_url!r}"
            )
        if parts.path or parts.query or parts.fragment:
            raise CredentialsError(
                "DYNAMICS_ENVIRONMENT_URL is the environment host only, without a path"
                f" (like https://contoso.operations.dynamics.com), got {self.environment_url!r}"
            )
        if not self.allow_any_host and not parts.hostname.lower().endswith(".dynamics.com"):
            raise CredentialsError(
                f"DYNAMICS_ENVIRONMENT_URL host {parts.hostname!r} is not under dynamics.com;"
                " set DYNAMICS_ALLOW_ANY_HOST=true if that is intended (sandbox, private link)"
            )
        if urlsplit(self.authority_host).scheme != "https":
            raise CredentialsError("DYNAMICS_AUTHORITY_HOST must be https (MSAL requires it)")
        return self

    @property
    def scope(self) -> str:
        """The client-credentials scope: the environment itself with ``/.default``."""
        return f"{self.environment_url}/.default"

    @property
    def authority(self) -> str:
        return f"{self.authority_host}/{self.tenant_id}"


class AlertCredentials(BaseModel):
    """The alert channels' secrets; both optional: a channel without its secret stays off.

    The Teams incoming webhook URL is a secret as a whole (its path and query hold the
    signature that lets anyone post to the channel), so it is a ``SecretStr`` like a password,
    and an invalid one is described without its value.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    teams_webhook_url: SecretStr | None = None
    smtp_password: SecretStr | None = None

    @model_validator(mode="after")
    def _https_webhook(self) -> "AlertCredentials":
        if self.teams_webhook_url is not None:
            parts = urlsplit(self.teams_webhook_url.get_secret_value())
            if parts.scheme != "https" or not parts.hostname:
                raise CredentialsError(
                    "ML_CONNECTOR_TEAMS_WEBHOOK_URL must be an https URL with a host"
                    " (the incoming webhook URL Teams or Power Automate shows)"
                )
        return self


class ConnectionCredentials(BaseModel):
    """Both sides of one connection, plus an extra CA file trusted by both clients."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    rippling: RipplingCredentials
    dynamics: DynamicsCredentials
    ca_bundle: str | None = None
