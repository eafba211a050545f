"""Seeding the F&O stand-in from ``company["dynamics"]``: check every row, then load them all.

A seed is checked against the schema before anything is wiped, so a bad seed fails loudly (the
message names entity, row and property) instead of leaving a half-seeded database. The seed's
hash is stored so that a restart with the same company keeps every write.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ml_connector_sandbox.dynamics.edm import EdmError, to_storage
from ml_connector_sandbox.dynamics.schema import EntitySchema, Schema
from ml_connector_sandbox.dynamics.store import DuplicateKey, Store
from ml_connector_sandbox.dynamics.validation import Rules

SEED_HASH_META = "seed_sha256"


class SeedError(ValueError):
    """A seed row that does not fit the schema; the message names entity, row and property."""


def seed_hash(seed: Any) -> str:
    canonical = json.dumps(seed, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def seed_is_current(store: Store, company: dict) -> bool:
    """True when the store was seeded from this very ``company["dynamics"]``."""
    return store.get_meta(SEED_HASH_META) == seed_hash(company.get("dynamics", {}))


def reseed(store: Store, schema: Schema, rules: Rules, company: dict) -> None:
    """Forget every write and seed again from ``company["dynamics"]``."""
    seed = company.get("dynamics", {})
    rows_by_entity = validate_seed(schema, seed)
    with store.lock:
        store.wipe()
        with store.transaction():
            for entity, rows in rows_by_entity:
                try:
                    store.insert_many(entity, rows)
                except DuplicateKey as exc:
                    raise SeedError(f"seed {entity.name}: duplicate key ({exc})") from exc
            rules.refresh_worker_status()
            store.set_meta(SEED_HASH_META, seed_hash(seed))


def validate_seed(schema: Schema, seed: dict) -> list[tuple[EntitySchema, list[dict]]]:
    """Every seed row converted to storage values, or ``SeedError`` for the first misfit."""
    out = []
    employment_no = 0
    for name, rows in seed.items():
        entity = schema.entity(name)
        if entity is None:
            raise SeedError(f"seed: unknown entity set '{name}'")
        converted = []
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                raise SeedError(f"seed {name} row {i}: not an object")
            values: dict[str, Any] = {}
            for prop_name, value in row.items():
                prop = entity.properties.get(prop_name)
                if prop is None:
                    raise SeedError(f"seed {name} row {i}: unknown property '{prop_name}'")
                try:
                    values[prop_name] = to_storage(prop, value)
                except EdmError as exc:
                    raise SeedError(f"seed {name} row {i} property '{prop_name}': {exc}") from exc
            if "dataAreaId" in values:
                values["dataAreaId"] = values["dataAreaId"].lower()
            if entity.table == "EmploymentsV2" and not values.get("EmploymentId"):
                employment_no += 1
                values["EmploymentId"] = f"SEED-{employment_no:06d}"
                values.setdefault("EmploymentEndDate", "2154-12-31T23:59:59Z")
            for key in entity.keys:
                if key not in values:
                    raise SeedError(f"seed {name} row {i}: key property '{key}' is missing")
            converted.append(values)
        out.append((entity, converted))
    return out
