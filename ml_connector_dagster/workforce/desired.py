"""Desired Dynamics state, computed from Rippling workers alone (pure: no I/O).

One Dynamics worker stands for one person: a rehire under a new Rippling worker id (same user)
keeps the PersonnelNumber it had, so several Rippling workers may fold into one
``DesiredWorker``. Each Rippling worker contributes the employment of its current span (Rippling
keeps only the latest ``start_date``); the newest one drives the names, email and vendor.

A field Rippling withheld (``Worker.redacted``) or did not send is left out of the desired
state, so it is never written, let alone blanked.

Text is checked before it can reach F&O (issue 11: a 3,005-character name with U+202E, a NUL).
A name or e-mail holding a control, line-separator or bidi-override character is refused: the
person is skipped with a report naming the worker and the field, and nothing of theirs is
written (such a character would make the name display as something else). A name longer than
F&O's field is shortened to fit (``FIELD_SIZES``), and the plan reports it wherever it is
written; an e-mail that does not fit is left out (a shortened address would be another
address) and reported.

Before a person gets a new PersonnelNumber, ``link_existing`` looks for the F&O worker they
already are (a tenant that had its people before the connector): by work e-mail first, then by
the configured number rule. When F&O's number sequence assigns personnel numbers, a person not
yet in F&O carries a *pending* number (``is_pending_number``) until the create returns the real
one.
"""

import datetime as dt
import unicodedata
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


# F&O's sizes of the Workers text fields the sync writes, counted in UTF-16 code units as SQL
# Server's nvarchar counts them. The shared reference (``openapi-*.json``,
# ``entity-fields-from-metadata.txt``) carries no ``maxLength``, so the sizes are those of the
# extended data types behind the fields: FirstName, MiddleName and LastName are 25 each (the
# name parts of DirPersonName; Workers FirstName/LastName and VendorsV2 PersonFirstName/
# PersonLastName use them); an e-mail is a LogisticsElectronicAddressLocator, 255 (Workers
# PrimaryContactEmail, VendorsV2 PrimaryEmailAddress). The sandbox refuses longer values.
FIELD_SIZES: Mapping[str, int] = {
    "FirstName": 25,
    "MiddleName": 25,
    "LastName": 25,
    "PrimaryContactEmail": 255,
}
# Characters that change how text reads, refused: bidi embeddings, overrides, isolates and
# marks (U+202E turns "Smith" into "htimS" on screen). Control characters (Cc: NUL, tabs, line
# breaks), lone surrogates (Cs) and the line/paragraph separators (Zl, Zp) are refused too.
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})

# Rippling field names whose redaction hides what a Dynamics field is built from.
NAME_SOURCES = ("user",)
EMAIL_SOURCES = ("work_email",)
DEPARTMENT_SOURCES = ("department", "department_id")


@dataclass(frozen=True)
class Identities:
    """The audit store's worker map: Rippling worker id and user id to PersonnelNumber."""

    by_worker: Mapping[str, str] = field(default_factory=dict)
    by_user: Mapping[str, str] = field(default_factory=dict)
    # Contractors' vendor accounts, by worker id (recorded when the vendor was created).
    vendor_by_worker: Mapping[str, str] = field(default_factory=dict)


# A person F&O will number: the placeholder stands in for the PersonnelNumber (or vendor
# account) until the create's 201 answer gives the real one. No F&O number starts like this.
PENDING_PREFIX = "(new)"


def is_pending_number(number: str | None) -> bool:
    return bool(number) and str(number).startswith(PENDING_PREFIX)


@dataclass(frozen=True)
class Numbering:
    """Who numbers new records: False / absent means the connector sends its own scheme."""

    personnel_by_dynamics: bool = False
    vendor_by_dynamics: frozenset[str] = frozenset()  # companies (upper case), or ALL_COMPANIES

    def vendor_assigned(self, company: str) -> bool:
        return bool({company.upper(), ALL_COMPANIES} & self.vendor_by_dynamics)


