"""From stored records to what goes on the wire: expansions, redactions, number types.

Expansion fetches each relation for the whole page in one query and puts the object under the
relation name, keeping ``<relation>_id``; the fetched records are parsed for this page only, so
they are attached without a copy. Redaction removes a field the caller may not read and
reports it once per page in ``__meta.redacted_fields``. Compensation money is stored as decimal
strings in the company file; the spec types ``Currency.value`` as a JSON number, so it is turned
into one here, at the boundary only.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ml_connector_sandbox.rippling.auth import Principal
from ml_connector_sandbox.rippling.resources import (
    COMPENSATION_MONEY_FIELDS,
    REDACTION_REASON,
    RESOURCES,
)
from ml_connector_sandbox.rippling.store import Store


def _wire_compensation(record: dict[str, Any]) -> dict[str, Any]:
    out = dict(record)
    for key in COMPENSATION_MONEY_FIELDS:
        value = out.get(key)
        if isinstance(value, dict) and isinstance(value.get("value"), str):
            # A JSON number on the wire (spec: Currency.value is a number), written from the
            # Decimal's own digits by DecimalJSONResponse, never through float.
            out[key] = {**value, "value": Decimal(value["value"])}
    return out


def to_wire(kind: str, record: dict[str, Any]) -> dict[str, Any]:
    return _wire_compensation(record) if kind == "compensations" else record


def expand(store: Store, kind: str, records: list[dict[str, Any]], paths: list[list[str]]) -> None:
    """Attach expanded relations in place, one query per relation (and level)."""
    grouped: dict[str, list[list[str]]] = {}
    for path in paths:
        grouped.setdefault(path[0], [])
        if len(path) > 1:
            grouped[path[0]].append(path[1:])
    resource = RESOURCES[kind]
    for name, rest in grouped.items():
        relation = resource.relations[name]
        wanted: list[str] = []
        for record in records:
            value = record.get(relation.id_field)
            if relation.many:
                wanted.extend(value or [])
            elif value:
                wanted.append(value)
        # Freshly parsed for this page, so attached as they are (no copy): one object per
        # target id, shared by the page's records that point to it.
        targets = store.get_many(relation.target, wanted)
        expanded = {k: to_wire(relation.target, v) for k, v in targets.items()}
        if rest:
            expand(store, relation.target, list(expanded.values()), rest)
        for record in records:
            value = record.get(relation.id_field)
            if relation.many:
                record[name] = [expanded[i] for i in value or [] if i in expanded]
            else:
                record[name] = expanded.get(value) if value else None


def redacted_department_ids(store: Store, principal: Principal) -> set[str]:
    if not principal.redact_department_codes:
        return set()
    codes = sorted(principal.redact_department_codes)
    marks = ",".join("?" * len(codes))
    return set(
        store.ids_where(
            "departments", f"json_extract(body, '$.reference_code') IN ({marks})", tuple(codes)
        )
    )


def redact(
    store: Store, principal: Principal, kind: str, records: list[dict[str, Any]]
) -> list[dict[str, str]]:
    """Remove what the caller may not read; return the page's ``redacted_fields`` list."""
    hidden = redacted_department_ids(store, principal)
    if not hidden:
        return []
    names: list[str] = []

    def note(name: str) -> None:
        if name not in names:
            names.append(name)

    def worker(record: dict[str, Any]) -> None:
        if record.get("department_id") in hidden:
            for name in ("compensation_id", "compensation"):
                if name in record:
                    del record[name]
                    note(name)
        for nested in ("manager", "worker"):
            if isinstance(record.get(nested), dict):
                worker(record[nested])

    if kind == "workers":
        for record in records:
            worker(record)
    elif kind == "compensations":
        workers = store.get_many("workers", [r.get("worker_id", "") for r in records])
        for record in records:
            owner = workers.get(record.get("worker_id", ""))
            if owner is not None and owner.get("department_id") in hidden:
                for name in COMPENSATION_MONEY_FIELDS:
                    if name in record:
                        del record[name]
                        note(name)
            if isinstance(record.get("worker"), dict):
                worker(record["worker"])
    else:
        for record in records:
            if isinstance(record.get("worker"), dict):
                worker(record["worker"])
    return [{"name": n, "reason": REDACTION_REASON} for n in names]
