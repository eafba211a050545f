"""Current Dynamics state: Workers, EmploymentsV2 and VendorsV2 as the sync compares them.

``read_current`` reads either everything in the mapped companies (a full sync, headcount) or
only the rows of given PersonnelNumbers (a webhook or polling sync of a few workers);
``state_from_rows`` turns raw F&O rows into the typed state and is pure, for tests.
"""

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from ml_connector_dagster.audit.schema import worker_map
from ml_connector_dagster.audit.store import AuditStore
from ml_connector_dagster.dynamics.client import DynamicsClient
from ml_connector_dagster.dynamics.odata import all_of, any_of
from ml_connector_dagster.workforce.desired import Identities

OPEN_END = dt.date(2154, 12, 31)
OPEN_END_WIRE = "2154-12-31T23:59:59Z"
FILTER_CHUNK = 40  # equalities per $filter: keeps URLs well under F&O's length limits
TARGETED_LIMIT = 400  # above this many workers a full read is cheaper than chunked filters


class EntitySet(StrEnum):
    """The F&O entity sets the sync reads and writes."""

    WORKERS = "Workers"
    EMPLOYMENTS = "EmploymentsV2"
    VENDORS = "VendorsV2"


class VendorHold(StrEnum):
    """``VendorsV2.OnHoldStatus`` values the sync sets; finance's other holds (Invoice,
    Payment, ...) are read as they are and left alone."""

    ALL = "All"  # the sync's own hold: a terminated contractor
    NONE = "No"


WORKER_FIELDS = ("FirstName", "LastName", "Name", "PrimaryContactEmail")
VENDOR_FIELDS = (
    "PersonFirstName",
    "PersonLastName",
    "PrimaryEmailAddress",
    "DefaultLedgerDimensionDisplayValue",
)


def wire_date(day: dt.date) -> str:
    """F&O ``Edm.DateTimeOffset`` at midnight UTC: ``2026-11-15T00:00:00Z``."""
    return f"{day.isoformat()}T00:00:00Z"


def read_date(value: Any) -> dt.date | None:
    if not value:
        return None
    return dt.date.fromisoformat(str(value)[:10])


@dataclass(frozen=True)
class CurrentWorker:
    personnel_number: str
    fields: Mapping[str, str]
    allow_rehire: bool
    worker_type: str | None
    status: str | None


@dataclass(frozen=True)
class CurrentEmployment:
    personnel_number: str
    company: str  # LegalEntityId, upper case
    employment_id: str | None  # None: planned in this sync, not yet created
    start: dt.date
    end: dt.date | None  # None: open
    dimension: str | None = None
    worker_type: str | None = None

    def covers(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class CurrentVendor:
    company: str  # upper case
    account: str
    on_hold: str
    group: str | None
    fields: Mapping[str, str]


@dataclass
class CurrentState:
    workers: dict[str, CurrentWorker] = field(default_factory=dict)
    employments: dict[str, list[CurrentEmployment]] = field(default_factory=dict)
    vendors: dict[tuple[str, str], CurrentVendor] = field(default_factory=dict)
    complete: bool = False  # every row of the mapped companies was read


def state_from_rows(
    workers: Iterable[Mapping[str, Any]],
    employments: Iterable[Mapping[str, Any]],
    vendors: Iterable[Mapping[str, Any]],
    *,
    complete: bool = False,
) -> CurrentState:
    state = CurrentState(complete=complete)
    for row in workers:
        number = str(row["PersonnelNumber"])
        state.workers[number] = CurrentWorker(
            personnel_number=number,
            fields={k: str(row[k]) for k in WORKER_FIELDS if row.get(k) not in (None, "")},
            allow_rehire=str(row.get("AllowRehire") or "Yes") != "No",
            worker_type=row.get("WorkerType"),
            status=row.get("WorkerStatus"),
        )
    for row in employments:
        start = read_date(row.get("EmploymentStartDate"))
        if start is None:
            continue
        end = read_date(row.get("EmploymentEndDate"))
        number = str(row["PersonnelNumber"])
        state.employments.setdefault(number, []).append(
            CurrentEmployment(
                personnel_number=number,
                company=str(row["LegalEntityId"]).upper(),
                employment_id=row.get("EmploymentId"),
                start=start,
                end=None if end is None or end >= OPEN_END else end,
                dimension=row.get("DimensionDisplayValue") or None,
                worker_type=row.get("WorkerType"),
            )
        )
    for spans in state.employments.values():
        spans.sort(key=lambda e: e.start)
    for row in vendors:
        company = str(row["dataAreaId"]).upper()
        account = str(row["VendorAccountNumber"])
        state.vendors[(company, account)] = CurrentVendor(
            company=company,
            account=account,
            on_hold=str(row.get("OnHoldStatus") or VendorHold.NONE.value),
            group=row.get("VendorGroupId"),
            fields={k: str(row[k]) for k in VENDOR_FIELDS if row.get(k) not in (None, "")},
        )
    return state


def _chunks(values: Sequence[str], size: int = FILTER_CHUNK) -> Iterable[list[str]]:
    for i in range(0, len(values), size):
        yield list(values[i : i + size])


def read_current(
    client: DynamicsClient,
    companies: Iterable[str],
    personnel_numbers: Iterable[str] | None = None,
    vendor_accounts: Iterable[str] | None = None,
) -> CurrentState:
    """Rows of the mapped companies; only those of ``personnel_numbers`` when given (and few)."""
    company_list = sorted({c.upper() for c in companies})
    numbers = sorted(set(personnel_numbers)) if personnel_numbers is not None else None
    if numbers is not None and len(numbers) > TARGETED_LIMIT:
        numbers = None
    company_filter = any_of("dataAreaId", [c.lower() for c in company_list])
    if numbers is None:
        workers = client.list_entities(EntitySet.WORKERS)
        employments = client.list_entities(
            EntitySet.EMPLOYMENTS, filter=any_of("LegalEntityId", list(company_list))
        )
        vendors = client.list_entities(EntitySet.VENDORS, filter=company_filter)
        return state_from_rows(workers, employments, vendors, complete=True)
    workers, employments, vendors = [], [], []
    for chunk in _chunks(numbers):
        workers += client.list_entities(EntitySet.WORKERS, filter=any_of("PersonnelNumber", chunk))
        # All companies: an employment elsewhere matters for rehire and transfer decisions.
        employments += client.list_entities(
            EntitySet.EMPLOYMENTS, filter=any_of("PersonnelNumber", chunk)
        )
    accounts = sorted(set(vendor_accounts if vendor_accounts is not None else numbers))
    for chunk in _chunks(accounts):
        vendors += client.list_entities(
            EntitySet.VENDORS, filter=all_of(company_filter, any_of("VendorAccountNumber", chunk))
        )
    return state_from_rows(workers, employments, vendors)


def load_identities(store: AuditStore) -> Identities:
    """The whole worker map in one read: by worker id, and by user id (earliest mapping wins)."""
    by_worker: dict[str, str] = {}
    by_user: dict[str, str] = {}
    query = sa.select(
        worker_map.c.rippling_worker_id,
        worker_map.c.personnel_number,
        worker_map.c.rippling_user_id,
    ).order_by(worker_map.c.created_at)
    with store.engine.connect() as db:
        for worker_id, number, user_id in db.execute(query):
            by_worker[worker_id] = number
            if user_id and user_id not in by_user:
                by_user[user_id] = number
    return Identities(by_worker=by_worker, by_user=by_user)