ALL_COMPANIES = "*"


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
    account: str | None  # None: F&O's number sequence assigns it on create
    group: str
    on_hold: bool
    fields: Mapping[str, str] = field(default_factory=dict)
    fitted: Mapping[str, str] = field(default_factory=dict)  # as ``DesiredWorker.fitted``


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
    # Fields made to fit F&O: field -> what was done ("shortened from 40 to 25 characters",
    # "left out: ..."); the plan reports each one it writes (or, left out, leaves unwritten).
    fitted: Mapping[str, str] = field(default_factory=dict)

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


def rule_number(worker: Worker, settings: WorkforceSettings) -> str | None:
    """The configured scheme's PersonnelNumber for this worker; None without a number."""
    if worker.number is None or str(worker.number).strip() == "":
        return None
    return settings.personnel_number(worker.number)


def personnel_number_for(
    worker: Worker,
    identities: Identities,
    settings: WorkforceSettings,
    numbering: Numbering | None = None,
) -> str | None:
    """The map first (survives renames and renumbering), then the user (rehire under a new
    worker id), then the configured scheme, or a pending number when F&O assigns them."""
    known = identities.by_worker.get(worker.id)
    if known:
        return known
    if worker.user_id and worker.user_id in identities.by_user:
        return identities.by_user[worker.user_id]
    if numbering is not None and numbering.personnel_by_dynamics:
        # One placeholder per person: a rehire under a new worker id folds into it.
        return f"{PENDING_PREFIX}{worker.user_id or worker.id}"
    return rule_number(worker, settings)


def rippling_emails(worker: Worker) -> list[str]:
    """The worker's e-mails to match F&O's ``PrimaryContactEmail`` by, folded to lower case:
    the work e-mail, then the user's (withheld ones are not used)."""
    found: list[str] = []
    if not _withheld(worker, EMAIL_SOURCES) and worker.work_email:
        found.append(worker.work_email)
    if not _withheld(worker, NAME_SOURCES) and worker.user is not None:
        found += [e.value for e in worker.user.emails if e.value]
    out: list[str] = []
    for email in found:
        folded = email.strip().lower()
        if folded and folded not in out:
            out.append(folded)
    return out


@dataclass(frozen=True)
class Linking:
    """What ``link_existing`` found: the map extended by the links, and who is blocked."""

    identities: Identities
    links: Mapping[str, tuple[str, str]]  # worker id -> (PersonnelNumber, "e-mail" | "number")
    blocked: Mapping[str, Skipped]  # worker id -> why it is neither linked nor created


def link_existing(
    workers: Iterable[Worker],
    identities: Identities,
    settings: WorkforceSettings,
    fo_workers: Mapping[str, str | None],
) -> Linking:
    """Link Rippling workers the map does not know to the F&O workers they already are.

    ``fo_workers`` is PersonnelNumber -> work e-mail of the F&O workers that could match (all
    of them on a full sync). A worker is linked by e-mail when exactly one F&O worker has one
    of its e-mails, else by the number rule when that number exists; two F&O workers with the
    e-mail, an e-mail and a number pointing at different workers, or an F&O worker already
    linked to someone else are *blocked*: reported, never linked and never created.
    """
    by_upper = {number.upper(): number for number in fo_workers}
    by_email: dict[str, set[str]] = {}
    for number, email in fo_workers.items():
        if email:
            by_email.setdefault(email.strip().lower(), set()).add(number)
    taken = {number.upper(): worker_id for worker_id, number in identities.by_worker.items()}
    links: dict[str, tuple[str, str]] = {}
    blocked: dict[str, Skipped] = {}
    user_of: dict[str, str | None] = {}
    for worker in workers:
        if worker.id in identities.by_worker or worker.id in links or worker.id in blocked:
            continue
        if worker.user_id and worker.user_id in identities.by_user:
            continue
        if (worker.status or "").upper() not in settings.synced_statuses:
            continue
        user_of[worker.id] = worker.user_id
        emails = rippling_emails(worker) if settings.link_by_email else []
        matches = sorted({n for e in emails for n in by_email.get(e, ())})
        rule = rule_number(worker, settings)
        rule_hit = by_upper.get(rule.upper()) if rule else None
        if len(matches) > 1:
            blocked[worker.id] = Skipped(
                worker.id,
                f"ambiguous: Dynamics workers {', '.join(matches)} share the e-mail"
                f" {', '.join(emails)}; link the right one in the worker map",
            )
            continue
        if matches and rule_hit and rule_hit.upper() != matches[0].upper():
            blocked[worker.id] = Skipped(
                worker.id,
                f"ambiguous: the e-mail matches Dynamics worker {matches[0]} but the number"
                f" rule gives {rule_hit}; link the right one in the worker map",
            )
            continue
        if matches:
            links[worker.id] = (matches[0], "e-mail")
        elif rule_hit:
            links[worker.id] = (rule_hit, "number")
    # One F&O worker for two people (different users), or one the map gives someone else.
    claimed: dict[str, set[str | None]] = {}
    for worker_id, (number, _) in links.items():
        claimed.setdefault(number.upper(), set()).add(user_of[worker_id] or worker_id)
    for worker_id, (number, how) in list(links.items()):
        other = taken.get(number.upper())
        if other is not None or len(claimed[number.upper()]) > 1:
            del links[worker_id]
            who = f"Rippling worker {other}" if other else "another Rippling worker"
            blocked[worker_id] = Skipped(
                worker_id,
                f"ambiguous: Dynamics worker {number} (matched by {how}) is already linked to"
                f" {who}; link the right one in the worker map",
                number,
            )
    by_worker = dict(identities.by_worker)
    by_user = dict(identities.by_user)
    for worker_id, (number, _) in links.items():
        by_worker[worker_id] = number
        user = user_of[worker_id]
        if user and user not in by_user:
            by_user[user] = number
    extended = Identities(by_worker, by_user, identities.vendor_by_worker)
    return Linking(identities=extended, links=links, blocked=blocked)


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
        # Not Name: F&O computes it from first and last name and refuses it in a write.
    email = None if _withheld(worker, EMAIL_SOURCES) else (worker.work_email or "").strip()
    if email:
        values["PrimaryContactEmail"] = email
    return values


