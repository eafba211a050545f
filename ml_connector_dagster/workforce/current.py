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
from ml_connector_dagster.dynamics.odata import all_of, any_of, eq
from ml_connector_dagster.workforce.desired import Identities, is_pending_number

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
    """F&O ``Edm.DateTimeOffset`` at midnight UTC: ``2026-11-15T00:00:00Z`` (start dates)."""
    return f"{day.isoformat()}T00:00:00Z"


def wire_end_date(day: dt.date) -> str:
    """An employment's last day as F&O's own UI stores it: the end of that day in UTC,
    ``2026-11-19T23:59:59Z`` (like the open end ``2154-12-31T23:59:59Z``). Midnight would
    show as the previous day to anyone west of UTC."""
    return f"{day.isoformat()}T23:59:59Z"


def read_date(value: Any) -> dt.date | None:
    if not value:
        return None
    return dt.date.fromisoformat(str(value)[:10])


def read_end_date(value: Any) -> dt.date | None:
    """The last day of an employment, whichever way it was stored.

    ``...T23:59:59Z`` (ours, F&O's UI in UTC) and ``...T00:00:00Z`` (older writes) both read
    as that date. An end of day entered in a time zone west of UTC lands on the next UTC date
    before noon (``2026-11-20T04:59:59Z`` is 19 November in New York): it reads as the day
    before, so an end date read back never differs from the one Rippling gives.
    """
    if not value:
        return None
    text = str(value)
    day = dt.date.fromisoformat(text[:10])
    clock_time = text[11:19]
    if len(clock_time) == 8 and clock_time.endswith(":59:59") and clock_time < "12:00:00":
        return day - dt.timedelta(days=1)
    return day


@dataclass(frozen=True)
class CurrentWorker:
    personnel_number: str
    fields: Mapping[str, str]
    allow_rehire: bool
    worker_type: str | None
    status: str | None

    @property
    def email(self) -> str | None:
        """The work e-mail, folded for comparison (F&O compares strings case-insensitively)."""
        value = self.fields.get("PrimaryContactEmail")
        return value.strip().lower() if value else None


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
        end = read_end_date(row.get("EmploymentEndDate"))
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


def find_workers(
    client: DynamicsClient, emails: Iterable[str], personnel_numbers: Iterable[str]
) -> dict[str, CurrentWorker]:
    """F&O workers with one of these work e-mails or personnel numbers, by PersonnelNumber:
    the people a targeted sync plans for and those it may link, in one read (both kinds of
    equality share each ``$filter``)."""
    clauses = [eq("PrimaryContactEmail", e) for e in sorted({e for e in emails if e})]
    clauses += [
        eq("PersonnelNumber", n)
        for n in sorted({n for n in personnel_numbers if n and not is_pending_number(n)})
    ]
    rows: list[dict[str, Any]] = []
    for chunk in _chunks(clauses):
        rows += client.list_entities(EntitySet.WORKERS, filter=" or ".join(chunk))
    return state_from_rows(rows, (), ()).workers


def read_current(
    client: DynamicsClient,
    companies: Iterable[str],
    personnel_numbers: Iterable[str] | None = None,
    vendor_accounts: Iterable[str] | None = None,
    workers: Mapping[str, CurrentWorker] | None = None,
) -> CurrentState:
    """Rows of the mapped companies; only those of ``personnel_numbers`` when given (and few).

    Numbers F&O has yet to assign (``is_pending_number``) have no rows and are not asked for.
    ``workers`` already read (``find_workers``) are not read again.
    """
    company_list = sorted({c.upper() for c in companies})
    numbers = (
        sorted({n for n in personnel_numbers if not is_pending_number(n)})
        if personnel_numbers is not None
        else None
    )
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
    worker_rows: list[dict[str, Any]] = []
    employments: list[dict[str, Any]] = []
    vendors: list[dict[str, Any]] = []
    for chunk in _chunks(numbers):
        if workers is None:
            worker_rows += client.list_entities(
                EntitySet.WORKERS, filter=any_of("PersonnelNumber", chunk)
            )
        # All companies: an employment elsewhere matters for rehire and transfer decisions.
        employments += client.list_entities(
            EntitySet.EMPLOYMENTS, filter=any_of("PersonnelNumber", chunk)
        )
    wanted = vendor_accounts if vendor_accounts is not None else numbers
    accounts = sorted({a for a in wanted if a and not is_pending_number(a)})
    for chunk in _chunks(accounts):
        vendors += client.list_entities(
            EntitySet.VENDORS, filter=all_of(company_filter, any_of("VendorAccountNumber", chunk))
        )
    state = state_from_rows(worker_rows, employments, vendors)
    if workers is not None:
        state.workers.update(workers)
    return state


def load_identities(store: AuditStore) -> Identities:
    """The whole worker map in one read: by worker id, and by user id (earliest mapping wins),
    with the vendor accounts F&O assigned (or the connector chose) for contractors."""
    by_worker: dict[str, str] = {}
    by_user: dict[str, str] = {}
    vendors: dict[str, str] = {}
    query = sa.select(
        worker_map.c.rippling_worker_id,
        worker_map.c.personnel_number,
        worker_map.c.rippling_user_id,
        worker_map.c.vendor_account,
    ).order_by(worker_map.c.created_at)
    with store.engine.connect() as db:
        for worker_id, number, user_id, vendor_account in db.execute(query):
            by_worker[worker_id] = number
            if user_id and user_id not in by_user:
                by_user[user_id] = number
            if vendor_account:
                vendors[worker_id] = vendor_account
    return Identities(by_worker=by_worker, by_user=by_user, vendor_by_worker=vendors)
