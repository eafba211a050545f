"""Typed Rippling v2 records (pydantic v2), shaped after the published spec.

Unknown fields are kept, not rejected (``extra="allow"``): Rippling adds fields over time and a
reader must not break on them. Money is ``Decimal`` parsed from Rippling's decimal strings, never
float. Each record carries ``redacted``: the field names the token was not allowed to read for
this record (from the page's ``__meta.redacted_fields``), so a withheld compensation is known to
be absent, never mistaken for zero.
"""

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

ZERO = Decimal("0.00")


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None  # missing, not zero: payroll/to_ledger.py names the record and field
    if isinstance(value, float):
        raise ValueError("money must arrive as a decimal string, not a float")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a decimal amount: {value!r}") from None


# A money amount: Rippling sends decimal strings; a float is refused rather than rounded, and a
# null stays None (the spec marks no amount as optional-and-meaning-zero).
Amount = Annotated[Decimal | None, BeforeValidator(_decimal)]


class RipplingModel(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    # Not a Rippling field: which fields of this record the token may not read.
    redacted: tuple[str, ...] = ()


class Record(RipplingModel):
    id: str
    created_at: str | None = None
    updated_at: str | None = None

    @property
    def updated(self) -> dt.datetime | None:
        return parse_timestamp(self.updated_at) if self.updated_at else None


class RedactedField(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    name: str
    reason: str | None = None


class Money(BaseModel):
    """Rippling's ``{currency_type, value}``."""

    model_config = ConfigDict(extra="allow", frozen=True)
    currency_type: str | None = None
    value: Decimal | None = None


class PersonName(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    given_name: str | None = None
    family_name: str | None = None
    preferred_given_name: str | None = None
    preferred_family_name: str | None = None
    formatted: str | None = None


class Email(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    value: str | None = None
    type: str | None = None
    display: str | None = None


class User(Record):
    display_name: str | None = None
    name: PersonName | None = None
    emails: list[Email] = Field(default_factory=list)
    number: str | None = None
    active: bool | None = None


class Country(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    code: str | None = None


class LegalEntity(Record):
    legal_name: str | None = None
    tax_identifier: str | None = None
    country: Country | None = None
    entity_level: str | None = None
    parent_id: str | None = None
    company_id: str | None = None


class CompanyLegalEntity(Record):
    legal_name: str | None = None
    country_code: str | None = None
    is_archived: bool | None = None
    tax_identifier: str | None = None


class Department(Record):
    name: str | None = None
    parent_id: str | None = None
    reference_code: str | None = None

    @property
    def dimension_key(self) -> str:
        """The natural key for a dimension mapping: the reference code, else the id."""
        return self.reference_code or self.id


class EmploymentType(Record):
    label: str | None = None
    name: str | None = None
    type: str | None = None  # CONTRACTOR | EMPLOYEE
    compensation_time_period: str | None = None  # HOURLY | SALARIED


class Entitlement(RipplingModel):
    """``EntitlementModel``: a product enabled for the company (``GET /entitlements/``)."""

    id: str
    description: str | None = None
    display_name: str | None = None


class JobDimension(Record):
    name: str | None = None
    external_id: str | None = None


class JobCode(Record):
    name: str | None = None
    job_dimension_id: str | None = None
    external_id: str | None = None
    department_id: str | None = None
    work_location_id: str | None = None
    is_archived: bool | None = None


class JobAssignment(Record):
    worker_id: str
    job_code_id: str | None = None


class Compensation(Record):
    worker_id: str | None = None
    annual_compensation: Money | None = None
    annual_salary_equivalent: Money | None = None
    hourly_wage: Money | None = None
    payment_type: str | None = None
    salary_effective_date: str | None = None


class TerminationDetails(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    type: str | None = None
    reason: str | None = None


class Worker(Record):
    user_id: str | None = None
    user: User | None = None
    legal_entity_id: str | None = None
    legal_entity: LegalEntity | None = None
    department_id: str | None = None
    department: Department | None = None
    employment_type_id: str | None = None
    employment_type: EmploymentType | None = None
    compensation_id: str | None = None
    compensation: Compensation | None = None
    manager_id: str | None = None
    level_id: str | None = None
    status: str | None = None  # INIT | HIRED | ACCEPTED | ACTIVE | TERMINATED
    start_date: str | None = None
    end_date: str | None = None
    number: int | str | None = None
    work_email: str | None = None
    title: str | None = None
    country: str | None = None
    termination_details: TerminationDetails | None = None

    @property
    def compensation_redacted(self) -> bool:
        return "compensation" in self.redacted


class V1Employee(RipplingModel):
    """A v1 ``Employee`` (camelCase), only the fields that lead to a v2 worker.

    ``id`` is the employee id webhooks carry. ``workEmail`` is in the v1 schema; ``userId`` is
    not (the schema has no user link), but is read when Rippling sends it. Unknown fields are
    kept, as everywhere.
    """

    id: str
    work_email: str | None = Field(default=None, alias="workEmail")
    user_id: str | None = Field(default=None, alias="userId")
    employee_number: int | str | None = Field(default=None, alias="employeeNumber")
    role_state: str | None = Field(default=None, alias="roleState")


class PayPeriod(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    start_date: dt.date
    end_date: dt.date
    pay_frequency: str | None = None


class TimeSplitRow(BaseModel):
    """``Split``: a percentage over one or more job codes. The spec types the percentage as a
    plain string (its description: a decimal string of precision 2), so it is kept as sent and
    parsed where it is used (``payroll/time_sources.py``), which names the record if it is not
    a number."""

    model_config = ConfigDict(extra="allow", frozen=True)
    split_percentage: str | None = None
    job_code_ids: tuple[str, ...] = ()


class WorkerTimeSplit(Record):
    """``WorkerTimeSplit``: a worker's hard-coded time split across job codes; ``splits`` is
    empty when ``is_enabled`` is false, and the rows sum to 100.00 when it is true."""

    worker_id: str
    is_enabled: bool | None = None
    splits: tuple[TimeSplitRow, ...] = ()
    job_codes_id: tuple[str, ...] = ()


class JobShift(BaseModel):
    """``JobShift``: the part of a time entry worked on a job code combination."""

    model_config = ConfigDict(extra="allow", frozen=True)
    start_time: str | None = None
    end_time: str | None = None
    job_codes_id: tuple[str, ...] = ()
    is_hours_only_input: bool | None = None


class TimePayPeriod(BaseModel):
    """``PayPeriod`` as a time entry carries it: the spec requires none of its fields."""

    model_config = ConfigDict(extra="allow", frozen=True)
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    pay_schedule_id: str | None = None


class TimeEntry(Record):
    """``TimeEntry``: hours a worker logged, split into job shifts (spec: ``status`` is DRAFT,
    APPROVED, PAID or FINALIZED)."""

    worker_id: str
    start_time: str | None = None
    end_time: str | None = None
    job_shifts: tuple[JobShift, ...] = ()
    status: str | None = None
    time_card_id: str | None = None
    pay_period: TimePayPeriod | None = None


class PayrollRun(Record):
    run_state: str | None = None  # DRAFT | APPROVED | PAID | FAILED | CLOSED
    run_type: str | None = None  # REGULAR | OFF_CYCLE | CORRECTION | TERMINATION | ...
    check_date: dt.date | None = None
    debit_date: dt.date | None = None
    title: str | None = None
    approval_deadline: str | None = None
    approved_at: str | None = None
    paid_at: str | None = None
    lock_deadline: str | None = None
    pay_period: PayPeriod | None = None
    company_entity_id: str | None = None
    country_code: str | None = None
    payment_type: str | None = None


class Earning(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    earning_code: str | None = None
    earning_category: str | None = None
    display_name: str | None = None
    amount: Amount
    hours: Decimal | None = None
    rate: Decimal | None = None


class Tax(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    tax_code: str | None = None
    display_name: str | None = None
    amount: Amount
    paid_by: str | None = None  # EMPLOYEE | EMPLOYER


class Deduction(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    deduction_code: str | None = None
    display_name: str | None = None
    employee_amount: Amount = ZERO
    employer_amount: Amount = ZERO


class Garnishment(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    garnishment_code: str | None = None
    amount: Amount


class PayrollSummary(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    employer_taxes: Amount = ZERO
    employee_taxes: Amount = ZERO
    employee_deductions: Amount = ZERO
    employer_contributions: Amount = ZERO
    total_garnishments: Amount = ZERO


class WorkerPayrollRecord(RipplingModel):
    id: str
    run_id: str
    worker_id: str
    currency: str
    country_code: str | None = None
    gross_pay: Amount
    net_pay: Amount
    summary: PayrollSummary = Field(default_factory=PayrollSummary)
    earnings: list[Earning] = Field(default_factory=list)
    taxes: list[Tax] = Field(default_factory=list)
    deductions: list[Deduction] = Field(default_factory=list)
    garnishments: list[Garnishment] = Field(default_factory=list)


def parse_timestamp(value: str) -> dt.datetime:
    """Rippling timestamps, with or without offset ('Z' or none means UTC)."""
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