def refused_character(text: str) -> str | None:
    """The first character of ``text`` that must not be written to F&O, named (``U+202E
    RIGHT-TO-LEFT OVERRIDE``) so a report never has to echo it; None when there is none."""
    for char in text:
        if char in _BIDI_CONTROLS or unicodedata.category(char) in _REFUSED_CATEGORIES:
            return f"U+{ord(char):04X} {unicodedata.name(char, 'control character')}"
    return None


def utf16_length(text: str) -> int:
    """The length F&O's nvarchar columns count: UTF-16 code units (an emoji counts two)."""
    return len(text.encode("utf-16-le")) // 2


def fit(text: str, size: int) -> str:
    """``text`` cut to at most ``size`` UTF-16 code units (never inside a character), with
    the spaces a cut may leave at the end dropped."""
    out, used = [], 0
    for char in text:
        units = 2 if ord(char) > 0xFFFF else 1
        if used + units > size:
            break
        out.append(char)
        used += units
    return "".join(out).rstrip()


@dataclass(frozen=True)
class CheckedFields:
    """A worker's Workers fields, checked: ``refused`` says why none may be written."""

    values: dict[str, str]
    fitted: dict[str, str]
    refused: str | None = None


def checked_fields(worker: Worker) -> CheckedFields:
    """``worker_fields``, checked against what F&O may hold (the module docstring says how)."""
    values: dict[str, str] = {}
    fitted: dict[str, str] = {}
    for name, value in worker_fields(worker).items():
        bad = refused_character(value)
        if bad:
            return CheckedFields(
                {},
                {},
                f"Rippling worker {worker.id}: {name} contains {bad}; the worker is not"
                " written until it is corrected in Rippling",
            )
        size = FIELD_SIZES.get(name)
        length = utf16_length(value)
        if size is None or length <= size:
            values[name] = value
        elif name == "PrimaryContactEmail":
            fitted[name] = f"left out: {length} characters, Dynamics holds at most {size}"
        else:
            values[name] = fit(value, size)
            fitted[name] = f"shortened from {length} to {size} characters (Dynamics' size)"
    return CheckedFields(values, fitted)


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
    numbering: Numbering | None = None,
) -> tuple[str, DesiredEmployment, Worker] | Skipped:
    if (worker.status or "").upper() not in settings.synced_statuses:
        return Skipped(worker.id, f"status {worker.status or 'unknown'} is not synced")
    if "legal_entity_id" in worker.redacted:
        return Skipped(worker.id, "legal entity withheld by Rippling: cannot place the worker")
    company = mapping.company_for_legal_entity(worker.legal_entity_id)
    if company is None:
        return Skipped(worker.id, f"legal entity {worker.legal_entity_id} is not mapped")
    number = personnel_number_for(worker, identities, settings, numbering)
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


