"""Microsoft Entra ID stand-in: OpenID discovery and the client-credentials token endpoint.

Only what MSAL's ``ConfidentialClientApplication.acquire_token_for_client`` touches is served:
``/{tenant}/v2.0/.well-known/openid-configuration`` and ``/{tenant}/oauth2/v2.0/token``.
Errors carry the AADSTS codes Entra uses, so the connector's error handling is exercised on the
same texts a customer would see. Tokens are opaque random strings recorded in SQLite with their
audience and expiry; the F&O stand-in asks this registry whether a token is good, which lets a
test expire or revoke tokens on the server side (MSAL keeps serving its cached copy, exactly as
when a real token is revoked).
"""

import base64
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ml_connector_sandbox.clock import SandboxClock, company_clock
from ml_connector_sandbox.forms import read_urlencoded_form

# MSAL refetches a token with five minutes or less left on every call; issue longer ones.
DEFAULT_TOKEN_LIFETIME_SECONDS = 3600


@dataclass(frozen=True)
class EntraClient:
    """An app registration: its secret, and whether F&O lists it among its Entra applications."""

    client_id: str
    client_secret: str
    registered_in_dynamics: bool


class TokenRegistry:
    """Tokens Entra issued, so the resource server can tell its own live tokens from others."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY, client_id TEXT NOT NULL,"
            " audience TEXT NOT NULL, expires_at REAL NOT NULL, revoked INTEGER NOT NULL DEFAULT 0)"
        )

    def issue(self, client_id: str, audience: str, lifetime: int) -> str:
        token = "sbx." + secrets.token_urlsafe(32)
        with self._lock:
            self._db.execute(
                "INSERT INTO tokens VALUES (?, ?, ?, ?, 0)",
                (token, client_id, audience, self._clock() + lifetime),
            )
        return token

    def lookup(self, token: str) -> tuple[str, str] | None:
        """The (client_id, audience) of a live token, or None if unknown, expired or revoked."""
        with self._lock:
            row = self._db.execute(
                "SELECT client_id, audience, expires_at, revoked FROM tokens WHERE token = ?",
                (token,),
            ).fetchone()
        if row is None or row[3] or row[2] <= self._clock():
            return None
        return row[0], row[1]

    def revoke_all(self) -> int:
        """Expire every token issued so far (a fault, or a test of refresh on 401)."""
        with self._lock:
            return self._db.execute("UPDATE tokens SET revoked = 1 WHERE revoked = 0").rowcount

    def clear(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM tokens")


def _aad_error(status: int, error: str, code: int, description: str) -> JSONResponse:
    """An error body shaped like Entra's, with the AADSTS code first in the description."""
    return JSONResponse(
        {
            "error": error,
            "error_description": f"AADSTS{code}: {description} Trace ID: {uuid.uuid4()}",
            "error_codes": [code],
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
            "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
        },
        status_code=status,
    )


class EntraService:
    """The Entra ID stand-in for one tenant, issuing tokens for one F&O environment."""

    def __init__(
        self,
        data_dir: Path,
        company: dict[str, Any],
        base_url: str,
        environment_url: str,
        token_lifetime: int = DEFAULT_TOKEN_LIFETIME_SECONDS,
        clock: SandboxClock | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.environment_url = environment_url.rstrip("/")
        self.token_lifetime = token_lifetime
        self.clock = clock or company_clock(company)
        self.tokens = TokenRegistry(data_dir / "entra.sqlite", self.clock.timestamp)
        self._load(company)
        self.app = Starlette(
            routes=[
                Route("/{tenant}/v2.0/.well-known/openid-configuration", self._discovery),
                Route("/{tenant}/oauth2/v2.0/token", self._token, methods=["POST"]),
            ]
        )

    def _load(self, company: dict[str, Any]) -> None:
        entra = company["entra"]
        self.tenant_id: str = entra["tenant_id"]
        self.clients = {
            c["client_id"]: EntraClient(
                c["client_id"], c["client_secret"], bool(c.get("registered_in_dynamics", True))
            )
            for c in entra["clients"]
        }

    def reset(self, company: dict[str, Any]) -> None:
        self.tokens.clear()
        self._load(company)

    def expire_tokens(self) -> None:
        self.tokens.revoke_all()

    def validate_for_dynamics(self, token: str) -> bool:
        """True for a live token issued for the F&O environment to an app F&O knows."""
        found = self.tokens.lookup(token)
        if found is None:
            return False
        client_id, audience = found
        client = self.clients.get(client_id)
        return (
            audience == self.environment_url
            and client is not None
            and client.registered_in_dynamics
        )

    def credentials(self) -> dict[str, Any]:
        return {
            "authority_host": self.base_url,
            "tenant_id": self.tenant_id,
            "clients": [
                {
                    "client_id": c.client_id,
                    "client_secret": c.client_secret,
                    "registered_in_dynamics": c.registered_in_dynamics,
                }
                for c in self.clients.values()
            ],
        }

    def _known_tenant(self, tenant: str) -> bool:
        return tenant in (self.tenant_id, "organizations")

    async def _discovery(self, request: Request) -> JSONResponse:
        tenant = request.path_params["tenant"]
        if not self._known_tenant(tenant):
            return _aad_error(
                400,
                "invalid_tenant",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID"
                " and are signing into the correct cloud.",
            )
        root = f"{self.base_url}/{tenant}"
        return JSONResponse(
            {
                "token_endpoint": f"{root}/oauth2/v2.0/token",
                "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                "issuer": f"{self.base_url}/{self.tenant_id}/v2.0",
                "jwks_uri": f"{root}/discovery/v2.0/keys",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "tenant_region_scope": "NA",
            }
        )

    async def _token(self, request: Request) -> JSONResponse:
        tenant = request.path_params["tenant"]
        if not self._known_tenant(tenant):
            return _aad_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        form = await read_urlencoded_form(request)
        client_id, client_secret = _client_auth(request, form)
        grant_type = form.get("grant_type")
        if grant_type != "client_credentials":
            return _aad_error(
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant_type}'.",
            )
        client = self.clients.get(client_id or "")
        if client is None:
            return _aad_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory"
                f" '{self.tenant_id}'.",
            )
        if not client_secret or not secrets.compare_digest(client_secret, client.client_secret):
            return _aad_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is"
                f" the client secret value, not the client secret ID, for a secret added to app"
                f" '{client_id}'.",
            )
        scope = str(form.get("scope") or "")
        scopes = scope.split()
        resources = [s for s in scopes if s not in ("openid", "profile", "offline_access")]
        if len(resources) != 1 or not resources[0].endswith("/.default"):
            return _aad_error(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows"
                " must have a scope value with /.default suffixed to the resource identifier.",
            )
        resource = resources[0].removesuffix("/.default").rstrip("/")
        if resource != self.environment_url:
            return _aad_error(
                400,
                "invalid_resource",
                500011,
                f"The resource principal named {resource} was not found in the tenant named"
                f" {self.tenant_id}.",
            )
        token = self.tokens.issue(client.client_id, resource, self.token_lifetime)
        return JSONResponse(
            {
                "token_type": "Bearer",
                "expires_in": self.token_lifetime,
                "ext_expires_in": self.token_lifetime,
                "access_token": token,
            }
        )


def _client_auth(request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
    """Client id and secret from the form (client_secret_post) or HTTP Basic."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:]).decode()
        except ValueError:
            return None, None
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return form.get("client_id"), form.get("client_secret")
