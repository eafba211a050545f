"""The committed schema subset: the served sets and keys, and no drift from the reference.

The generator lives in ``scripts/fo_schema.py``; when the shared reference sits beside the
repository, its output must equal the committed ``entities.json``.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from ml_connector_sandbox.dynamics.schema import SCHEMA_FILE, load_schema

_SPEC = importlib.util.spec_from_file_location(
    "fo_schema", Path(__file__).resolve().parents[2] / "scripts" / "fo_schema.py"
)
assert _SPEC is not None and _SPEC.loader is not None
fo_schema = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(fo_schema)


@pytest.mark.skipif(not fo_schema.REFERENCE.exists(), reason="shared reference not mounted")
def test_committed_schema_matches_generator() -> None:
    assert json.loads(SCHEMA_FILE.read_text()) == fo_schema.generate_entities_json()


def test_schema_subset_has_the_served_sets_and_keys() -> None:
    schema = load_schema()
    assert set(fo_schema.ENTITY_SETS) <= set(schema.entities)
    lines = schema.entities["LedgerJournalLines"]
    assert lines.keys == ("dataAreaId", "JournalBatchNumber", "LineNumber")
    assert lines.properties["LineNumber"].type == "Edm.Decimal"
    assert lines.properties["TransDate"].type == "Edm.DateTimeOffset"
    assert lines.properties["AccountType"].enum == "LedgerJournalACType"
    v2_keys = ("PersonnelNumber", "LegalEntityId", "EmploymentId")
    assert schema.entities["EmploymentsV2"].keys == v2_keys
    assert schema.entities["Workers"].keys == ("PersonnelNumber",)
    assert schema.entities["Ledgers"].keys == ("LegalEntityId",)
    assert schema.entities["DimensionParameters"].properties["Key"].type == "Edm.Int32"
    assert schema.entities["LedgerJournalHeaders"].company_bound
    assert not schema.entities["Workers"].company_bound
    assert (SCHEMA_FILE.parent / "LICENSE-openapi-specs.txt").exists()
    assert (SCHEMA_FILE.parent / "NOTICE").exists()
