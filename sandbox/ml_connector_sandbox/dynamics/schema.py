"""The schema subset the stand-in enforces: entity sets, keys, property names, Edm types.

Read from the committed ``schema/entities.json`` (generated once from the shared F&O reference,
see ``tests/sandbox/test_dynamics_schema.py``), so the sandbox validates every name and type the
product sends exactly as strictly as F&O's own metadata would, without reading the reference at
run time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

SCHEMA_FILE = Path(__file__).parent / "schema" / "entities.json"
NAMESPACE = "Microsoft.Dynamics.DataEntities"

# Two views of one table: Employments (key includes the dates) and EmploymentsV2 (key has
# EmploymentId). Both read and write the EmploymentsV2 table.
TABLE_OF = {"Employments": "EmploymentsV2"}

# Fields F&O computes or keeps to itself: a write that sets one (to another value than it has)
# is refused. Workers: Name is composed from the name parts, OriginalHireDateTime comes from
# the first employment, WorkerStatus from the employments' dates.
READ_ONLY: dict[str, tuple[str, ...]] = {
    "LedgerJournalHeaders": ("IsPosted", "JournalTotalDebit", "JournalTotalCredit"),
    "Workers": ("WorkerStatus", "Name", "OriginalHireDateTime"),
}
# Fields a PATCH may not change (besides keys): F&O does not move an employment's start; a new
# start is a new employment.
FIXED_AFTER_CREATE: dict[str, tuple[str, ...]] = {
    "EmploymentsV2": ("EmploymentStartDate",),
    "Employments": ("EmploymentStartDate",),
}

_NOYES = "NoYes"
# Number-sequence setup the stand-in serves beside the committed subset: VRMParameters and
# VendorGroups as in the 10.0.47 reference (openapi-core.json, openapi-payable.json; their
# properties that matter here), and the number sequence entities SequenceV2Tables
# (NumberSequenceTableV2Entity) and NumberSequencesV2References
# (NumberSequenceReferenceV2Entity), which the reference lacks: names from the Common Data
# Model documentation of those entities. (scripts/fo_schema.py could generate the first two.)
NUMBERING_ENTITIES: dict[str, dict] = {
    "VRMParameters": {
        "entity_type": "VRMParameter",
        "keys": ["dataAreaId", "Key"],
        "properties": [
            ("dataAreaId", "Edm.String"),
            ("Key", "Edm.Int32"),
            ("VendorAccountNumberSequenceCode", "Edm.String"),
            ("IsVendorAccountNumberSequenceManual", _NOYES),
            ("MandatoryTaxGroup", _NOYES),
        ],
    },
    "VendorGroups": {
        "entity_type": "VendorGroup",
        "keys": ["dataAreaId", "VendorGroupId"],
        "properties": [
            ("dataAreaId", "Edm.String"),
            ("VendorGroupId", "Edm.String"),
            ("Description", "Edm.String"),
            ("VendorAccountNumberSequence", "Edm.String"),
            ("DefaultPaymentTermName", "Edm.String"),
        ],
    },
    "SequenceV2Tables": {
        "entity_type": "NumberSequenceTableV2",
        "keys": ["NumberSequenceCode", "ScopeType", "ScopeValue"],
        "properties": [
            ("NumberSequenceCode", "Edm.String"),
            ("ScopeType", "Edm.String"),
            ("ScopeValue", "Edm.String"),
            ("Name", "Edm.String"),
            ("Format", "Edm.String"),
            ("Manual", _NOYES),
            ("Stopped", _NOYES),
            ("ToALowerNumber", _NOYES),
            ("ToAHigherNumber", _NOYES),
            ("Continuous", _NOYES),
            ("Next", "Edm.Int64"),
            ("Smallest", "Edm.Int64"),
            ("Largest", "Edm.Int64"),
        ],
    },
    "NumberSequencesV2References": {
        "entity_type": "NumberSequenceReferenceV2",
        "keys": ["DataTypeName", "ScopeType", "ScopeValue"],
        "properties": [
            ("DataTypeName", "Edm.String"),
            ("ScopeType", "Edm.String"),
            ("ScopeValue", "Edm.String"),
            ("NumberSequenceCode", "Edm.String"),
            ("ReuseNumbers", _NOYES),
        ],
    },
}


_CURRENT_OPERATIONS_TAX = f"{NAMESPACE}.CurrentOperationsTax"
# The posted general ledger, served read-only beside the committed subset so the product can
# reconcile what it wrote against what F&O posted. Names, keys and Edm types as in a real F&O
# 10.0.4x ``$metadata``, read from the SAP Cloud SDK client generated from it (public repository
# ntrtd/d365-agent, ``GeneralJournalEntryBiEntities`` and
# ``GeneralJournalAccountEntryBiEntities``); the shared reference does not hold them. Only the
# properties a reconciliation reads are served. ``GeneralJournalEntryBiEntity.JournalCategory``
# (enum LedgerTransType) is left out: the shared reference does not list that enum's members,
# and the sandbox will not invent them.
LEDGER_ENTRY_ENTITIES: dict[str, dict] = {
    "GeneralJournalEntryBiEntities": {
        "entity_type": "GeneralJournalEntryBiEntity",
        "keys": ["JournalNumber", "FiscalCalendarYear", "Ledger"],
        # The metadata's key is not unique once a journal posts several vouchers under its
        # own number (see ledger_posting.py), so the rows are stored by SourceKey, the
        # GeneralJournalEntry's RecId; a keyed GET answers the lowest SourceKey matching it.
        "row_key": ["SourceKey"],
        "properties": [
            ("SourceKey", "Edm.Int64"),
            ("JournalNumber", "Edm.String"),
            ("FiscalCalendarYear", "Edm.Int64"),
            ("Ledger", "Edm.Int64"),
            ("AccountingDate", "Edm.DateTimeOffset"),
            ("DocumentDate", "Edm.DateTimeOffset"),
            ("DocumentNumber", "Edm.String"),
            ("SubledgerVoucher", "Edm.String"),
            ("SubledgerVoucherDataAreaId", "Edm.String"),
            ("PostingLayer", _CURRENT_OPERATIONS_TAX),
            ("LedgerPostingJournal", "Edm.String"),
            ("LedgerPostingJournalDataAreaId", "Edm.String"),
            ("CreatedOn", "Edm.DateTimeOffset"),
            ("FiscalCalendarPeriod", "Edm.Int64"),
            ("AcknowledgementDate", "Edm.DateTimeOffset"),
            ("SysCreatedBy", "Edm.String"),
        ],
    },
    "GeneralJournalAccountEntryBiEntities": {
        "entity_type": "GeneralJournalAccountEntryBiEntity",
        "keys": ["SourceKey"],
        "properties": [
            ("SourceKey", "Edm.Int64"),
            ("GeneralJournalEntry", "Edm.Int64"),
            ("LedgerAccount", "Edm.String"),
            ("LedgerDimensionValuesJson", "Edm.String"),
            ("IsCredit", _NOYES),
            ("TransactionCurrencyCode", "Edm.String"),
            ("TransactionCurrencyAmount", "Edm.Decimal"),
            ("AccountingCurrencyAmount", "Edm.Decimal"),
            ("ReportingCurrencyAmount", "Edm.Decimal"),
            ("Text", "Edm.String"),
            ("MainAccount", "Edm.Int64"),
            ("Quantity", "Edm.Decimal"),
            ("IsCorrection", _NOYES),
            ("PaymentReference", "Edm.String"),
        ],
    },
}
# Entity sets no OData client may write (F&O's BI entities are read-only); only the sandbox's
# own posting and its admin routes fill them.
READ_ONLY_SETS = frozenset(LEDGER_ENTRY_ENTITIES)


@dataclass(frozen=True)
class Property:
    """One property: its wire name, Edm type and, for enums, the allowed members."""

    name: str
    type: str
    nullable: bool
    enum: str | None = None
    members: tuple[str, ...] | None = None  # None for an enum the reference does not list

    @property
    def is_string(self) -> bool:
        return self.type in ("Edm.String", "Edm.Guid")


@dataclass(frozen=True)
class EntitySchema:
    """An entity set as served: keys in key order and properties in metadata order."""

    name: str
    entity_type: str
    keys: tuple[str, ...]
    properties: dict[str, Property] = field(hash=False)
    table: str
    row_key: tuple[str, ...] | None = None  # the stored primary key, where ``keys`` is not unique

    @property
    def storage_keys(self) -> tuple[str, ...]:
        """What identifies a stored row: ``row_key`` if set, else the entity's keys."""
        return self.row_key or self.keys

    @property
    def company_bound(self) -> bool:
        """Company-bound entities carry ``dataAreaId`` and are filtered by the default company."""
        return "dataAreaId" in self.properties


