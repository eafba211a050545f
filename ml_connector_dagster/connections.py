"""Build the two clients of one connection from resolved credentials.

One place decides the shared TLS context (system trust plus ``ML_CONNECTOR_CA_BUNDLE``) and
where a rotated Rippling refresh token goes: into the encrypted store, so the next run (a new
process) can still refresh. Without a store key (an environment-only container) the token
cannot be kept, and the log says so without showing it.

Sensors, runs and the CLI refresh from that one stored token in separate processes, and
Rippling invalidates a refresh token once used. So every OAuth refresh runs under a lock in the
audit database (the one store all of them share): the holder re-reads the stored token, refreshes
with it and stores the rotated one before letting go (``StoreRefreshCoordinator``).
"""

import hashlib
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pydantic import SecretStr

from ml_connector_dagster.audit import locks
from ml_connector_dagster.config.settings import ENVIRONMENT, ConnectorSettings
from ml_connector_dagster.credentials.errors import MissingKeyError
from ml_connector_dagster.credentials.locate import existing_store, open_store
from ml_connector_dagster.credentials.models import ConnectionCredentials, DynamicsCredentials
from ml_connector_dagster.credentials.resolve import resolve_credentials, side_settings
from ml_connector_dagster.credentials.store import StoredCredentials
from ml_connector_dagster.dynamics.auth import EntraTokenProvider
from ml_connector_dagster.dynamics.client import DynamicsClient
from ml_connector_dagster.rippling.auth import RipplingAuth, auth_from_credentials
from ml_connector_dagster.rippling.client import RipplingClient
from ml_connector_dagster.transport.inflight import InFlightCap
from ml_connector_dagster.transport.tls import shared_ssl_context

log = logging.getLogger(__name__)

# One name for every Rippling refresh of this deployment: refreshes of different OAuth apps
# wait for each other too, which costs little (a refresh takes a second, every ~36 hours).
REFRESH_LOCK_NAME = "ml-connector/rippling-oauth-refresh"
# How long a refresh waits for another process's refresh: several token calls (each bounded by
# ML_CONNECTOR_RIPPLING_TIMEOUT_SECONDS, 30 s by default) in a row. Not a setting:
# config/settings.py has none for it yet.
REFRESH_LOCK_TIMEOUT_SECONDS = 120.0
# Connecting takes at most this long (or the read timeout, if smaller), whatever the service.
CONNECT_TIMEOUT_SECONDS = 10.0


def http_timeout(read_seconds: float) -> httpx.Timeout:
    """A client's timeout: ``read_seconds`` to read (and write, and wait for the pool), and
    ``CONNECT_TIMEOUT_SECONDS`` or less to connect."""
    return httpx.Timeout(read_seconds, connect=min(CONNECT_TIMEOUT_SECONDS, read_seconds))


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


def configured_refresh_token(env: Mapping[str, str] = ENVIRONMENT) -> SecretStr | None:
    """The Rippling refresh token resolution picks now (a rotated stored one beats the env).

    Only this field is resolved, so a connection built from partial settings still works.
    Read fresh on every call: another process may have rotated the token a moment ago.
    """
    store = existing_store(env)
    stored = store.load() if store is not None else StoredCredentials()
    value = side_settings("rippling", env, stored)["oauth_refresh_token"].value
    return value if isinstance(value, SecretStr) else None


# One Entra token source per app registration, CA bundle and timeout in this process: every
# Dynamics client of a run (checks, poster, matches_rippling) and of a sensor's ticks shares
# MSAL's token cache, so a process asks Entra once per token lifetime (discovery + token),
# not twice per client. Clients built with ``tokens=`` or directly are not affected.
_ENTRA_TOKENS: dict[tuple[str, ...], EntraTokenProvider] = {}
_ENTRA_TOKENS_LOCK = threading.Lock()


def shared_entra_tokens(
    credentials: DynamicsCredentials, ca_bundle: Path | None, timeout: float
) -> EntraTokenProvider:
    """This process's token source for the app registration (created on first use)."""
    secret = hashlib.sha256(credentials.client_secret.get_secret_value().encode()).hexdigest()
    key = (
        credentials.authority,
        credentials.client_id,
        secret,  # a rotated secret is another source: the old one's tokens may be revoked
        credentials.environment_url,
        str(ca_bundle or ""),
        repr(timeout),
    )
    with _ENTRA_TOKENS_LOCK:
        provider = _ENTRA_TOKENS.get(key)
        if provider is None:
            provider = EntraTokenProvider(
                credentials, shared_ssl_context(ca_bundle), timeout=timeout
            )
            _ENTRA_TOKENS[key] = provider
        return provider


