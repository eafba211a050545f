"""The F&O stand-in's admin side, behind ``/_sandbox/`` routes (no token): what a test needs
to act as finance or to inspect what F&O applied.

Post a journal (which writes the posted general ledger, ``ledger_posting``), post a manual
voucher as finance would by hand, read the dimension values applied to a journal's lines, craft
rows bypassing F&O's write rules (types are still checked) for negative tests, and count
committed OData writes.
The routes themselves are documented in ``app.py``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from ml_connector_sandbox.dynamics.edm import dumps
from ml_connector_sandbox.dynamics.errors import ODataError, bad_query, not_found
from ml_connector_sandbox.dynamics.ledger_posting import ENTRIES, HEADERS, LedgerPosting
from ml_connector_sandbox.dynamics.manual_voucher import post_manual_voucher
from ml_connector_sandbox.dynamics.reads import wire
from ml_connector_sandbox.dynamics.schema import Schema
from ml_connector_sandbox.dynamics.store import DuplicateKey, Store
from ml_connector_sandbox.dynamics.validation import Rules
from ml_connector_sandbox.dynamics.writes import decode_body


class Admin:
    """Admin operations over the same store, schema and rules as the OData side."""

    def __init__(self, store: Store, schema: Schema, rules: Rules) -> None:
        self.store = store
        self.schema = schema
        self.rules = rules
        self.ledger = LedgerPosting(store, schema)

    def post_journal(self, company: str, batch_number: str) -> dict[str, Any]:
        """What finance's "Post" does: the journal's vouchers go to the general ledger and the
        journal becomes read-only, in one transaction. Refused (and nothing written) for a
        journal already posted or a voucher that does not balance on its date."""
        entity = self.schema.entities["LedgerJournalHeaders"]
        key = {"dataAreaId": company, "JournalBatchNumber": batch_number}
        with self.store.transaction():
            header = self.store.get(entity, key)
            if header is None:
                raise not_found(f"Journal {batch_number} does not exist in company {company}.")
            if header["IsPosted"] == "Yes":
                raise ODataError(400, f"Journal {header['JournalBatchNumber']} is already posted.")
            lines = self.store.select(
                self.schema.entities["LedgerJournalLines"],
                '"dataAreaId" = ? AND "JournalBatchNumber" = ?',
                [header["dataAreaId"], header["JournalBatchNumber"]],
                order='"LineNumber"',
            )
            vouchers = self.ledger.journal_vouchers(header, lines)
            self.ledger.write(
                header["dataAreaId"], header["JournalBatchNumber"], vouchers, self.rules.clock.now()
            )
            self.store.update(entity, key, {"IsPosted": "Yes"})
            row = self.store.get(entity, key)
        assert row is not None
        return wire(entity, row)

    def post_manual_voucher(self, company: str, body: dict[str, Any]) -> dict[str, Any]:
        """A voucher finance enters by hand, straight into the general ledger."""
        with self.store.transaction():
            posted = post_manual_voucher(self.ledger, company, body, self.rules.clock.now())
        return {
            "header": wire(self.schema.entities[HEADERS], posted["header"]),
            "entries": [wire(self.schema.entities[ENTRIES], e) for e in posted["entries"]],
        }

    def journal_lines_applied(self, company: str, batch_number: str) -> list[dict[str, Any]]:
        entity = self.schema.entities["LedgerJournalLines"]
        rows = self.store.select(
            entity,
            '"dataAreaId" = ? AND "JournalBatchNumber" = ?',
            [company, batch_number],
            order='"LineNumber"',
        )
        return [
            {
                "LineNumber": Decimal(r["LineNumber"]),
                "AccountDisplayValue": r["AccountDisplayValue"],
                "applied": json.loads(r["_applied_dims"]),
            }
            for r in rows
        ]

    def admin_write(
        self, method: str, entity_set: str, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Bypass F&O's rules (not its types) to craft seed data for negative tests."""
        entity = self.schema.entity(entity_set)
        if entity is None:
            raise not_found(f"Unknown entity set '{entity_set}'.")
        values = decode_body(entity, dumps(payload.get("values", {})))
        if "dataAreaId" in values:
            values["dataAreaId"] = values["dataAreaId"].lower()
        with self.store.transaction():
            if method == "POST":
                try:
                    self.store.insert(entity, values)
                except DuplicateKey as exc:
                    raise bad_query(f"Duplicate key: {exc}") from exc
                key = {k: values.get(k) for k in entity.keys}
            else:
                key = decode_body(entity, dumps(payload.get("key", {})))
                if sorted(key) != sorted(entity.keys):
                    raise bad_query(f"'key' must name exactly {', '.join(entity.keys)}.")
                if self.store.get(entity, key) is None:
                    raise not_found(f"No {entity_set} row with key {payload.get('key')}.")
                if method == "DELETE":
                    self.store.delete(entity, key)
                    return None
                self.store.update(entity, key, values)
                key = {k: values.get(k, v) for k, v in key.items()}
            if entity.table == "EmploymentsV2":
                self.rules.refresh_worker_status()
            row = self.store.get(entity, key)
        return None if row is None else wire(entity, row)

    def stats(self) -> dict[str, Any]:
        return self.store.stats()
