"""Desired Dynamics state, computed from Rippling workers alone (pure: no I/O).

One Dynamics worker stands for one person: a rehire under a new Rippling worker id (same user)
keeps the PersonnelNumber it had, so several Rippling workers may fold into one
``DesiredWorker``. Each Rippling worker contributes the employment of its current span (Rippling
keeps only the latest ``start_date``); the newest one drives the names, email and vendor.

A field Rippling withheld (``Worker.redacted``) or did not send is left out of the desired
state, so it is never written, let alone blanked.
"""

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from ml_connector_dagster.config.mapping import LegalEntityMap, PayrollMapping
from ml_connector_dagster.config.workforce import WorkforceSettings
from ml_connector_dagster.dynamics.readers import DimensionFormat
from ml_connector_dagster.rippling.models import Worker


class WorkerType(StrEnum):
    """F&O's ``WorkerType`` of a worker and its employments; a contractor also gets a vendor."""

    EMPLOYEE = "Employee"
    CONTRACTOR = "Contractor"


# Rippling field names whose redaction hides what a Dynamics field is built from.
NAME_SOURCES = ("user",)
EMAIL_SOURCES = ("work_email",)
DEPARTMENT_SOURCES = ("department", "department_id")


@dataclass(frozen=True)
class Identities:
    """The audit store's worker map: Rippling worker id and user id to PersonnelNumber."""

    by_worker: Mapping[str, str] = field(default_factory=dict)
    by_user: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WorkerIdentity:
    """One row of the worker map to write."""

    rippling_worker_id: str
    personnel_number: str
    rippling_user_id: str | None


@dataclass(frozen=True)
class DesiredEmployment:
    company: str  # LegalEntityId, upper case (USMF)
    start: dt.date
    end: dt.date | None  # None: open (F&O's 2154-12-31)
    rippling_worker_id: str
    worker_type: WorkerType
    dimension: str | None = None  # DimensionDisplayValue; None: not managed


@dataclass(frozen=True)
class DesiredVendor:
    company: str  # upper case; the wire's dataAreaId is its lower case
    account: str
    group: str
    on_hold: bool
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DesiredWorker:
    personnel_number: str
    primary_worker_id: str
    identities: tuple[WorkerIdentity, ...]
    worker_type: WorkerType
    fields: Mapping[str, str]  # FirstName, LastName, Name, PrimaryContactEmail (known ones only)
    original_hire: dt.date
    employments: tuple[DesiredEmployment, ...]
    vendor: DesiredVendor | None = None
    redacted: tuple[str, ...] = ()

    @property
    def rippling_worker_ids(self) -> tuple[str, ...]:
        return tuple(i.rippling_worker_id for i in self.identities)


@dataclass(frozen=True)
class Skipped:
    """A Rippling worker the sync leaves out, and why (shown in the plan as a report)."""

    rippling_worker_id: str
    reason: str
    personnel_number: str | None = None


@dataclass(frozen=True)
class DesiredState:
    workers: Mapping[str, DesiredWorker]  # by PersonnelNumber
    skipped: tuple[Skipped, ...] = ()

    def identities_to_record(self, known: Identities) -> tuple[WorkerIdentity, ...]:
        """Worker-map rows that are new or changed compared with ``known``."""
        return tuple(
            identity
            for worker in self.workers.values()
            for identity in worker.identities
            if known.by_worker.get(identity.rippling_worker_id) != identity.personnel_number
        )


def parse_date(value: str | None) -> dt.date | None:
    if not value:
        return None
    return dt.date.fromisoformat(str(value)[:10])


def is_contractor(worker: Worker) -> bool:
    kind = worker.employment_type.type if worker.employment_type else None
    return (kind or "").upper() == "CONTRACTOR"


def personnel_number_for(
    worker: Worker, identities: Identities, settings: WorkforceSettings
) -> str | None:
    """The map first (survives renames and renumbering), then the user (rehire under a new
    worker id), then the configured scheme."""
    known = identities.by_worker.get(worker.id)
    if known:
        return known
    if worker.user_id and worker.user_id in identities.by_user:
        return identities.by_user[worker.user_id]
    if worker.number is None or str(worker.number).strip() == "":
        return None
    return settings.personnel_number(worker.number)


def _withheld(worker: Worker, sources: Iterable[str]) -> bool:
    return any(name in worker.redacted for name in sources)


def worker_fields(worker: Worker) -> dict[str, str]:
    """Workers fields Rippling gives a value for; withheld or absent ones are left out."""
    values: dict[str, str] = {}
    if not _withheld(worker, NAME_SOURCES) and worker.user and worker.user.name:
        given = (worker.user.name.given_name or "").strip()
        family = (worker.user.name.family_name or "").strip()
        if given:
            values["FirstName"] = given
        if family:
            values["LastName"] = family
        if given or family:
            values["Name"] = " ".join(p for p in (given, family) if p)
    email = None if _withheld(worker, EMAIL_SOURCES) else (worker.work_email or "").strip()
    if email:
        values["PrimaryContactEmail"] = email
    return values


def department_key(worker: Worker) -> str | None:
    if worker.department is not None:
        return worker.department.dimension_key
    return worker.department_id