def _vendor_account(
    number: str,
    primary: Worker,
    items: list[tuple[DesiredEmployment, Worker]],
    identities: Identities,
    settings: WorkforceSettings,
    numbering: Numbering,
) -> str | None:
    """The account recorded for the person, else the template's, else None: F&O assigns it.

    With a pending personnel number the template's account is pending too; ``apply`` puts the
    real number in once F&O has assigned it.
    """
    for _, worker in sorted(items, key=lambda item: item[1].id != primary.id):
        recorded = identities.vendor_by_worker.get(worker.id)
        if recorded:
            return recorded
    company = next(e for e, w in items if w.id == primary.id).company
    if numbering.vendor_assigned(company):
        return None
    return settings.vendor_account(number, primary.number)


def build_desired(
    workers: Iterable[Worker],
    mapping: PayrollMapping,
    settings: WorkforceSettings,
    identities: Identities | None = None,
    default_format: DimensionFormat | None = None,
    *,
    numbering: Numbering | None = None,
    blocked: Mapping[str, Skipped] | None = None,
) -> DesiredState:
    """What Dynamics should hold; employment and vendor dimensions only with ``default_format``
    (F&O's active default dimension format), left as they are without it.

    ``identities`` should already hold the links of ``link_existing``; ``blocked`` (its
    ambiguous matches) are skipped with its reason. ``numbering`` says where F&O assigns
    personnel numbers or vendor accounts (pending numbers, vendor accounts left None).
    """
    identities = identities or Identities()
    numbering = numbering or Numbering()
    blocked = blocked or {}
    grouped: dict[str, list[tuple[DesiredEmployment, Worker]]] = {}
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for worker in workers:
        if worker.id in seen:
            continue
        seen.add(worker.id)
        if worker.id in blocked:
            skipped.append(blocked[worker.id])
            continue
        outcome = _one(worker, mapping, settings, identities, default_format, numbering)
        if isinstance(outcome, Skipped):
            skipped.append(outcome)
            continue
        number, employment, worker = outcome
        grouped.setdefault(number, []).append((employment, worker))

    desired: dict[str, DesiredWorker] = {}
    for number, items in grouped.items():
        items.sort(key=lambda item: item[0].start)
        primary_employment, primary = max(items, key=_primary_sort_key)
        checked = checked_fields(primary)
        if checked.refused is not None:
            skipped.append(Skipped(primary.id, checked.refused, number))
            continue
        fields = checked.values
        vendor = None
        if primary_employment.worker_type == WorkerType.CONTRACTOR:
            vendor_names = (
                ("FirstName", "PersonFirstName"),
                ("LastName", "PersonLastName"),
                ("PrimaryContactEmail", "PrimaryEmailAddress"),
            )
            vendor_fields = {
                target: fields[source] for source, target in vendor_names if source in fields
            }
            if primary_employment.dimension is not None:
                vendor_fields["DefaultLedgerDimensionDisplayValue"] = primary_employment.dimension
            vendor = DesiredVendor(
                company=primary_employment.company,
                account=_vendor_account(number, primary, items, identities, settings, numbering),
                group=settings.vendor_group,
                on_hold=primary_employment.end is not None,
                fields=vendor_fields,
                fitted={
                    target: checked.fitted[source]
                    for source, target in vendor_names
                    if source in checked.fitted
                },
            )
        desired[number] = DesiredWorker(
            personnel_number=number,
            primary_worker_id=primary.id,
            identities=tuple(WorkerIdentity(w.id, number, w.user_id) for _, w in items),
            worker_type=primary_employment.worker_type,
            fields=fields,
            original_hire=items[0][0].start,
            employments=tuple(e for e, _ in items),
            vendor=vendor,
            redacted=tuple(sorted({name for _, w in items for name in w.redacted})),
            fitted=checked.fitted,
        )
    return DesiredState(workers=desired, skipped=tuple(skipped))
