"""Entra ID tokens for one F&O environment, through MSAL's client-credentials flow.

MSAL caches the token and renews it five minutes before expiry. A 401 from F&O means the cached
token is no good (revoked, or the app lost access): the client evicts it with
``remove_tokens_for_client`` and asks again, once. MSAL gets a requests session we built
(``trust_env=False`` with our SSL context), because requests silently prefers
``REQUESTS_CA_BUNDLE`` over any ``verify`` it is given.

Throttling is ours to handle: MSAL leaves retries to a caller-supplied http client. Entra
answers a client-credentials flood with 429 and ``Retry-After`` (and may answer 5xx when busy);
MSAL would read that as an ordinary error result (a non-OAuth body even breaks its telemetry
on the next call) and then answer a retry from its own throttle cache. So the session MSAL
gets turns such an answer into an exception before MSAL sees it, and ``token()`` waits (the
``Retry-After``, else jittered backoff, per ``RetryPolicy``) and asks again; when the budget is
spent it says "throttled", never a tenant or secret hint. A token endpoint out of reach (TLS,
DNS, refused connection) is ``DynamicsUnavailableError`` naming the host and what to do.

Every request MSAL sends has a timeout (``ML_CONNECTOR_TOKEN_TIMEOUT_SECONDS``, connect 10 s or
less): without one a token endpoint that accepts the connection and never answers would hang
the run for ever. MSAL's own ``timeout`` argument does not apply to an http client it is given
(its docstring says so), so the session below sets it on every call. A token request that times
out is asked again (it is idempotent) at most ``TIMEOUT_ATTEMPTS`` times in all, then it is a
``DynamicsTimeoutError`` saying Entra did not answer within that many seconds and naming the
setting.
"""

import logging
import ssl
import threading
from urllib.parse import urlsplit

import msal
import requests
import urllib3

from ml_connector_dagster.credentials.models import DynamicsCredentials
from ml_connector_dagster.dynamics.errors import (
    DynamicsAuthError,
    DynamicsTimeoutError,
    DynamicsUnavailableError,
)
from ml_connector_dagster.transport.retry import RetryPolicy, parse_retry_after
from ml_connector_dagster.transport.tls import describe_connection_failure, requests_session

log = logging.getLogger(__name__)

# Authority hosts MSAL knows; anything else (a sandbox) must skip instance discovery.
KNOWN_AUTHORITY_HOSTS = frozenset(
    {
        "login.microsoftonline.com",
        "login.microsoftonline.us",
        "login.chinacloudapi.cn",
        "login.partner.microsoftonline.cn",
        "login.windows.net",
        "login.microsoft.com",
        "login.sts.microsoft.com",
    }
)

# What an operator should do about the Entra errors a new connection typically meets.
AADSTS_HINTS: dict[int, str] = {
    7000215: "the client secret is wrong: use the secret's Value, not its Secret ID",
    7000222: "the client secret has expired: create a new one in the app registration",
    700016: "no app with this client id in the tenant: check DYNAMICS_CLIENT_ID and the tenant",
    90002: "the tenant was not found: check DYNAMICS_TENANT_ID and the authority host",
    900023: "the tenant id is malformed: use the directory (tenant) id GUID or domain",
    500011: "the F&O environment is not a resource in this tenant: check DYNAMICS_ENVIRONMENT_URL",
    1002012: "the scope must be the environment URL followed by /.default",
    70011: "the scope must be the environment URL followed by /.default",
}


# Entra answers worth another try after a wait: throttled, or the service briefly unwell.
BUSY_STATUSES = frozenset({429, 500, 502, 503, 504})

# How long one request to Entra may take by default (seconds), and the cap on connecting.
DEFAULT_TOKEN_TIMEOUT_SECONDS = 30.0
CONNECT_TIMEOUT_SECONDS = 10.0
# Token requests that time out, in all, before giving up: each may take the whole timeout.
TIMEOUT_ATTEMPTS = 3
# The setting an operator changes when Entra is merely slow (named in the error).
TOKEN_TIMEOUT_SETTING = "ML_CONNECTOR_TOKEN_TIMEOUT_SECONDS"


class EntraBusy(Exception):
    """Entra answered 429 or a transient 5xx; raised inside MSAL's call, caught by ``token``."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        self.status = status
        self.retry_after = retry_after
        super().__init__(f"Entra ID answered {status}")


class EntraTimeout(Exception):
    """A request to Entra timed out; raised inside MSAL's call, caught by ``token``."""

    def __init__(self, connecting: bool) -> None:
        self.connecting = connecting  # no connection within the connect timeout
        super().__init__("Entra ID did not answer in time")


