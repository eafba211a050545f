"""What the ledger rules read: a payroll run, its worker records, the worker behind each one.

The rules are pure and outlive any one source: they hold just the fields they use, as frozen
values with money in ``Decimal``. The Rippling client's models are turned into these at the
boundary (``ml_connector_dagster.payroll.to_ledger``), so a change in Rippling's wire format
touches one converter, never the accounting.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class PayRun:
    """The facts of a payroll run that identify and date its journal."""

    id: str
    check_date: dt.date | None = None  # the settlement's TransDate
    period_end: dt.date | None = None  # the accrual's TransDate (it reverses the day after)


@dataclass(frozen=True)
class EarningLine:
    """One earning: its account is found by code, then category, then the mapping's default."""

    amount: Decimal
    code: str | None = None
    category: str | None = None
    display_name: str | None = None


@dataclass(frozen=True)
class TaxLine:
    """One tax; only an employer-paid tax is also an expense (every tax is payable)."""

    amount: Decimal
    code: str | None = None
    employer_paid: bool = False


@dataclass(frozen=True)
class DeductionLine:
    """One benefit or deduction: the employee's share and the employer's contribution."""

    code: str | None = None
    employee_amount: Decimal = ZERO
    employer_amount: Decimal = ZERO


@dataclass(frozen=True)
class ReportedTotals:
    """The payroll provider's own summary of a record: what reconciliation compares with,
    kept apart from the line items so the check can fail when they disagree."""

    employer_taxes: Decimal = ZERO
    employee_taxes: Decimal = ZERO
    employee_deductions: Decimal = ZERO
    employer_contributions: Decimal = ZERO
    total_garnishments: Decimal = ZERO


@dataclass(frozen=True)
class MissingAmount:
    """An amount the source did not give (null, left out, redacted, not a finite number).

    Its place in the record holds a zero placeholder so the record keeps its shape, and the
    ``source_sane`` check refuses the record by this entry: a missing employer tax is unknown,
    not zero, and posting it as zero would understate the worker's cost without a word.
    """

    field: str  # the path in the source record: "summary.employer_taxes", "taxes[2].amount"
    reason: str = "null or absent"


@dataclass(frozen=True)
class PayrollRecord:
    """One worker's pay in one run, as reported (gross and net) and itemised (the lines).

    ``missing`` lists the amounts the source did not give; their values here are zero
    placeholders that no check lets through (``ledger.checks.check_source_record``).
    """

    id: str
    worker_id: str
    currency: str
    gross_pay: Decimal
    net_pay: Decimal
    summary: ReportedTotals = ReportedTotals()
    earnings: tuple[EarningLine, ...] = ()
    taxes: tuple[TaxLine, ...] = ()
    deductions: tuple[DeductionLine, ...] = ()
    garnishments: tuple[Decimal, ...] = ()
    missing: tuple[MissingAmount, ...] = ()


@dataclass(frozen=True)
class JobShare:
    """One share of a worker's time: a job code combination and its weight.

    ``job_codes`` are the mapping's keys (external id, else Rippling id) of the combination;
    ``tie_key`` the Rippling ids that decide a remainder tie, lower first (the job-assignment
    id for an assignment, the job code ids for hours and split rows: ``accounting.md``).
    """

    job_codes: tuple[str, ...]
    weight: Decimal
    tie_key: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorkerContext:
    """What the ledger needs to know about a worker to place its cost."""

    worker_id: str
    number: str | None = None
    legal_entity_id: str | None = None
    department_key: str | None = None  # reference_code, else the Rippling id
    job_codes: tuple[tuple[str, int], ...] = ()  # (external_id or id, weight)
    # Rippling's name of the department, for finance's eyes only (review tables, check causes):
    # the mapping keys on ``department_key``.
    department_name: str | None = None
    # The Rippling job-assignment id behind each of ``job_codes`` (same order): remainder
    # cents go to the lower id on a tie (``accounting.md``). Empty: ties follow list order.
    job_assignment_ids: tuple[str, ...] = ()
    # The worker's enabled Rippling time split (percentages per job code combination); empty
    # when it has none or it is disabled (``ledger.time_allocation``).
    time_split: tuple[JobShare, ...] = ()
