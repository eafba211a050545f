"""Build the two clients of one connection from resolved credentials.

One place decides the shared TLS context (system trust plus ``ML_CONNECTOR_CA_BUNDLE``) and
where a rotated Rippling refresh token goes: into the encrypted store, so the next run (a new
process) can still refresh. Without a store key (an environment-only container) the token
cannot be kept, and the log says so without showing it.
"""

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pydantic import SecretStr

from ml_connector_dagster.credentials.errors import MissingKeyError
from ml_connector_dagster.credentials.locate import open_store
from ml_connector_dagster.credentials.models import ConnectionCredentials
from ml_connector_dagster.credentials.resolve import resolve_credentials
from ml_connector_dagster.dynamics.client import DynamicsClient
from ml_connector_dagster.dynamics.settings import client_settings
from ml_connector_dagster.rippling.client import RipplingClient
from ml_connector_dagster.transport.tls import build_ssl_context

log = logging.getLogger(__name__)


def refresh_token_writer(env: Mapping[str, str] = os.environ) -> Callable[[SecretStr], None]:
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

    @classmethod
    def from_environment(cls, env: Mapping[str, str] = os.environ) -> "Connection":
        return cls(resolve_credentials(env), env)

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
            **{**client_settings(self.env), **kwargs},  # type: ignore[arg-type]
        )
