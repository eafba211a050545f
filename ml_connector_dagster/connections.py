"""Build the two clients of one connection from resolved credentials.

One place decides the shared TLS context (system trust plus ``ML_CONNECTOR_CA_BUNDLE``) and
where a rotated Rippling refresh token goes: into the encrypted store, so the next run (a new
process) can still refresh. Without a store key (an environment-only container) the token
cannot be kept, and the log says so without showing it.
"""

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx
from pydantic import SecretStr

from ml_connector_dagster.config.settings import ENVIRONMENT, ConnectorSettings
from ml_connector_dagster.credentials.errors import MissingKeyError
from ml_connector_dagster.credentials.locate import open_store
from ml_connector_dagster.credentials.models import ConnectionCredentials
from ml_connector_dagster.credentials.resolve import resolve_credentials
from ml_connector_dagster.dynamics.client import DynamicsClient
from ml_connector_dagster.rippling.client import RipplingClient
from ml_connector_dagster.transport.tls import build_ssl_context

log = logging.getLogger(__name__)


def refresh_token_writer(env: Mapping[str, str] = ENVIRONMENT) -> Callable[[SecretStr], None]:
    """Persist a rotated Rippling refresh token encrypted, or warn that it cannot be kept."""

    def write(token: SecretStr) -> None:
        try:
            open_store(env).write_rotated_refresh_token(token)
            log.info("stored the rotated Rippling refresh token in the encrypted store")
        except MissingKeyError:
            log.warning(
                "Rippling rotated the OAuth refresh token but no credentials key is configured"
                " (ML_CONNECTOR_CREDENTIALS_KEY or a key file): the new token lives only in this"
                " process; store credentials with `ml-connector credentials set rippling`"
            )

    return write


@dataclass
class Connection:
    """The resolved credentials of one connection and factories for its clients."""

    credentials: ConnectionCredentials
    env: Mapping[str, str] = field(repr=False)  # the process environment holds secrets
    settings: ConnectorSettings = field(default_factory=ConnectorSettings.from_env, repr=False)

    @classmethod
    def from_environment(cls, env: Mapping[str, str] = ENVIRONMENT) -> "Connection":
        return cls(resolve_credentials(env), env, ConnectorSettings.from_env(env))

    def rippling(self, **kwargs: object) -> RipplingClient:
        return RipplingClient(
            self.credentials.rippling,
            ssl_context=build_ssl_context(self.credentials.ca_bundle),
            on_refresh_token=refresh_token_writer(self.env),
            **kwargs,  # type: ignore[arg-type]
        )

    def dynamics(self, **kwargs: object) -> DynamicsClient:
        """A client with the environment's changeset size and ``$batch`` timeout (overridable)."""
        return DynamicsClient(
            self.credentials.dynamics,
            ssl_context=build_ssl_context(self.credentials.ca_bundle),
            **{
                "changeset_size": self.settings.dynamics_changeset_size,
                # F&O answers a $batch only after the whole changeset is validated and committed.
                "batch_timeout": httpx.Timeout(
                    self.settings.dynamics_batch_timeout_seconds, connect=10.0
                ),
                **kwargs,
            },  # type: ignore[arg-type]
        )
