"""``RipplingService``: the Rippling v2 + v1 stand-in the sandbox server mounts on its port.

Wires the store, authentication, read API, OAuth token endpoint and admin routes into one
Starlette app. State lives in ``data_dir/rippling.sqlite`` and survives a restart as long as the
company is the same one it was seeded from (compared by fingerprint).
"""

from __future__ import annotations

import pathlib
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route

from ml_connector_sandbox.clock import SandboxClock, company_clock
from ml_connector_sandbox.company import company_fingerprint
from ml_connector_sandbox.rippling.admin import Admin
from ml_connector_sandbox.rippling.api import V1_PREFIX, ReadApi
from ml_connector_sandbox.rippling.auth import (
    DEFAULT_ACCESS_TOKEN_LIFETIME,
    Authenticator,
)
from ml_connector_sandbox.rippling.store import LAYOUT, Store

TOKEN_PATHS = ("/o/token/", "/o/token", "/api/o/token/")


class RipplingService:
    """The stand-in; see docs/sandbox-dataset.md for its admin endpoints."""

    def __init__(
        self,
        data_dir: pathlib.Path,
        company: dict[str, Any],
        base_url: str,
        *,
        access_token_lifetime: int = DEFAULT_ACCESS_TOKEN_LIFETIME,
        clock: SandboxClock | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.clock = clock or company_clock(company)
        self.store = Store(pathlib.Path(data_dir) / "rippling.sqlite", self.clock)
        self.auth = Authenticator(self.store, access_token_lifetime)
        self.company: dict[str, Any] = {}
        self._load(company)
        fingerprint = company_fingerprint(company)
        if (
            self.store.get_meta("fingerprint") != fingerprint
            or self.store.get_meta("layout") != LAYOUT
        ):
            self.store.seed(company, fingerprint)
        self.admin = Admin(
            self.store, company["rippling"]["company_id"], self.credentials, self.auth
        )
        api = ReadApi(self.store, self.auth)
        token_routes = [Route(p, self.auth.token_endpoint, methods=["POST"]) for p in TOKEN_PATHS]
        self.app = Starlette(routes=[*token_routes, *api.routes(), *self.admin.routes()])

    def _load(self, company: dict[str, Any]) -> None:
        self.company = company
        self.auth.load(company)

    def reset(self, company: dict[str, Any]) -> None:
        """Wipe all state (records, tokens, clock) and seed again from ``company``."""
        self._load(company)
        self.admin.company_id = company["rippling"]["company_id"]
        self.store.seed(company, company_fingerprint(company))

    def expire_tokens(self) -> None:
        """Every OAuth access token issued so far now answers 401 (refresh tokens still work)."""
        self.auth.expire_all()

    def credentials(self) -> dict[str, Any]:
        """What a user of the sandbox needs to call it; refresh tokens are the current ones."""
        creds = self.company["rippling"]["credentials"]
        return {
            "base_url": self.base_url,
            "v1_base_url": self.base_url + V1_PREFIX,
            "token_url": self.base_url + "/o/token/",
            "access_token_lifetime": self.auth.lifetime,
            "api_tokens": [self._live_token(t) for t in creds.get("api_tokens", [])],
            "oauth_clients": [
                {**c, "refresh_token": self.auth.current_refresh_token(c["client_id"])}
                for c in creds.get("oauth_clients", [])
            ],
        }

    def _live_token(self, token: dict[str, Any]) -> dict[str, Any]:
        """A token of the company file with the scopes it has now (an admin may change them)."""
        principal = self.auth.api_tokens.get(token["token"])
        if principal is None:
            return dict(token)
        listed = list(token.get("scopes", []))
        scopes = [s for s in listed if s in principal.scopes]
        scopes += sorted(principal.scopes - set(listed))
        return {**token, "scopes": scopes}

    def close(self) -> None:
        self.store.close()
