"""Bearer authentication, scopes, entitlements and the OAuth token endpoint of the Rippling
stand-in.

API tokens come from the company file (with their scopes and redaction rule). OAuth access
tokens are issued by ``POST /o/token/`` and kept in SQLite with an expiry; each refresh
**rotates** the refresh token (the old one stops working), which is why a connector must store
the new one. ``expire_all`` makes every issued access token answer 401.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse

from ml_connector_sandbox.rippling.store import Store

DEFAULT_ACCESS_TOKEN_LIFETIME = 129600


@dataclass(frozen=True)
class Principal:
    """Who is calling: scopes, and the departments whose compensation is hidden from them."""

    kind: str  # "api_token" | "oauth"
    label: str
    scopes: frozenset[str]
    redact_department_codes: frozenset[str] = field(default_factory=frozenset)


class AuthError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body)
        self.status = status
        self.body = body

    def response(self) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else None
        return JSONResponse(self.body, status_code=self.status, headers=headers)


class Authenticator:
    def __init__(self, store: Store, access_token_lifetime: int) -> None:
        self.store = store
        self.lifetime = access_token_lifetime
        self.api_tokens: dict[str, Principal] = {}
        self.clients: dict[str, dict[str, Any]] = {}

    def load(self, company: dict[str, Any]) -> None:
        creds = company["rippling"]["credentials"]
        self.api_tokens = {
            t["token"]: Principal(
                "api_token",
                t.get("label", ""),
                frozenset(t.get("scopes", [])),
                frozenset(
                    (t.get("redact_compensation_for") or {}).get("department_reference_codes", [])
                ),
            )
            for t in creds.get("api_tokens", [])
        }
        self.clients = {c["client_id"]: c for c in creds.get("oauth_clients", [])}

    # --- bearer ---------------------------------------------------------------------------------
    def authenticate(
        self, request: Request, scope: str, entitlement: str | None = None
    ) -> Principal:
        """The caller, or 401 (no valid token), 403 (scope missing) or 403 (the company lacks
        the endpoint's entitlement; checked after the scope, on every request)."""
        header = request.headers.get("authorization", "")
        if not header:
            raise AuthError(401, {"detail": "Authentication credentials were not provided."})
        kind, _, token = header.partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            raise AuthError(401, {"detail": "Invalid authorization header: expected Bearer."})
        principal = self.api_tokens.get(token.strip()) or self._oauth(token.strip())
        if scope not in principal.scopes:
            raise AuthError(
                403,
                {
                    "detail": f"The token does not have the required scope '{scope}'.",
                    "required_scope": scope,
                },
            )
        if entitlement is not None and entitlement not in self.store.entitlement_ids():
            # Rippling documents no body for this 403: the shape (the scope 403's, with
            # ``required_entitlement`` instead of ``required_scope``) is our assumption.
            raise AuthError(
                403,
                {
                    "detail": f"The company does not have the entitlement '{entitlement}'"
                    " required for this endpoint.",
                    "required_entitlement": entitlement,
                },
            )
        return principal

    def _oauth(self, token: str) -> Principal:
        with self.store.lock:
            row = self.store.db.execute(
                "SELECT client_id, scopes, expires_at FROM oauth_access WHERE token = ?", (token,)
            ).fetchone()
        if row is None:
            raise AuthError(401, {"detail": "Invalid token."})
        client_id, scopes, expires_at = row
        if expires_at <= self.store.clock.timestamp():
            raise AuthError(401, {"detail": "Token has expired."})
        return Principal("oauth", client_id, frozenset(scopes.split()))

    def expire_all(self) -> None:
        with self.store.lock:
            self.store.db.execute("UPDATE oauth_access SET expires_at = 0")

    # --- token endpoint -----------------------------------------------------------------------
    async def token_endpoint(self, request: Request) -> JSONResponse:
        # Parsed by hand: Starlette's form parser needs python-multipart, which is not a dependency.
        form = {k: v[-1] for k, v in parse_qs((await request.body()).decode()).items()}
        client_id, client_secret = _basic(request.headers.get("authorization", ""))
        if client_id is None:
            client_id = str(form.get("client_id") or "") or None
            client_secret = str(form.get("client_secret") or "") or None
        client = self.clients.get(client_id or "")
        if client is None or not secrets.compare_digest(
            str(client.get("client_secret", "")), client_secret or ""
        ):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = form.get("grant_type")
        if grant == "refresh_token":
            return self._refresh(client, str(form.get("refresh_token") or ""))
        if grant == "authorization_code":
            return self._code(client, str(form.get("code") or ""))
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)

    def _refresh(self, client: dict[str, Any], refresh_token: str) -> JSONResponse:
        with self.store.transaction() as db:
            row = db.execute(
                "SELECT scopes FROM oauth_refresh WHERE token = ? AND client_id = ? AND active = 1",
                (refresh_token, client["client_id"]),
            ).fetchone()
            if row is None:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            db.execute("UPDATE oauth_refresh SET active = 0 WHERE token = ?", (refresh_token,))
            return self._issue(db, client["client_id"], row[0])

    def _code(self, client: dict[str, Any], code: str) -> JSONResponse:
        with self.store.transaction() as db:
            used = db.execute("SELECT 1 FROM oauth_codes WHERE code = ?", (code,)).fetchone()
            if used or not code or code != client.get("authorization_code"):
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            db.execute("INSERT INTO oauth_codes VALUES (?, ?)", (code, client["client_id"]))
            return self._issue(db, client["client_id"], " ".join(client.get("scopes", [])))

    def _issue(self, db: Any, client_id: str, scopes: str) -> JSONResponse:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        db.execute(
            "INSERT INTO oauth_access VALUES (?, ?, ?, ?)",
            (access, client_id, scopes, self.store.clock.timestamp() + self.lifetime),
        )
        issued = db.execute("SELECT COALESCE(MAX(issued), 0) + 1 FROM oauth_refresh").fetchone()[0]
        db.execute(
            "INSERT INTO oauth_refresh VALUES (?, ?, ?, 1, ?)", (refresh, client_id, scopes, issued)
        )
        return JSONResponse(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": self.lifetime,
                "refresh_token": refresh,
                "scope": scopes,
            }
        )

    def current_refresh_token(self, client_id: str) -> str | None:
        """The refresh token that works now (the newest active one) for ``credentials()``."""
        return self.store.scalar(
            "SELECT token FROM oauth_refresh WHERE client_id = ? AND active = 1 "
            "ORDER BY issued DESC LIMIT 1",
            (client_id,),
        )


def _basic(header: str) -> tuple[str | None, str | None]:
    kind, _, value = header.partition(" ")
    if kind.lower() != "basic" or not value:
        return None, None
    try:
        decoded = base64.b64decode(value.strip()).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else (None, None)
