"""OData writes of the F&O stand-in: create (POST), update (PATCH/PUT) and delete.

Each write runs in one store transaction with F&O's rules (``validation.Rules``) before and
after it, and counts itself for ``/_sandbox/stats`` only once it is in; a write inside a change
set joins the change set's transaction instead, so a rollback takes it back with its count.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ml_connector_sandbox.dynamics.edm import EdmError, loads, to_storage
from ml_connector_sandbox.dynamics.errors import bad_query, write_failed
from ml_connector_sandbox.dynamics.odata_filter import quote as quote_literal
from ml_connector_sandbox.dynamics.reads import Reads, wire
from ml_connector_sandbox.dynamics.response import ODataResponse, json_response
from ml_connector_sandbox.dynamics.schema import NAMESPACE, EntitySchema
from ml_connector_sandbox.dynamics.store import DuplicateKey
from ml_connector_sandbox.dynamics.validation import Rules


def decode_body(entity: EntitySchema, body: bytes) -> dict[str, Any]:
    """A JSON request body as storage values; unknown properties and bad types are 400s."""
    try:
        data = loads(body or b"")
    except EdmError as exc:
        raise bad_query(str(exc)) from exc
    if not isinstance(data, dict):
        raise bad_query("The request body must be a JSON object.")
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name.startswith("@odata."):
            continue
        prop = entity.properties.get(name)
        if prop is None:
            raise bad_query(
                f"The property '{name}' does not exist on type "
                f"'{NAMESPACE}.{entity.entity_type}'. Make sure to only use property names "
                "that are defined by the type."
            )
        try:
            values[name] = to_storage(prop, value)
        except EdmError as exc:
            raise bad_query(f"Property '{name}': {exc}") from exc
    return values


class Writes:
    """The write side: F&O's rules around every store change, one transaction per write."""

    def __init__(self, reads: Reads, rules: Rules) -> None:
        self.reads = reads
        self.store = reads.store
        self.rules = rules

    def location(self, entity: EntitySchema, row: dict[str, Any]) -> str:
        """The ``Location`` URL of a created row, with its key predicate."""
        parts = []
        for k in entity.keys:
            prop = entity.properties[k]
            v = row[k]
            lit = quote_literal(v) if prop.is_string else str(v)
            parts.append(f"{k}={lit}")
        inner = ",".join(parts) if len(parts) > 1 else parts[0].split("=", 1)[1]
        url = self.reads.environment_url
        return f"{url}/data/{entity.name}({quote(inner, safe=chr(39) + '=,:')})"

    def create(self, entity: EntitySchema, body: bytes) -> ODataResponse:
        values = decode_body(entity, body)
        with self.store.transaction():
            hidden = self.rules.create(entity, values)
            try:
                self.store.insert(entity, values, hidden)
            except DuplicateKey as exc:
                keys = ", ".join(f"{k}: {values.get(k)}" for k in entity.keys)
                raise write_failed(
                    entity.entity_type,
                    f"Cannot create a record in {entity.entity_type} ({entity.table}). {keys}. "
                    "The record already exists.",
                    "Error",
                ) from exc
            key = {k: values[k] for k in entity.keys}
            row = self.store.get(entity, key)
            assert row is not None
            self.rules.after(entity, None, row)
            self.store.count_write(entity.name, "create")
            row = self.store.get(entity, key)
            assert row is not None
        payload = {"@odata.context": self.reads.context(entity, None, single=True)}
        payload.update(wire(entity, row))
        return json_response(201, payload, {"Location": self.location(entity, row)})

    def update(
        self, entity: EntitySchema, key: dict[str, Any], cross: bool, body: bytes
    ) -> ODataResponse:
        changes = decode_body(entity, body)
        with self.store.transaction():
            old = self.reads.find(entity, key, cross)
            for k in entity.keys:
                if k in changes and str(changes[k]).lower() != str(old[k]).lower():
                    raise write_failed(
                        entity.entity_type, f"Key field '{k}' cannot be changed.", "Error"
                    )
            merged = {**old, **changes}
            hidden = self.rules.update(entity, old, changes, merged)
            self.store.update(
                entity,
                {k: old[k] for k in entity.keys},
                {**{k: v for k, v in changes.items() if k not in entity.keys}, **hidden},
            )
            new = self.store.get(entity, {k: old[k] for k in entity.keys})
            self.rules.after(entity, old, new)
            self.store.count_write(entity.name, "update")
        return ODataResponse(204)

    def delete(self, entity: EntitySchema, key: dict[str, Any], cross: bool) -> ODataResponse:
        with self.store.transaction():
            old = self.reads.find(entity, key, cross)
            self.rules.delete(entity, old)
            self.store.delete(entity, {k: old[k] for k in entity.keys})
            self.rules.after(entity, old, None)
            self.store.count_write(entity.name, "delete")
        return ODataResponse(204)