@dataclass(frozen=True)
class Schema:
    entities: dict[str, EntitySchema]

    def entity(self, name: str) -> EntitySchema | None:
        return self.entities.get(name)


def without_properties(schema: Schema, missing: Sequence[str]) -> Schema:
    """The schema of a tenant whose entities lack some properties (``"Entity.Property"``).

    Real tenants differ by version and configuration; e.g. a tenant without
    ``LedgerJournalHeaders.IntegrationKey`` answers a filter or body naming it with a 400.
    """
    entities = dict(schema.entities)
    for item in missing:
        name, _, prop = item.partition(".")
        entity = entities.get(name)
        if entity is None or prop not in entity.properties or prop in entity.keys:
            raise ValueError(f"cannot leave out {item!r}: no such non-key property")
        kept = {k: v for k, v in entity.properties.items() if k != prop}
        entities[name] = replace(entity, properties=kept)
    return Schema(entities)


@cache
def load_schema(path: Path = SCHEMA_FILE) -> Schema:
    """Parse the committed schema file once per process."""
    raw = json.loads(path.read_text())
    enums: dict[str, list[str]] = raw["enums"]
    entities: dict[str, EntitySchema] = {}
    for name, spec in raw["entities"].items():
        props: dict[str, Property] = {}
        for p in spec["properties"]:
            enum = None
            members = None
            if p["type"].startswith(NAMESPACE + "."):
                enum = p["type"][len(NAMESPACE) + 1 :]
                members = tuple(enums[enum]) if enum in enums else None
            props[p["name"]] = Property(p["name"], p["type"], p["nullable"], enum, members)
        entities[name] = EntitySchema(
            name=name,
            entity_type=spec["entity_type"],
            keys=tuple(spec["keys"]),
            properties=props,
            table=TABLE_OF.get(name, name),
        )
    for name, spec in {**NUMBERING_ENTITIES, **LEDGER_ENTRY_ENTITIES}.items():
        if name in entities:  # the generator took it over
            continue
        props = {}
        for prop_name, prop_type in spec["properties"]:
            if prop_type == _NOYES:
                prop_type = f"{NAMESPACE}.{_NOYES}"
            if prop_type.startswith(NAMESPACE + "."):
                enum = prop_type[len(NAMESPACE) + 1 :]
                props[prop_name] = Property(prop_name, prop_type, True, enum, tuple(enums[enum]))
            else:
                props[prop_name] = Property(prop_name, prop_type, prop_name not in spec["keys"])
        row_key = spec.get("row_key")
        entities[name] = EntitySchema(
            name=name,
            entity_type=spec["entity_type"],
            keys=tuple(spec["keys"]),
            properties=props,
            table=name,
            row_key=tuple(row_key) if row_key else None,
        )
    return Schema(entities)