def dimension_display(
    worker: Worker,
    mapping: PayrollMapping,
    company: LegalEntityMap,
    settings: WorkforceSettings,
    default_format: DimensionFormat | None,
) -> str | None:
    """The default-dimension display value (``001-D120-CCTEC``) for the worker's employment.

    Written in F&O's active *default dimension* format (its own order and dimensions, not the
    ledger format minus MainAccount); None, and the value left alone, without one.

    Layers: worker override, department, the department's reference code for the configured
    department dimension, legal entity, default. None when the department was withheld (the
    Dynamics value then stays as it is) or a value would contain the delimiter.
    """
    if default_format is None or not settings.employment_dimensions:
        return None
    if _withheld(worker, DEPARTMENT_SOURCES):
        return None
    key = department_key(worker)
    fallback = {settings.department_dimension: key} if key and settings.department_dimension else {}
    layers: list[Mapping[str, str]] = [
        mapping.workers.get(worker.id, {}),
        mapping.departments.get(key or "", {}),
        fallback,
        company.dimensions,
        mapping.default_dimensions,
    ]
    delimiter = default_format.delimiter
    segments = []
    for dimension in default_format.dimensions:
        value = next((layer[dimension] for layer in layers if dimension in layer), "")
        if delimiter in value:
            return None
        segments.append(value)
    return delimiter.join(segments)


def _one(
    worker: Worker,
    mapping: PayrollMapping,
    settings: WorkforceSettings,
    identities: Identities,
    default_format: DimensionFormat | None,
) -> tuple[str, DesiredEmployment, Worker] | Skipped:
    if (worker.status or "").upper() not in settings.synced_statuses:
        return Skipped(worker.id, f"status {worker.status or 'unknown'} is not synced")
    if "legal_entity_id" in worker.redacted:
        return Skipped(worker.id, "legal entity withheld by Rippling: cannot place the worker")
    company = mapping.company_for_legal_entity(worker.legal_entity_id)
    if company is None:
        return Skipped(worker.id, f"legal entity {worker.legal_entity_id} is not mapped")
    number = personnel_number_for(worker, identities, settings)
    if number is None:
        return Skipped(worker.id, "no worker number and no mapped PersonnelNumber")
    start = parse_date(worker.start_date)
    if start is None:
        return Skipped(worker.id, "no start date", number)
    end = None
    if (worker.status or "").upper() == "TERMINATED":
        end = parse_date(worker.end_date)
        if end is None:
            return Skipped(worker.id, "terminated without an end date", number)
    kind = WorkerType.CONTRACTOR if is_contractor(worker) else WorkerType.EMPLOYEE
    employment = DesiredEmployment(
        company=company.company,
        start=start,
        end=end,
        rippling_worker_id=worker.id,
        worker_type=kind,
        dimension=None
        if end
        else dimension_display(worker, mapping, company, settings, default_format),
    )
    return number, employment, worker


def _primary_sort_key(item: tuple[DesiredEmployment, Worker]) -> tuple[int, dt.date, str]:
    employment, worker = item
    return (0 if employment.end else 1, employment.start, worker.updated_at or "")


def build_desired(
    workers: Iterable[Worker],
    mapping: PayrollMapping,
    settings: WorkforceSettings,
    identities: Identities | None = None,
    default_format: DimensionFormat | None = None,
) -> DesiredState:
    """What Dynamics should hold; employment and vendor dimensions only with ``default_format``
    (F&O's active default dimension format), left as they are without it."""
    identities = identities or Identities()
    grouped: dict[str, list[tuple[DesiredEmployment, Worker]]] = {}
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for worker in workers:
        if worker.id in seen:
            continue
        seen.add(worker.id)
        outcome = _one(worker, mapping, settings, identities, default_format)
        if isinstance(outcome, Skipped):
            skipped.append(outcome)
            continue
        number, employment, worker = outcome
        grouped.setdefault(number, []).append((employment, worker))

    desired: dict[str, DesiredWorker] = {}
    for number, items in grouped.items():
        items.sort(key=lambda item: item[0].start)
        primary_employment, primary = max(items, key=_primary_sort_key)
        vendor = None
        if primary_employment.worker_type == WorkerType.CONTRACTOR:
            fields = worker_fields(primary)
            vendor_fields = {
                target: fields[source]
                for source, target in (
                    ("FirstName", "PersonFirstName"),
                    ("LastName", "PersonLastName"),
                    ("PrimaryContactEmail", "PrimaryEmailAddress"),
                )
                if source in fields
            }
            if primary_employment.dimension is not None:
                vendor_fields["DefaultLedgerDimensionDisplayValue"] = primary_employment.dimension
            vendor = DesiredVendor(
                company=primary_employment.company,
                account=settings.vendor_account(number, primary.number),
                group=settings.vendor_group,
                on_hold=primary_employment.end is not None,
                fields=vendor_fields,
            )
        desired[number] = DesiredWorker(
            personnel_number=number,
            primary_worker_id=primary.id,
            identities=tuple(WorkerIdentity(w.id, number, w.user_id) for _, w in items),
            worker_type=primary_employment.worker_type,
            fields=worker_fields(primary),
            original_hire=items[0][0].start,
            employments=tuple(e for e, _ in items),
            vendor=vendor,
            redacted=tuple(sorted({name for _, w in items for name in w.redacted})),
        )
    return DesiredState(workers=desired, skipped=tuple(skipped))