@dataclass
class StoreRefreshCoordinator:
    """Rippling refreshes one process at a time, from and into the encrypted store.

    The lock is in the audit database at ``database_url()`` (asked for only when a refresh
    happens: it may create the SQLite file's directory). Implements ``RefreshCoordinator``.

    Limits (uncertain in production, not covered by a test): without a credentials key the
    rotated token cannot be shared, so a second process refreshing later still starts from the
    environment's dead token and fails; the lock only keeps them from colliding. On SQLite the
    lock is the database's write lock, so audit writes wait (30 s busy timeout) while a token
    call is in flight (30 s read timeout at most).
    """

    env: Mapping[str, str] = field(repr=False)  # the process environment holds secrets
    database_url: Callable[[], str] = field(repr=False)  # a database URL may carry a password
    timeout: float = REFRESH_LOCK_TIMEOUT_SECONDS

    @contextmanager
    def exclusive(self) -> Iterator[SecretStr | None]:
        with locks.exclusive(self.database_url(), REFRESH_LOCK_NAME, self.timeout):
            yield configured_refresh_token(self.env)

    def record(self, token: SecretStr) -> None:
        refresh_token_writer(self.env)(token)


@dataclass
class Connection:
    """The resolved credentials of one connection and factories for its clients."""

    credentials: ConnectionCredentials
    env: Mapping[str, str] = field(repr=False)  # the process environment holds secrets
    settings: ConnectorSettings = field(default_factory=ConnectorSettings.from_env, repr=False)

    @classmethod
    def from_environment(cls, env: Mapping[str, str] = ENVIRONMENT) -> "Connection":
        return cls(resolve_credentials(env), env, ConnectorSettings.from_env(env))

    def in_flight(self, service: str, limit: int) -> InFlightCap:
        """The machine-wide cap on ``service``'s requests in flight, under DAGSTER_HOME."""
        return InFlightCap(self.settings.connection_directory() / "in-flight", service, limit)

    def rippling_auth(self) -> RipplingAuth:
        """Rippling's token source; an OAuth refresh is serialized across processes."""
        coordinator = StoreRefreshCoordinator(self.env, self.settings.audit_database_url)
        return auth_from_credentials(self.credentials.rippling, coordinator=coordinator)

    def rippling(self, **kwargs: object) -> RipplingClient:
        """A client with the environment's read timeout (``timeout=`` in kwargs overrides)."""
        if "auth" not in kwargs:
            kwargs["auth"] = self.rippling_auth()
        if "timeout" not in kwargs:
            kwargs["timeout"] = http_timeout(self.settings.rippling_timeout_seconds)
        if "in_flight" not in kwargs:
            kwargs["in_flight"] = self.in_flight("rippling", self.settings.rippling_max_in_flight)
        return RipplingClient(
            self.credentials.rippling,
            ssl_context=shared_ssl_context(self.credentials.ca_bundle),
            **kwargs,  # type: ignore[arg-type]
        )

    def dynamics(self, **kwargs: object) -> DynamicsClient:
        """A client with the environment's changeset size and timeouts (requests, ``$batch``,
        Entra tokens), each overridable in kwargs, and this process's shared Entra token
        source (``shared_entra_tokens``; ``tokens=`` overrides, and ``retry=`` gets a token
        source of its own, governed by that policy)."""
        if "tokens" not in kwargs and "retry" not in kwargs:
            # A caller's own retry policy governs its token requests too: not shared then.
            kwargs["tokens"] = shared_entra_tokens(
                self.credentials.dynamics,
                self.credentials.ca_bundle,
                float(kwargs.get("token_timeout", self.settings.token_timeout_seconds)),  # type: ignore[arg-type]
            )
        return DynamicsClient(
            self.credentials.dynamics,
            ssl_context=shared_ssl_context(self.credentials.ca_bundle),
            **{
                "changeset_size": self.settings.dynamics_changeset_size,
                "timeout": http_timeout(self.settings.dynamics_timeout_seconds),
                "token_timeout": self.settings.token_timeout_seconds,
                # F&O answers a $batch only after the whole changeset is validated and committed.
                "batch_timeout": http_timeout(self.settings.dynamics_batch_timeout_seconds),
                "in_flight": self.in_flight("dynamics", self.settings.dynamics_max_in_flight),
                **kwargs,
            },  # type: ignore[arg-type]
        )
