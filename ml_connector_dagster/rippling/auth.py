"""Bearer credentials for Rippling: a direct API token, or an OAuth App Shop install.

An OAuth access token is refreshed shortly before it expires (from ``expires_in``) and once more
if a call still gets 401. Rippling may rotate the refresh token on every refresh; the new one is
handed to ``on_refresh_token`` so it can be written back (encrypted) before it is needed again.

These are token sources: ``token`` and ``invalidate`` plug into ``transport.auth``'s
``RefreshingBearerAuth``, which sets the header and does the one re-send after a 401.

Sensors, runs and the CLI are separate processes sharing one stored refresh token. Two of them
refreshing with it at once would leave the loser with ``invalid_grant``, so an ``OAuthAuth`` may
be given a ``RefreshCoordinator``: a refresh then happens under a lock shared by all processes,
starts from the refresh token currently stored (another process may have just rotated it), and
stores the rotated one before the lock is released. This module only defines the protocol; the
lock and the store are wired in by ``connections`` (the clients know nothing of the audit
database).
"""

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

import httpx
from pydantic import SecretStr

from ml_connector_dagster.credentials.models import RipplingCredentials
from ml_connector_dagster.rippling.errors import RipplingAuthError, RipplingUnavailableError
from ml_connector_dagster.transport.retry import (
    NOT_SENT_ERRORS,
    RETRYABLE_ERRORS,
    TRANSIENT_SERVER_ERRORS,
    RetryPolicy,
)

log = logging.getLogger(__name__)

# Refresh this long before the advertised expiry, so a long page walk never meets a dead token.
REFRESH_MARGIN_SECONDS = 300.0


class RipplingAuth(Protocol):
    def token(self, http: httpx.Client) -> str:
        """The bearer token for the next request (an OAuth refresh goes through ``http``)."""
        ...

    def invalidate(self) -> None:
        """React to a 401: forget the token (the call is then sent once more with a fresh one),
        or raise RipplingAuthError when there is nothing to refresh."""
        ...


class RefreshCoordinator(Protocol):
    """Serializes OAuth refreshes across processes and shares the rotated refresh token."""

    def exclusive(self) -> AbstractContextManager[SecretStr | None]:
        """Hold the cross-process refresh lock for the block.

        Yields the refresh token currently configured (store and environment, as resolution
        ranks them), read after the lock was taken, or None when none is configured.
        """
        ...

    def record(self, token: SecretStr) -> None:
        """Keep the refresh token Rippling just issued; called while ``exclusive`` is held."""
        ...


class ApiTokenAuth:
    """A customer API token; a 401 means it expired (30 days unused) or was revoked."""

    def __init__(self, token: SecretStr) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "ApiTokenAuth(token=**********)"

    def token(self, http: httpx.Client) -> str:
        return self._token.get_secret_value()

    def invalidate(self) -> None:
        raise RipplingAuthError(
            "Rippling API token expired or revoked: create a new token in Rippling"
            " (Settings > Company settings > API tokens) and update RIPPLING_API_TOKEN"
            " or `ml-connector credentials set rippling`"
        )