def timed_out(error: BaseException) -> EntraTimeout | None:
    """An ``EntraTimeout`` when a requests error is a timeout, else None.

    requests raises ``ConnectTimeout``/``ReadTimeout`` while waiting for the answer's head, but
    a read timing out in the middle of the body surfaces as a ``ConnectionError`` wrapping
    urllib3's ``ReadTimeoutError``: both are the endpoint not answering in time.
    """
    if isinstance(error, requests.ConnectTimeout):
        return EntraTimeout(connecting=True)
    if isinstance(error, requests.Timeout):
        return EntraTimeout(connecting=False)
    wrapped = [arg for arg in getattr(error, "args", ()) if isinstance(arg, BaseException)]
    if any(isinstance(arg, urllib3.exceptions.ConnectTimeoutError) for arg in wrapped):
        return EntraTimeout(connecting=True)
    if any(isinstance(arg, urllib3.exceptions.ReadTimeoutError) for arg in wrapped):
        return EntraTimeout(connecting=False)
    return None


def request_timeout(seconds: float) -> tuple[float, float]:
    """requests' (connect, read) timeout for a read timeout of ``seconds``."""
    if not seconds > 0:
        raise ValueError(f"a token timeout must be more than 0 seconds, got {seconds}")
    return (min(CONNECT_TIMEOUT_SECONDS, seconds), seconds)


class BusyAwareSession:
    """The http client MSAL gets: our requests session, with busy answers raised as ``EntraBusy``.

    MSAL calls only ``get``, ``post`` and ``close``; raising here keeps a 429 out of MSAL's
    result parsing and throttle cache, so the retry ``token()`` makes really reaches Entra.
    Every call carries ``timeout`` (requests' ``(connect, read)``), which MSAL never sets on an
    http client it is given.
    """

    def __init__(
        self,
        session: requests.Session,
        timeout: tuple[float, float] = request_timeout(DEFAULT_TOKEN_TIMEOUT_SECONDS),
    ) -> None:
        self._session = session
        self.timeout = timeout

    def get(self, url: str, **kwargs: object) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return self._checked(self._session.get(url, **kwargs))  # type: ignore[arg-type]

    def post(self, url: str, **kwargs: object) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return self._checked(self._session.post(url, **kwargs))  # type: ignore[arg-type]

    def close(self) -> None:
        self._session.close()

    @staticmethod
    def _checked(response: requests.Response) -> requests.Response:
        if response.status_code in BUSY_STATUSES:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            response.close()
            raise EntraBusy(response.status_code, retry_after)
        return response


