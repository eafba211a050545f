"""The fields the connector writes, per entity and operation, in one place.

Why one place: F&O computes some fields (a worker's ``Name`` from first and last name, its
``OriginalHireDateTime`` from the first employment, ``WorkerStatus``) and refuses others on a
PATCH (an employment's ``EmploymentStartDate``: a new start is a new employment). A write that
sends one of them fails in F&O, or worse, is silently ignored there and then shows as a change
on every sync. The planners build their bodies from these sets, ``apply`` refuses a body that
strays outside them, and a contract test checks every name against the F&O metadata reference
(it must exist and must not be read-only).

Names are the wire's: PascalCase, except ``dataAreaId``.
"""

from collections.abc import Iterable, Mapping
from enum import StrEnum


class Operation(StrEnum):
    CREATE = "create"
    PATCH = "patch"


WORKER_NAME_FIELDS = frozenset({"FirstName", "LastName"})

WRITES: Mapping[str, Mapping[Operation, frozenset[str]]] = {
    "Workers": {
        # PersonnelNumber is left out when F&O's number sequence assigns it.
        Operation.CREATE: frozenset(
            {"PersonnelNumber", "FirstName", "LastName", "PrimaryContactEmail", "WorkerType"}
        ),
        Operation.PATCH: frozenset({"FirstName", "LastName", "PrimaryContactEmail"}),
    },
    "EmploymentsV2": {
        Operation.CREATE: frozenset(
            {
                "PersonnelNumber",
                "LegalEntityId",
                "EmploymentStartDate",
                "EmploymentEndDate",
                "WorkerType",
                "DimensionDisplayValue",
            }
        ),
        # Never the start: F&O does not move an employment's start by PATCH.
        Operation.PATCH: frozenset({"EmploymentEndDate", "DimensionDisplayValue"}),
    },
    "VendorsV2": {
        # VendorAccountNumber is left out when F&O's number sequence assigns it.
        Operation.CREATE: frozenset(
            {
                "dataAreaId",
                "VendorAccountNumber",
                "VendorGroupId",
                "VendorPartyType",
                "PersonFirstName",
                "PersonLastName",
                "PrimaryEmailAddress",
                "DefaultLedgerDimensionDisplayValue",
                "OnHoldStatus",
            }
        ),
        Operation.PATCH: frozenset(
            {
                "PersonFirstName",
                "PersonLastName",
                "PrimaryEmailAddress",
                "DefaultLedgerDimensionDisplayValue",
                "OnHoldStatus",
            }
        ),
    },
    # The payroll journals (``posting/payloads.py``): created, never patched (a correction is
    # a new journal, or lines deleted and created again in one changeset).
    "LedgerJournalHeaders": {
        Operation.CREATE: frozenset({"dataAreaId", "JournalName", "Description", "IntegrationKey"}),
    },
    "LedgerJournalLines": {
        Operation.CREATE: frozenset(
            {
                "dataAreaId",
                "JournalBatchNumber",
                "LineNumber",
                "AccountType",
                "AccountDisplayValue",
                "CurrencyCode",
                "TransDate",
                "Text",
                "Voucher",  # only where the journal name wants it (posting/vouchers.py)
                "DebitAmount",
                "CreditAmount",
                "ReverseEntry",
                "ReverseDate",
            }
        ),
    },
}

# What F&O computes or refuses, per entity: never in a body the connector sends. Keys are
# refused on PATCH as well (F&O cannot change a key), so they are listed for PATCH only.
READ_ONLY: Mapping[str, frozenset[str]] = {
    "Workers": frozenset({"Name", "OriginalHireDateTime", "WorkerStatus"}),
    "EmploymentsV2": frozenset(),
    "VendorsV2": frozenset(),
    "LedgerJournalHeaders": frozenset({"IsPosted", "JournalTotalDebit", "JournalTotalCredit"}),
    "LedgerJournalLines": frozenset(),
}
NOT_PATCHABLE: Mapping[str, frozenset[str]] = {
    "Workers": frozenset({"PersonnelNumber"}),
    "EmploymentsV2": frozenset(
        {"PersonnelNumber", "LegalEntityId", "EmploymentId", "EmploymentStartDate"}
    ),
    "VendorsV2": frozenset({"dataAreaId", "VendorAccountNumber"}),
    "LedgerJournalHeaders": frozenset({"dataAreaId", "JournalBatchNumber"}),
    "LedgerJournalLines": frozenset({"dataAreaId", "JournalBatchNumber", "LineNumber"}),
}


def unwritable(entity_set: str, operation: Operation, fields: Iterable[str]) -> list[str]:
    """The names in ``fields`` the connector must not send in this write (empty: all fine)."""
    allowed = WRITES.get(entity_set, {}).get(operation, frozenset())
    refused = READ_ONLY.get(entity_set, frozenset())
    if operation is Operation.PATCH:
        refused = refused | NOT_PATCHABLE.get(entity_set, frozenset())
    return sorted(name for name in fields if name not in allowed or name in refused)
