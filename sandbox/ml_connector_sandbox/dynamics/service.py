"""``DynamicsService``: the one object the sandbox server holds for the F&O stand-in.

A thin facade: it owns the state (schema, SQLite store, F&O's rules, clock), wires the parts
that do the work and keeps the interface the server, the app and the tests use. The parts:
``seed`` (seeding and reset), ``routing`` (``execute``: one OData request, path relative to
``/data/``), ``reads``, ``writes``, ``batch_runner`` (``$batch``; a change set's requests run
through ``execute`` inside its single SQLite transaction), ``admin`` (``/_sandbox/`` routes)
and ``app`` (the Starlette routes).
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Sequence
from typing import Any

from starlette.applications import Starlette

from ml_connector_sandbox.clock import SandboxClock, company_clock
from ml_connector_sandbox.dynamics.admin import Admin
from ml_connector_sandbox.dynamics.app import build_app
from ml_connector_sandbox.dynamics.reads import Reads
from ml_connector_sandbox.dynamics.response import ODataResponse
from ml_connector_sandbox.dynamics.routing import Router
from ml_connector_sandbox.dynamics.schema import Schema, load_schema, without_properties
from ml_connector_sandbox.dynamics.seed import reseed, seed_is_current
from ml_connector_sandbox.dynamics.store import Store
from ml_connector_sandbox.dynamics.validation import Rules
from ml_connector_sandbox.dynamics.writes import Writes


class DynamicsService:
    """Strict local F&O, after Microsoft Learn's "Open Data Protocol (OData)" and "Batch
    requests" pages for finance and operations apps; admin routes are documented in ``app.py``.
    """

    def __init__(
        self,
        data_dir: pathlib.Path,
        company: dict,
        environment_url: str,
        token_validator: Callable[[str], bool],
        *,
        page_size: int = 10_000,
        default_company: str = "usmf",
        max_batch_operations: int = 5_000,
        clock: SandboxClock | None = None,
        missing_properties: Sequence[str] = (),
    ) -> None:
        self.clock = clock or company_clock(company)
        self.environment_url = environment_url.rstrip("/")
        self.token_validator = token_validator
        self.page_size = page_size
        self.default_company = default_company.lower()
        self.max_batch_operations = max_batch_operations
        self.schema: Schema = without_properties(load_schema(), missing_properties)
        self.store = Store(pathlib.Path(data_dir) / "dynamics.sqlite", self.schema)
        self.rules = Rules(self.store, self.schema, self.clock)
        reads = Reads(self.store, self.environment_url, self.default_company, page_size)
        self._router = Router(self.schema, reads, Writes(reads, self.rules), max_batch_operations)
        self._admin = Admin(self.store, self.schema, self.rules)
        self._app: Starlette | None = None
        if not seed_is_current(self.store, company):
            self.reset(company)

    @property
    def app(self) -> Starlette:
        if self._app is None:
            self._app = build_app(self)
        return self._app

    def reset(self, company: dict) -> None:
        """Forget every write and seed again from ``company["dynamics"]``."""
        reseed(self.store, self.schema, self.rules, company)

    # --- OData ----------------------------------------------------------------------------------

    def execute(
        self,
        method: str,
        path: str,
        query: str = "",
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> ODataResponse:
        """Run one OData request; ``path`` is relative to ``/data/`` (already percent-decoded)."""
        return self._router.execute(method, path, query, headers, body)

    def execute_batch(self, body: bytes, content_type: str) -> ODataResponse:
        """Run a ``$batch`` body (``ODataError`` for a malformed or oversized batch)."""
        return self._router.batch.run(body, content_type)

    # --- admin (used by app.py) -----------------------------------------------------------------

    def post_journal(self, company: str, batch_number: str) -> dict[str, Any]:
        return self._admin.post_journal(company, batch_number)

    def journal_lines_applied(self, company: str, batch_number: str) -> list[dict[str, Any]]:
        return self._admin.journal_lines_applied(company, batch_number)

    def post_manual_voucher(self, company: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._admin.post_manual_voucher(company, body)

    def admin_write(
        self, method: str, entity_set: str, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Bypass F&O's rules (not its types) to craft seed data for negative tests."""
        return self._admin.admin_write(method, entity_set, payload)

    def stats(self) -> dict[str, Any]:
        return self._admin.stats()
