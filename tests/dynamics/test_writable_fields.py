"""Contract: every field the connector writes exists in F&O's metadata and is not read-only."""

import re
from pathlib import Path

import pytest

from ml_connector_dagster.dynamics.writable import NOT_PATCHABLE, READ_ONLY, WRITES, Operation
from ml_connector_sandbox.dynamics.schema import FIXED_AFTER_CREATE
from ml_connector_sandbox.dynamics.schema import READ_ONLY as SANDBOX_READ_ONLY

# shared/ sits beside the repository (the developers' and CI's layout).
REFERENCE = (
    Path(__file__).resolve().parents[2].parent
    / "shared/reference/d365/entity-fields-from-metadata.txt"
)


def _metadata_fields() -> dict[str, set[str]]:
    """Entity -> wire names (the file camel-cases them; the wire is PascalCase but dataAreaId)."""
    fields: dict[str, set[str]] = {}
    entity = None
    for line in REFERENCE.read_text().splitlines():
        header = re.match(r"## (\w+) keys:", line)
        if header:
            entity = header.group(1)
            continue
        if entity and line.strip() and not line.startswith("##"):
            names = {item.split(":", 1)[0].strip() for item in line.split(",")} - {""}
            fields[entity] = {n if n == "dataAreaId" else n[0].upper() + n[1:] for n in names}
            entity = None
    return fields


@pytest.mark.skipif(not REFERENCE.exists(), reason="shared reference not mounted")
@pytest.mark.parametrize("entity", sorted(WRITES))
def test_every_written_field_exists_in_the_metadata(entity: str) -> None:
    known = _metadata_fields()[entity]
    for operation, names in WRITES[entity].items():
        assert names <= known, (entity, operation, sorted(names - known))


@pytest.mark.parametrize("entity", sorted(WRITES))
def test_no_written_field_is_read_only_or_fixed(entity: str) -> None:
    for operation, names in WRITES[entity].items():
        refused = READ_ONLY.get(entity, frozenset()) | set(SANDBOX_READ_ONLY.get(entity, ()))
        if operation is Operation.PATCH:
            refused |= NOT_PATCHABLE.get(entity, frozenset())
            refused |= set(FIXED_AFTER_CREATE.get(entity, ()))
        assert not names & refused, (entity, operation, sorted(names & refused))


def test_the_connector_knows_what_the_sandbox_refuses() -> None:
    """The sandbox plays F&O: what it refuses, the connector must know not to send."""
    for entity in WRITES:
        assert set(SANDBOX_READ_ONLY.get(entity, ())) <= READ_ONLY[entity]
        assert set(FIXED_AFTER_CREATE.get(entity, ())) <= NOT_PATCHABLE[entity]