class OAuthAuth:
    """OAuth access token from a refresh token, refreshed before expiry and on a 401.

    With a ``coordinator`` each refresh runs under its cross-process lock (after this object's
    thread lock: always that order), from the newest stored refresh token, and the rotated one
    is recorded before the lock is let go. Without one, refreshes are serialized between the
    threads of this process only.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: SecretStr,
        refresh_token: SecretStr,
        token_url: str,
        on_refresh_token: Callable[[SecretStr], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        coordinator: RefreshCoordinator | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self._token_url = token_url
        self._on_refresh_token = on_refresh_token
        self._clock = clock
        self._coordinator = coordinator
        # The configured token as last seen through the coordinator (at first: the one given,
        # which came from the same resolution). Only a *change* there is news; see _adopt.
        self._seen_configured = refresh_token
        self._access_token: SecretStr | None = None
        self._expires_at = 0.0
        # Rippling throttles without Retry-After: jittered backoff, a few tries.
        self._retry = retry or RetryPolicy(attempts=5, base=1.0, cap=30.0)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OAuthAuth(client_id={self._client_id!r}, token_url={self._token_url!r})"

    def token(self, http: httpx.Client) -> str:
        with self._lock:
            if (
                self._access_token is None
                or self._clock() >= self._expires_at - REFRESH_MARGIN_SECONDS
            ):
                self._refresh(http)
            assert self._access_token is not None
            return self._access_token.get_secret_value()

    def invalidate(self) -> None:
        """Drop the access token; the next ``token`` refreshes (the refresh token is kept)."""
        with self._lock:
            self._access_token = None

    def _refresh(self, http: httpx.Client) -> None:
        if self._coordinator is None:
            self._refresh_with_current(http)
            return
        with self._coordinator.exclusive() as configured:
            self._adopt(configured)
            self._refresh_with_current(http)  # records a rotated token, still under the lock

    def _adopt(self, configured: SecretStr | None) -> None:
        """Switch to the configured refresh token if it changed since we last looked.

        A change means another process (or the operator) put a newer token there: ours is then
        dead or about to be. An unchanged one is kept out: it may be older than ours, when our
        own rotated token could not be stored (no credentials key: environment-only container).
        """
        if configured is None:
            return
        if configured.get_secret_value() == self._seen_configured.get_secret_value():
            return
        self._seen_configured = configured
        if configured.get_secret_value() != self._refresh_token.get_secret_value():
            log.info(
                "the stored Rippling refresh token changed (rotated by another process):"
                " refreshing with the stored one"
            )
            self._refresh_token = configured

    def _refresh_with_current(self, http: httpx.Client) -> None:
        """One refresh, sent again after a throttle, a 5xx or a lost connection.

        Rippling rotates the refresh token on use. A refresh that may have reached Rippling and
        whose answer was lost (a 5xx, a cut or timed-out connection after sending) may have
        rotated it already: it is still sent again with the same token (the only one we have),
        and if Rippling then refuses that token the error says so, rather than blaming the
        install. A 429 and a connection never made carried nothing.
        """
        log.debug("refreshing the Rippling OAuth access token at %s", self._token_url)
        maybe_rotated = False
        last = ""
        for attempt in range(self._retry.attempts):
            if attempt:
                self._retry.sleep(self._retry.wait_for(None, attempt - 1))
            try:
                response = http.post(
                    self._token_url,
                    data={
                        "grant_type": "refresh_token",
                        "refresh_token": self._refresh_token.get_secret_value(),
                    },
                    auth=(self._client_id, self._client_secret.get_secret_value()),
                )
            except RETRYABLE_ERRORS as exc:
                maybe_rotated |= not isinstance(exc, NOT_SENT_ERRORS)
                last = type(exc).__name__
                log.warning("Rippling's token endpoint: %s; trying again", last)
                continue
            if response.status_code == 429 or response.status_code in TRANSIENT_SERVER_ERRORS:
                maybe_rotated |= response.status_code != 429
                last = f"HTTP {response.status_code}"
                log.warning("Rippling's token endpoint answered %s; trying again", last)
                continue
            if response.status_code != 200:
                raise RipplingAuthError(_refusal(response, maybe_rotated))
            self._adopt_answer(response)
            return
        raise RipplingUnavailableError(
            f"Rippling's OAuth token endpoint {self._token_url} did not give a token in"
            f" {self._retry.attempts} tries (last: {last}): Rippling is throttling or"
            " unavailable; the run can be replayed once it answers"
        )

    def _adopt_answer(self, response: httpx.Response) -> None:
        body = response.json()
        self._access_token = SecretStr(body["access_token"])
        self._expires_at = self._clock() + float(body.get("expires_in", 3600))
        new_refresh = body.get("refresh_token")
        if new_refresh and new_refresh != self._refresh_token.get_secret_value():
            self._refresh_token = SecretStr(new_refresh)
            if self._coordinator is not None:
                self._coordinator.record(self._refresh_token)
            if self._on_refresh_token is not None:
                self._on_refresh_token(self._refresh_token)


def _refusal(response: httpx.Response, maybe_rotated: bool) -> str:
    """Why Rippling refused the refresh, and what to do."""
    error = _oauth_error(response)
    if maybe_rotated:
        return (
            f"Rippling OAuth refresh failed ({response.status_code} {error}) after an earlier"
            " refresh whose answer was lost (a 5xx or a cut connection): Rippling may have"
            " rotated the refresh token then, and the new one never arrived; authorize the app"
            " again and store the new refresh token with `ml-connector credentials set rippling`"
        )
    return (
        f"Rippling OAuth refresh failed ({response.status_code} {error}): the App Shop"
        " install may have been removed or its refresh token revoked; reinstall the app"
        " or update the refresh token with `ml-connector credentials set rippling`"
    )


def _oauth_error(response: httpx.Response) -> str:
    """The OAuth error code only (never the body, which could echo a credential)."""
    try:
        return str(response.json().get("error", "unknown_error"))
    except ValueError:
        return "unreadable error body"


def auth_from_credentials(
    credentials: RipplingCredentials,
    on_refresh_token: Callable[[SecretStr], None] | None = None,
    coordinator: RefreshCoordinator | None = None,
) -> RipplingAuth:
    """The token source the credentials call for (``coordinator``: OAuth only, see OAuthAuth)."""
    if credentials.api_token is not None:
        return ApiTokenAuth(credentials.api_token)
    assert credentials.oauth_client_id and credentials.oauth_client_secret
    assert credentials.oauth_refresh_token
    return OAuthAuth(
        credentials.oauth_client_id,
        credentials.oauth_client_secret,
        credentials.oauth_refresh_token,
        credentials.oauth_token_url,
        on_refresh_token=on_refresh_token,
        coordinator=coordinator,
    )