class EntraTokenProvider:
    """Client-credentials tokens for ``credentials.environment_url``.

    ``retry`` bounds the waits after a throttled or busy token endpoint (its ``sleep`` is
    injectable, so tests assert the waits without sleeping); the Dynamics client passes its own.
    ``timeout`` is the read timeout of every request to Entra, in seconds (the connect timeout
    is 10 s, or ``timeout`` if smaller).
    """

    def __init__(
        self,
        credentials: DynamicsCredentials,
        ssl_context: ssl.SSLContext,
        retry: RetryPolicy | None = None,
        timeout: float = DEFAULT_TOKEN_TIMEOUT_SECONDS,
    ) -> None:
        self._credentials = credentials
        self._lock = threading.Lock()
        self._ssl_context = ssl_context
        self._retry = retry or RetryPolicy(attempts=6, base=2.0, cap=60.0)
        self.timeout = request_timeout(timeout)
        self._app: msal.ConfidentialClientApplication | None = None

    def _application(self) -> msal.ConfidentialClientApplication:
        """Built on first use: MSAL reads the authority's discovery document here."""
        if self._app is None:
            credentials = self._credentials
            host = (urlsplit(credentials.authority_host).hostname or "").lower()
            # No ``timeout=`` here: MSAL ignores it when given an http client; ours sets it.
            self._app = msal.ConfidentialClientApplication(
                credentials.client_id,
                client_credential=credentials.client_secret.get_secret_value(),
                authority=credentials.authority,
                http_client=BusyAwareSession(requests_session(self._ssl_context), self.timeout),
                instance_discovery=host in KNOWN_AUTHORITY_HOSTS,
            )
        return self._app

    def __repr__(self) -> str:
        return f"EntraTokenProvider(authority={self._credentials.authority!r})"

    def token(self) -> str:
        """A bearer token for F&O, from MSAL's cache when it has a live one.

        A throttled (429) or busy (5xx) token endpoint is waited out and asked again within
        the retry budget; a request that timed out is asked again after a jittered backoff, at
        most ``TIMEOUT_ATTEMPTS`` times in all. The lock is not held while waiting.
        """
        attempt = 0
        timeouts = 0
        while True:
            try:
                return self._acquire()
            except EntraBusy as busy:
                if attempt + 1 >= self._retry.attempts:
                    raise DynamicsUnavailableError(self._gave_up(busy)) from None
                wait = (
                    self._retry.backoff(attempt)
                    if busy.retry_after is None
                    else min(busy.retry_after, self._retry.max_wait)
                )
                log.warning(
                    "Entra ID answered %s to a token request (%s); asking again in %.1fs",
                    busy.status,
                    "throttled" if busy.status == 429 else "busy",
                    wait,
                )
            except EntraTimeout as slow:
                timeouts += 1
                if timeouts >= TIMEOUT_ATTEMPTS or attempt + 1 >= self._retry.attempts:
                    raise DynamicsTimeoutError(self._timed_out(slow, timeouts)) from None
                wait = self._retry.backoff(attempt)
                log.warning(
                    "Entra ID did not answer a token request within %gs; asking again in %.1fs",
                    self._waited(slow),
                    wait,
                )
            self._retry.sleep(wait)
            attempt += 1

    def _waited(self, slow: EntraTimeout) -> float:
        connect, read = self.timeout
        return connect if slow.connecting else read

    def _timed_out(self, slow: EntraTimeout, tries: int) -> str:
        host = urlsplit(self._credentials.authority_host).netloc or "the authority host"
        how = " (no connection)" if slow.connecting else ""
        return (
            f"the Entra ID token endpoint {host} did not answer within"
            f" {self._waited(slow):g} s{how} (asked {tries} time{'s' if tries > 1 else ''})"
            f" for a token for {self._credentials.environment_url}: Entra ID or the network"
            f" path to it (proxy, firewall) is down or stalled; if it is only slow, raise"
            f" {TOKEN_TIMEOUT_SETTING} (now {self.timeout[1]:g} s)"
        )

    def _gave_up(self, busy: EntraBusy) -> str:
        tries = f"{self._retry.attempts} attempts"
        if busy.status == 429:
            return (
                f"Entra ID throttled the token requests for {self._credentials.environment_url}"
                f" (429 Too Many Requests) through {tries}, waiting as Entra asked between them:"
                " this app asks for too many tokens; the connector caches its token, so look"
                " for other processes or apps using the same client id, and try again later"
            )
        return (
            f"Entra ID was unavailable for a token for {self._credentials.environment_url}"
            f" (HTTP {busy.status}) through {tries}: try again later"
        )

    def _acquire(self) -> str:
        """One MSAL call: a token, or ``DynamicsAuthError`` with the operator's next step."""
        try:
            with self._lock:
                result = self._application().acquire_token_for_client(
                    scopes=[self._credentials.scope]
                )
        except requests.RequestException as exc:
            # Caught before ValueError (requests' InvalidURL and kin are both): an unreachable
            # or untrusted host is no tenant problem. A timeout is asked again by ``token``.
            slow = timed_out(exc)
            if slow is not None:
                raise slow from None
            host = urlsplit(self._credentials.authority_host).netloc or "the authority host"
            raise DynamicsUnavailableError(
                "no token from Entra ID: " + describe_connection_failure(exc, host)
            ) from None
        except ValueError as exc:
            # MSAL raises ValueError when the authority's discovery document cannot be read.
            raise DynamicsAuthError(
                f"Entra ID authority {self._credentials.authority} did not answer its OpenID"
                " configuration: check DYNAMICS_TENANT_ID and DYNAMICS_AUTHORITY_HOST"
                f" ({str(exc).split('.')[0]})"
            ) from None
        if "access_token" in result:
            log.debug("Entra token from %s", result.get("token_source", "unknown"))
            return str(result["access_token"])
        codes = result.get("error_codes") or []
        code = int(codes[0]) if codes else None
        hint = AADSTS_HINTS.get(code or 0, "see the AADSTS code in Microsoft's error reference")
        description = str(result.get("error_description", "")).split(" Trace ID:")[0]
        raise DynamicsAuthError(
            f"Entra ID refused a token for {self._credentials.environment_url}"
            f" ({result.get('error', 'error')}): {description} Hint: {hint}",
            aadsts_code=code,
        )

    def invalidate(self) -> None:
        """Drop the cached token, so the next ``token()`` asks Entra again."""
        with self._lock:
            if self._app is not None:
                self._app.remove_tokens_for_client()
