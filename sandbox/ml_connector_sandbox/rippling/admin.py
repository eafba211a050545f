"""Admin endpoints under ``/_sandbox/``: act as an HR or payroll admin in Rippling during a test.

This module holds the routes and their plumbing (JSON body in, ``{"detail"}`` errors out) plus
the two read-only endpoints (credentials, clock) and the company's entitlements (so a test can
take ``Global_Payroll`` away, as for a company without the payroll product) and an API token's
scopes (so a test can grant the v1 scopes ``company``, ``company:activity`` and ``employee``,
which the generated tokens lack, as a v2 token may); the writes live in ``admin_workers``
(hire, update, terminate, rehire) and ``admin_payroll`` (payroll runs and records). No
authentication: these routes are the test's hands.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ml_connector_sandbox.company.catalog import entitlement_records
from ml_connector_sandbox.rippling.admin_payroll import PayrollAdmin
from ml_connector_sandbox.rippling.admin_support import AdminError, Answer
from ml_connector_sandbox.rippling.admin_workers import WorkerAdmin
from ml_connector_sandbox.rippling.auth import Authenticator
from ml_connector_sandbox.rippling.store import Store

PREFIX = "/_sandbox"

Handler = Callable[[Request, dict[str, Any]], Answer]


class Admin:
    """All admin routes of the Rippling stand-in over one store."""

    def __init__(
        self,
        store: Store,
        company_id: str,
        credentials: Any,
        auth: Authenticator | None = None,
    ) -> None:
        self.store = store
        self.credentials = credentials
        self.auth = auth
        self.workers = WorkerAdmin(store, company_id)
        self.payroll = PayrollAdmin(store)

    @property
    def company_id(self) -> str:
        """The company worker activity events name (changes on reset)."""
        return self.workers.company_id

    @company_id.setter
    def company_id(self, value: str) -> None:
        self.workers.company_id = value

    def routes(self) -> list[Route]:
        w, p = self.workers, self.payroll
        return [
            Route(f"{PREFIX}/credentials", self._wrap(self.get_credentials), methods=["GET"]),
            Route(f"{PREFIX}/clock", self._wrap(self.get_clock), methods=["GET"]),
            Route(f"{PREFIX}/entitlements", self._wrap(self.entitlements), methods=["GET", "PUT"]),
            Route(f"{PREFIX}/api-tokens/{{label}}", self._wrap(self.token), methods=["GET", "PUT"]),
            Route(f"{PREFIX}/workers", self._wrap(w.hire), methods=["POST"]),
            Route(f"{PREFIX}/workers/{{id}}", self._wrap(w.update_worker), methods=["PATCH"]),
            Route(f"{PREFIX}/workers/{{id}}/terminate", self._wrap(w.terminate), methods=["POST"]),
            Route(f"{PREFIX}/workers/{{id}}/rehire", self._wrap(w.rehire), methods=["POST"]),
            Route(f"{PREFIX}/payroll-runs", self._wrap(p.create_run), methods=["POST"]),
            Route(f"{PREFIX}/payroll-runs/{{id}}", self._wrap(p.update_run), methods=["PATCH"]),
            Route(
                f"{PREFIX}/payroll-runs/{{run_id}}/worker-payroll-records/{{id}}",
                self._wrap(p.put_record),
                methods=["PUT"],
            ),
        ]

    def _wrap(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            body: dict[str, Any] = {}
            if request.method in ("POST", "PATCH", "PUT"):
                raw = await request.body()
                if raw.strip():
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        return JSONResponse({"detail": "Body must be JSON."}, status_code=400)
                if not isinstance(body, dict):
                    return JSONResponse({"detail": "Body must be a JSON object."}, status_code=400)
            try:
                status, payload = handler(request, body)
            except AdminError as exc:
                return JSONResponse({"detail": exc.detail}, status_code=exc.status)
            return JSONResponse(payload, status_code=status)

        return endpoint

    def get_credentials(self, request: Request, body: dict[str, Any]) -> Answer:
        return 200, self.credentials()

    def get_clock(self, request: Request, body: dict[str, Any]) -> Answer:
        return 200, {
            "today": self.store.today().isoformat(),
            "last_write": self.store.get_meta("clock"),
        }

    def entitlements(self, request: Request, body: dict[str, Any]) -> Answer:
        """GET: the company's entitlement ids. PUT ``{"entitlements": [ids]}``: replace them
        (reset brings back the company file's)."""
        if request.method == "PUT":
            ids = body.get("entitlements")
            if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
                raise AdminError(400, "'entitlements' must be a list of entitlement ids")
            self.store.set_entitlements(entitlement_records(ids))
        return 200, {"entitlements": sorted(self.store.entitlement_ids())}

    def token(self, request: Request, body: dict[str, Any]) -> Answer:
        """GET: an API token's scopes. PUT ``{"scopes": [...]}``: replace them, effective on
        the next request (reset brings back the company file's)."""
        label = request.path_params["label"]
        found = None
        if self.auth is not None:
            found = next(
                ((k, p) for k, p in self.auth.api_tokens.items() if p.label == label), None
            )
        if found is None:
            raise AdminError(404, f"Unknown API token label {label!r}")
        key, principal = found
        if request.method == "PUT":
            scopes = body.get("scopes")
            if not isinstance(scopes, list) or not all(isinstance(x, str) and x for x in scopes):
                raise AdminError(400, "'scopes' must be a list of scope names")
            assert self.auth is not None
            principal = dataclasses.replace(principal, scopes=frozenset(scopes))
            self.auth.api_tokens[key] = principal
        return 200, {"label": label, "scopes": sorted(principal.scopes)}
