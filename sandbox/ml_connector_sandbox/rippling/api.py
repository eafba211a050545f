"""The read API: v2 list and retrieve endpoints, and v1 ``company_activity`` and employees.

Every handler authenticates first (401; 403 for a missing scope or a missing company
entitlement), then validates its parameters (400), then reads one page from SQLite.
``next_link`` is relative and carries ``filter``, ``order_by``, ``expand`` and ``limit``
forward, so a client only ever follows it.

The v1 endpoints are as strict as their spec: ``company_activity`` needs both v1 scopes its
``security`` lists (``company`` and ``company:activity``) and takes ``startDate``/``endDate``
as ``format: date`` only (a datetime is a 400); ``/employees/{employeeId}`` needs ``employee``.
v1 speaks employee ids, never worker ids (``employees.py``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ml_connector_sandbox import exactjson
from ml_connector_sandbox.company.ids import timestamp
from ml_connector_sandbox.rippling import employees, query, render
from ml_connector_sandbox.rippling.auth import Authenticator, AuthError, Principal
from ml_connector_sandbox.rippling.resources import RESOURCES, Resource
from ml_connector_sandbox.rippling.store import Store

V1_PREFIX = "/platform/api"
ACTIVITY_SCOPES = ("company", "company:activity")  # the spec's security lists both
EMPLOYEE_SCOPE = "employee"
ACTIVITY_MAX_LIMIT = 1000
ACTIVITY_MAX_DAYS_BACK = 90

Handler = Callable[[Request], Awaitable[Response]]


class DecimalJSONResponse(JSONResponse):
    """Decimals as exact JSON numbers (money fields), everything else as usual."""

    def render(self, content: Any) -> bytes:
        return exactjson.dumps(content).encode("utf-8")


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


class ReadApi:
    def __init__(self, store: Store, auth: Authenticator) -> None:
        self.store = store
        self.auth = auth

    def routes(self) -> list[Route]:
        routes: list[Route] = []
        for resource in RESOURCES.values():
            routes.append(Route(resource.path, self._list_handler(resource), methods=["GET"]))
            if resource.by_id:
                routes.append(
                    Route(resource.path + "{id}/", self._detail_handler(resource), methods=["GET"])
                )
        routes.append(
            Route(f"{V1_PREFIX}/company_activity", self.company_activity, methods=["GET"])
        )
        routes.append(Route(f"{V1_PREFIX}/employees/{{id}}", self.employee, methods=["GET"]))
        return routes

    def _list_handler(self, resource: Resource) -> Handler:
        async def handler(request: Request) -> Response:
            return self.list_page(request, resource)

        return handler

    def _detail_handler(self, resource: Resource) -> Handler:
        async def handler(request: Request) -> Response:
            return self.detail(request, resource)

        return handler

    # --- v2 lists -------------------------------------------------------------------------------
    def list_page(self, request: Request, resource: Resource) -> Response:
        try:
            principal = self.auth.authenticate(request, resource.scope, resource.entitlement)
        except AuthError as exc:
            return exc.response()
        params = request.query_params
        path = resource.path
        try:
            conditions = [
                (c.sql, c.params) for c in query.parse_filter(params.get("filter"), resource)
            ]
            order = query.parse_order(params.get("order_by"), resource)
            limit = query.parse_limit(params.get("limit"))
            expands = query.parse_expand(params.get("expand"), resource, RESOURCES)
            cursor = params.get("cursor")
            after = query.decode_cursor(cursor, len(order.columns)) if cursor else None
        except query.QueryError as exc:
            return _error(400, str(exc))
        if resource.kind == "worker_payroll_records":
            run_id = request.path_params["run_id"]
            if self.store.get("payroll_runs", run_id) is None:
                return _error(404, f"Payroll run {run_id} not found.")
            conditions.append(("run_id = ?", (run_id,)))
            path = f"/payroll-runs/{run_id}/worker-payroll-records/"
        rows = self.store.page(
            resource.kind, conditions, order.columns, order.descending, after, limit + 1
        )
        more = len(rows) > limit
        rows = rows[:limit]
        records = [render.to_wire(resource.kind, body) for _, body in rows]
        if expands:
            render.expand(self.store, resource.kind, records, expands)
        redacted = render.redact(self.store, principal, resource.kind, records)
        next_link = None
        if more:
            carried = [("cursor", query.encode_cursor(rows[-1][0])), ("limit", str(limit))]
            carried += [(k, params[k]) for k in ("filter", "order_by", "expand") if params.get(k)]
            next_link = f"{path}?{urlencode(carried)}"
        body: dict[str, Any] = {"results": records, "next_link": next_link}
        if resource.has_meta:
            body = {"__meta": {"redacted_fields": redacted}, **body}
        return DecimalJSONResponse(body)

    # --- v2 retrieve ----------------------------------------------------------------------------
    def detail(self, request: Request, resource: Resource) -> Response:
        try:
            principal = self.auth.authenticate(request, resource.scope, resource.entitlement)
        except AuthError as exc:
            return exc.response()
        try:
            expands = query.parse_expand(request.query_params.get("expand"), resource, RESOURCES)
        except query.QueryError as exc:
            return _error(400, str(exc))
        record_id = request.path_params["id"]
        record = self.store.get(resource.kind, record_id)
        run_id = request.path_params.get("run_id")
        if record is None or (run_id is not None and record.get("run_id") != run_id):
            return _error(404, f"{resource.path.strip('/').split('/')[-1]} {record_id} not found.")
        records = [render.to_wire(resource.kind, record)]
        if expands:
            render.expand(self.store, resource.kind, records, expands)
        redacted = render.redact(self.store, principal, resource.kind, records)
        return DecimalJSONResponse({"__meta": {"redacted_fields": redacted}, **records[0]})

    # --- v1 company activity --------------------------------------------------------------------
    async def company_activity(self, request: Request) -> Response:
        try:
            for scope in ACTIVITY_SCOPES:
                principal = self.auth.authenticate(request, scope)
        except AuthError as exc:
            return exc.response()
        return self._activity(request, principal)

    # --- v1 employee ----------------------------------------------------------------------------
    async def employee(self, request: Request) -> Response:
        try:
            self.auth.authenticate(request, EMPLOYEE_SCOPE)
        except AuthError as exc:
            return exc.response()
        employee_id = request.path_params["id"]
        linked = self.store.get(employees.KIND, employee_id)
        worker = self.store.get("workers", linked["worker_id"]) if linked else None
        if worker is None:
            return _error(404, f"Employee {employee_id} not found.")
        return JSONResponse(_v1_employee(self.store, worker))

    def _activity(self, request: Request, principal: Principal) -> Response:
        params = request.query_params

        def fail(message: str) -> JSONResponse:
            return JSONResponse({"data": None, "error": message}, status_code=400)

        today = self.store.today()
        earliest = today - dt.timedelta(days=ACTIVITY_MAX_DAYS_BACK)
        try:
            start = _v1_date(params.get("startDate")) or earliest
            end = _v1_date(params.get("endDate"))
        except ValueError as exc:
            return fail(str(exc))
        if start < earliest:
            return fail(
                f"startDate must be within the last {ACTIVITY_MAX_DAYS_BACK} days "
                f"(on or after {earliest.isoformat()})"
            )
        raw_limit = params.get("limit") or str(ACTIVITY_MAX_LIMIT)
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= ACTIVITY_MAX_LIMIT:
            return fail(f"limit must be between 1 and {ACTIVITY_MAX_LIMIT}")
        limit = int(raw_limit)
        conditions: list[tuple[str, tuple[Any, ...]]] = []
        cursor = params.get("next")
        after: tuple[Any, ...] | None = None
        if cursor:
            try:
                after = query.decode_cursor(cursor, 2)
            except query.QueryError:
                return fail("Invalid next cursor")
        else:
            conditions.append(("updated_at >= ?", (timestamp(start, 0),)))
        if end is not None:
            conditions.append(("updated_at < ?", (timestamp(end + dt.timedelta(days=1), 0),)))
        rows = self.store.page(
            "company_activity", conditions, ("updated_at", "id"), False, after, limit
        )
        if rows:
            next_cursor = query.encode_cursor(rows[-1][0])
        else:
            next_cursor = cursor or query.encode_cursor((timestamp(start, 0), ""))
        events = [employees.v1_event(body) for _, body in rows]
        return JSONResponse({"data": {"events": events, "next": next_cursor}, "error": None})


def _v1_employment_type(store: Store, worker: dict[str, Any]) -> str:
    etype = store.get("employment_types", worker.get("employment_type_id") or "") or {}
    if etype.get("type") == "CONTRACTOR":
        return "CONTRACTOR"
    return "HOURLY_FT" if etype.get("compensation_time_period") == "HOURLY" else "SALARIED_FT"


def _v1_employee(store: Store, worker: dict[str, Any]) -> dict[str, Any]:
    """The v1 ``Employee`` of a worker (camelCase, the schema's fields the stand-in knows; no
    ``userId``: the v1 schema has none)."""
    user = store.get("users", worker.get("user_id") or "") or {}
    name = user.get("name") or {}
    department = store.get("departments", worker.get("department_id") or "") or {}
    manager = worker.get("manager_id")
    return {
        "id": employees.employee_id_for(worker["id"]),
        "name": user.get("display_name"),
        "firstName": name.get("given_name"),
        "lastName": name.get("family_name"),
        "preferredFirstName": name.get("preferred_given_name"),
        "employmentType": _v1_employment_type(store, worker),
        "title": worker.get("title"),
        "department": department.get("name"),
        "workEmail": worker.get("work_email"),
        "startDate": worker.get("start_date"),
        "endDate": worker.get("end_date"),
        "roleState": worker.get("status"),
        "employeeNumber": worker.get("number"),
        "manager": employees.employee_id_for(manager) if manager else None,
        "createdAt": worker.get("created_at"),
        "updatedAt": worker.get("updated_at"),
    }


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _v1_date(text: str | None) -> dt.date | None:
    """A ``format: date`` parameter: exactly ``YYYY-MM-DD`` (a datetime is refused)."""
    if not text:
        return None
    try:
        if not _DATE.match(text):
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"Invalid date {text!r}: expected YYYY-MM-DD") from exc
