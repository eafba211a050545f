"""Starlette routes of the F&O stand-in: the OData service under ``/data/`` plus admin routes.

OData (every request needs ``Authorization: Bearer <token>`` that the sandbox's Entra issued for
this environment; anything else is 401 with ``WWW-Authenticate: Bearer`` and no data):

- ``GET /data/`` service document; ``GET /data/$metadata`` minimal CSDL.
- ``GET /data/{Set}`` with ``$filter $select $top $skip $orderby $count``, ``cross-company=true``;
  ``GET /data/{Set}/$count``.
- ``GET|PATCH|DELETE /data/{Set}({key})``; ``POST /data/{Set}``; ``POST /data/$batch``.

Admin (no token; the server owns ``/_sandbox/faults`` and ``/_sandbox/reset``):

- ``POST /_sandbox/journals/{dataAreaId}/{JournalBatchNumber}/post`` -> 200 header JSON with
  ``IsPosted: Yes``: what finance does in F&O; the journal is read-only afterwards. Posting
  writes the general ledger in the same transaction: one ``GeneralJournalEntryBiEntities`` row
  per voucher and date (and per voucher and reversing date for lines with ``ReverseEntry``)
  and one ``GeneralJournalAccountEntryBiEntities`` row per account entry (both read-only over
  OData; see ``ledger_posting.py``). 400 and nothing written for a journal already posted or a
  voucher that does not balance on its date.
- ``POST /_sandbox/ledger/{dataAreaId}/vouchers`` body ``{"date": "2026-11-20", "currency":
  "USD", "text": "...", "journal_number": optional (default "MAN-000001", ...), "voucher":
  optional (default "MANV-000001", ...), "exch_rate": optional decimal string (per 100, default
  "100"), "lines": [{"account": "600100-001-022-", "debit": "12.34"}, {"account": "...",
  "credit": "12.34"}]}`` -> 201 ``{"header": {...}, "entries": [{...}]}``: a voucher finance
  posts by hand, outside any journal. Amounts are decimal strings (a JSON number is a 400
  naming the field); the voucher must balance; each account reads like a journal line's
  (active ledger format and delimiter, known and usable values). Any error writes nothing.
- ``GET /_sandbox/journals/{dataAreaId}/{JournalBatchNumber}/lines`` -> 200 ``[{"LineNumber",
  "AccountDisplayValue", "applied": {"format_name", "format", "delimiter", "values",
  "dropped_segments"}}]``: the dimension values F&O actually applied to each line.
- ``GET /_sandbox/journals/{dataAreaId}/{JournalBatchNumber}/lines/{LineNumber}/dimensions`` ->
  the ``applied`` object of one line (404 if absent).
- ``PATCH /_sandbox/entities/{Set}`` body ``{"key": {...}, "values": {...}}`` -> 200 the row:
  change seed data bypassing F&O's write rules (types are still checked), e.g. suspend a
  dimension value, switch the active format or the delimiter.
- ``POST /_sandbox/entities/{Set}`` body ``{"values": {...}}`` -> 201 inserts a row the same way;
  ``DELETE /_sandbox/entities/{Set}`` body ``{"key": {...}}`` -> 204.
- ``GET /_sandbox/stats`` -> ``{"writes": {Set: {"create", "update", "delete", "total"}},
  "rows": {table: count}}``: committed OData writes only (a rolled back change set counts 0).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ml_connector_sandbox.dynamics.edm import EdmError, dumps, loads
from ml_connector_sandbox.dynamics.errors import ODataError, bad_query
from ml_connector_sandbox.dynamics.response import ODataResponse, error_response


class ODataBackend(Protocol):
    """What the routes need from the service (``DynamicsService``); a protocol, so that this
    module does not import the service that builds it."""

    token_validator: Callable[[str], bool]

    def execute(
        self,
        method: str,
        path: str,
        query: str = "",
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> ODataResponse: ...

    def post_journal(self, company: str, batch_number: str) -> dict[str, Any]: ...

    def journal_lines_applied(self, company: str, batch_number: str) -> list[dict[str, Any]]: ...

    def post_manual_voucher(self, company: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def admin_write(
        self, method: str, entity_set: str, payload: dict[str, Any]
    ) -> dict[str, Any] | None: ...

    def stats(self) -> dict[str, Any]: ...


def _to_starlette(resp: ODataResponse) -> Response:
    return Response(resp.body, status_code=resp.status, headers=resp.headers)


def _json(status: int, payload: Any) -> Response:
    return Response(dumps(payload), status_code=status, media_type="application/json")


def build_app(service: ODataBackend) -> Starlette:
    def authorised(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        return (
            scheme.lower() == "bearer"
            and bool(token.strip())
            and bool(service.token_validator(token.strip()))
        )

    async def odata(request: Request) -> Response:
        if not authorised(request):
            return Response(b"", status_code=401, headers={"WWW-Authenticate": "Bearer"})
        body = await request.body()
        path = request.path_params.get("path", "")
        query = request.scope.get("query_string", b"").decode("latin-1")
        resp = await run_in_threadpool(
            service.execute, request.method, path, query, dict(request.headers), body
        )
        return _to_starlette(resp)

    async def admin(func: Any, *args: Any) -> Response:
        try:
            return await run_in_threadpool(func, *args)
        except ODataError as err:
            return _to_starlette(error_response(err))

    async def post_journal(request: Request) -> Response:
        p = request.path_params

        def run() -> Response:
            return _json(200, service.post_journal(p["company"].lower(), p["batch"]))

        return await admin(run)

    async def journal_lines(request: Request) -> Response:
        p = request.path_params

        def run() -> Response:
            return _json(200, service.journal_lines_applied(p["company"].lower(), p["batch"]))

        return await admin(run)

    async def line_dimensions(request: Request) -> Response:
        p = request.path_params

        def run() -> Response:
            from decimal import Decimal, InvalidOperation

            try:
                wanted = Decimal(p["line"])
            except InvalidOperation as exc:
                raise bad_query(f"'{p['line']}' is not a line number.") from exc
            for line in service.journal_lines_applied(p["company"].lower(), p["batch"]):
                if line["LineNumber"] == wanted:
                    return _json(200, line["applied"])
            raise ODataError(404, f"Line {p['line']} of journal {p['batch']} does not exist.")

        return await admin(run)

    async def entities(request: Request) -> Response:
        body = await request.body()
        entity_set = request.path_params["entity_set"]

        def run() -> Response:
            try:
                payload = loads(body or b"{}")
            except EdmError as exc:
                raise bad_query(str(exc)) from exc
            if not isinstance(payload, dict):
                raise bad_query("The admin body must be a JSON object.")
            row = service.admin_write(request.method, entity_set, payload)
            if request.method == "DELETE":
                return Response(status_code=204)
            return _json(201 if request.method == "POST" else 200, row)

        return await admin(run)

    async def manual_voucher(request: Request) -> Response:
        body = await request.body()
        company = request.path_params["company"].lower()

        def run() -> Response:
            try:
                payload = loads(body or b"{}")
            except EdmError as exc:
                raise bad_query(str(exc)) from exc
            if not isinstance(payload, dict):
                raise bad_query("The voucher body must be a JSON object.")
            return _json(201, service.post_manual_voucher(company, payload))

        return await admin(run)

    async def stats(request: Request) -> Response:
        return _json(200, await run_in_threadpool(service.stats))

    methods = ["GET", "POST", "PATCH", "PUT", "DELETE"]
    routes = [
        Route("/data", odata, methods=methods),
        Route("/data/{path:path}", odata, methods=methods),
        Route("/_sandbox/journals/{company}/{batch}/post", post_journal, methods=["POST"]),
        Route("/_sandbox/journals/{company}/{batch}/lines", journal_lines, methods=["GET"]),
        Route(
            "/_sandbox/journals/{company}/{batch}/lines/{line}/dimensions",
            line_dimensions,
            methods=["GET"],
        ),
        Route("/_sandbox/ledger/{company}/vouchers", manual_voucher, methods=["POST"]),
        Route("/_sandbox/entities/{entity_set}", entities, methods=["PATCH", "POST", "DELETE"]),
        Route("/_sandbox/stats", stats, methods=["GET"]),
    ]
    return Starlette(routes=routes)
