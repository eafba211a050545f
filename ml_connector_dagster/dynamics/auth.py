"""Entra ID tokens for one F&O environment, through MSAL's client-credentials flow.

MSAL caches the token and renews it five minutes before expiry. A 401 from F&O means the cached
token is no good (revoked, or the app lost access): the client evicts it with
``remove_tokens_for_client`` and asks again, once. MSAL gets a requests session we built
(``trust_env=False`` with our SSL context), because requests silently prefers
``REQUESTS_CA_BUNDLE`` over any ``verify`` it is given.
"""

import logging
import ssl
import threading
from urllib.parse import urlsplit

import msal

from ml_connector_dagster.credentials.models import DynamicsCredentials
from ml_connector_dagster.dynamics.errors import DynamicsAuthError
from ml_connector_dagster.transport.tls import requests_session

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


class EntraTokenProvider:
    """Client-credentials tokens for ``credentials.environment_url``."""

    def __init__(self, credentials: DynamicsCredentials, ssl_context: ssl.SSLContext) -> None:
        self._credentials = credentials
        self._lock = threading.Lock()
        self._ssl_context = ssl_context
        self._app: msal.ConfidentialClientApplication | None = None

    def _application(self) -> msal.ConfidentialClientApplication:
        """Built on first use: MSAL reads the authority's discovery document here."""
        if self._app is None:
            credentials = self._credentials
            host = (urlsplit(credentials.authority_host).hostname or "").lower()
            self._app = msal.ConfidentialClientApplication(
                credentials.client_id,
                client_credential=credentials.client_secret.get_secret_value(),
                authority=credentials.authority,
                http_client=requests_session(self._ssl_context),
                instance_discovery=host in KNOWN_AUTHORITY_HOSTS,
            )
        return self._app

    def __repr__(self) -> str:
        return f"EntraTokenProvider(authority={self._credentials.authority!r})"

    def token(self) -> str:
        """A bearer token for F&O, from MSAL's cache when it has a live one."""
        try:
            with self._lock:
                result = self._application().acquire_token_for_client(
                    scopes=[self._credentials.scope]
                )
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
