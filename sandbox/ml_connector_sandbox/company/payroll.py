"""Worker payroll records that add up, built from a worker's pay profile.

Shared by the dataset generator and the Rippling stand-in (whose admin endpoint creates new
runs), so a run created during a test looks exactly like a seeded one. Net pay is always
computed from the line items, never plugged: gross − employee taxes − employee deductions −
garnishments, each summary field the sum of its items, all in ``Decimal`` rounded half-up to
cents.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ml_connector_sandbox.company import catalog

CENT = Decimal("0.01")
QUARTER = Decimal("0.25")
ZERO = Decimal("0.00")
PERIODS_PER_YEAR = 26
HOURS_PER_PERIOD = Decimal(80)


def cents(value: Decimal) -> Decimal:
    """Round to cents the way payroll does (half up), never banker's rounding."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Decimal) -> str:
    """Money as the API shows it: a decimal string with two places."""
    return str(cents(value))


def _rand_money(rng: random.Random, low: int, high: int) -> Decimal:
    """A random amount between two whole units, in cents, without touching floats."""
    return Decimal(rng.randint(low * 100, high * 100)) / 100


@dataclass(frozen=True)
class PayProfile:
    """What payroll needs to know about a worker; derivable from the Rippling records alone."""

    worker_id: str
    country: str
    currency: str
    pay_kind: str  # SALARIED | HOURLY | CONTRACTOR
    annual_salary: Decimal  # for HOURLY/CONTRACTOR: rate * 2080
    hourly_rate: Decimal
    commission_eligible: bool
    retirement_rate: Decimal  # employee share of gross
    medical: bool
    garnishment: Decimal | None
    stipend: bool
    part_time: bool


def income_tax_rate(country: str, annual: Decimal) -> Decimal:
    for upper, rate in catalog.INCOME_TAX_BANDS[country]:
        if upper is None or annual < upper:
            return rate
    raise AssertionError("bands end with an open band")  # pragma: no cover


def profile_for(
    *,
    worker: dict[str, Any],
    compensation: dict[str, Any] | None,
    employment_type: dict[str, Any],
    country: str,
    currency: str,
    commission_eligible: bool,
) -> PayProfile:
    """Build the profile; benefit choices follow from the worker number so they are stable."""
    number = int(worker.get("number") or 0)
    if employment_type["type"] == "CONTRACTOR":
        kind = "CONTRACTOR"
    elif employment_type.get("compensation_time_period") == "HOURLY":
        kind = "HOURLY"
    else:
        kind = "SALARIED"
    hourly = Decimal("0")
    annual = Decimal("0")
    if compensation:
        if compensation.get("hourly_wage"):
            hourly = Decimal(str(compensation["hourly_wage"]["value"]))
        if compensation.get("annual_compensation"):
            annual = Decimal(str(compensation["annual_compensation"]["value"]))
    if annual == 0:
        annual = cents(hourly * 2080)
    if hourly == 0:
        hourly = cents(annual / 2080)
    employee = kind != "CONTRACTOR"
    return PayProfile(
        worker_id=worker["id"],
        country=country,
        currency=currency,
        pay_kind=kind,
        annual_salary=annual,
        hourly_rate=hourly,
        commission_eligible=employee and commission_eligible,
        retirement_rate=Decimal(number * 7 % 9) / 100 if employee else Decimal(0),
        medical=employee and country == "US" and number % 5 != 0,
        garnishment=Decimal(150 + (number % 4) * 75) if employee and number % 29 == 7 else None,
        stipend=employee and number % 10 == 3,
        part_time=employment_type.get("amount_worked") == "PART-TIME",
    )


def _earning(
    code: str,
    category: str,
    name: str,
    amount: Decimal,
    hours: Decimal | None = None,
    rate: Decimal | None = None,
) -> dict[str, Any]:
    return {
        "earning_code": code,
        "earning_category": category,
        "display_name": name,
        "amount": money(amount),
        "hours": None if hours is None else str(hours),
        "rate": None if rate is None else money(rate),
        "time_labels": [],
    }


def regular_earnings(p: PayProfile, fraction: Decimal, rng: random.Random) -> list[dict[str, Any]]:
    """Earnings of a regular run; ``fraction`` is the share of the period spent employed."""
    out: list[dict[str, Any]] = []
    if p.pay_kind == "CONTRACTOR":
        hours = (Decimal(rng.randint(160, 320)) * QUARTER * fraction).quantize(QUARTER)
        hours = max(hours, QUARTER)
        out.append(
            _earning(
                "contractor_payment",
                "CONTRACTOR_PAYMENT",
                "Contractor payment",
                cents(hours * p.hourly_rate),
                hours,
                p.hourly_rate,
            )
        )
        return out
    if p.pay_kind == "SALARIED":
        hours = (HOURS_PER_PERIOD * fraction).quantize(QUARTER)
        period_pay = cents(p.annual_salary / PERIODS_PER_YEAR * fraction)
        pto_hours = Decimal(rng.choice((8, 16, 24))) if rng.random() < 0.15 else Decimal(0)
        pto_hours = min(pto_hours, hours)
        pto = min(cents(pto_hours * p.hourly_rate), period_pay)
        out.append(
            _earning(
                "regular_salary",
                "SALARY",
                "Salary",
                period_pay - pto,
                hours - pto_hours,
                p.hourly_rate,
            )
        )
        if pto_hours:
            out.append(_earning("pto", "PTO", "Paid time off", pto, pto_hours, p.hourly_rate))
    else:
        full = 160 if p.part_time else 280
        hours = (Decimal(rng.randint(full, full + 40)) * QUARTER * fraction).quantize(QUARTER)
        hours = max(hours, QUARTER)
        out.append(
            _earning(
                "regular_hourly",
                "HOURLY",
                "Regular hours",
                cents(hours * p.hourly_rate),
                hours,
                p.hourly_rate,
            )
        )
        if rng.random() < 0.25:
            ot_hours = Decimal(rng.randint(4, 48)) * QUARTER
            ot_rate = cents(p.hourly_rate * Decimal("1.5"))
            out.append(
                _earning(
                    "overtime", "OVERTIME", "Overtime", cents(ot_hours * ot_rate), ot_hours, ot_rate
                )
            )
        if rng.random() < 0.1:
            pto_hours = Decimal(8)
            out.append(
                _earning(
                    "pto",
                    "PTO",
                    "Paid time off",
                    cents(pto_hours * p.hourly_rate),
                    pto_hours,
                    p.hourly_rate,
                )
            )
    if p.commission_eligible and rng.random() < 0.6:
        out.append(_earning("commission", "COMMISSION", "Commission", _rand_money(rng, 150, 4500)))
    if p.stipend:
        out.append(
            _earning("remote_work_stipend", "STIPEND", "Remote work stipend", Decimal("50.00"))
        )
    return out


def bonus_earnings(p: PayProfile, rng: random.Random) -> list[dict[str, Any]]:
    """Earnings of an off-cycle bonus run: a bonus of 2-8% of annual pay."""
    amount = cents(p.annual_salary * Decimal(rng.randint(2, 8)) / 100)
    return [_earning("bonus", "BONUS", "Bonus", max(amount, Decimal("100.00")))]


def _taxes(p: PayProfile, gross: Decimal, supplemental: bool) -> list[dict[str, Any]]:
    income_rate = (
        catalog.SUPPLEMENTAL_TAX_RATE[p.country]
        if supplemental
        else income_tax_rate(p.country, p.annual_salary)
    )
    return [
        {
            "tax_code": rule.code,
            "display_name": rule.display_name,
            "amount": money(gross * (income_rate if rule.rate is None else rule.rate)),
            "paid_by": rule.paid_by,
        }
        for rule in catalog.TAX_RULES[p.country]
    ]


def _deductions(p: PayProfile, gross: Decimal, regular: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    code, name = catalog.RETIREMENT[p.country]
    if p.retirement_rate or p.country != "US":
        employee_rate = (
            p.retirement_rate if p.country == "US" else max(p.retirement_rate, Decimal("0.02"))
        )
        employer_rate = (
            min(employee_rate, Decimal("0.06")) / 2 if p.country == "US" else (Decimal("0.03"))
        )
        out.append(
            {
                "deduction_code": code,
                "display_name": name,
                "employee_amount": money(gross * employee_rate),
                "employer_amount": money(gross * employer_rate),
            }
        )
    if regular and p.medical:
        out.append(
            {
                "deduction_code": "MEDICAL",
                "display_name": "Medical",
                "employee_amount": "120.00",
                "employer_amount": "450.00",
            }
        )
        out.append(
            {
                "deduction_code": "DENTAL",
                "display_name": "Dental",
                "employee_amount": "12.50",
                "employer_amount": "30.00",
            }
        )
    return out


def _sum(items: list[dict[str, Any]], key: str) -> Decimal:
    return sum((Decimal(i[key]) for i in items), ZERO)


def build_record(
    profile: PayProfile,
    *,
    record_id: str,
    run_id: str,
    earnings: list[dict[str, Any]],
    regular: bool,
) -> dict[str, Any]:
    """Assemble a WorkerPayrollRecord whose totals are derived from its own line items."""
    gross = _sum(earnings, "amount")
    employee = profile.pay_kind != "CONTRACTOR"
    taxes = _taxes(profile, gross, supplemental=not regular) if employee else []
    deductions = _deductions(profile, gross, regular) if employee else []
    garnishments: list[dict[str, Any]] = []
    if employee and regular and profile.garnishment:
        garnishments.append(
            {
                "garnishment_code": catalog.GARNISHMENT_CODE[profile.country],
                "amount": money(min(profile.garnishment, gross * Decimal("0.10"))),
            }
        )
    employee_taxes = sum((Decimal(t["amount"]) for t in taxes if t["paid_by"] == "EMPLOYEE"), ZERO)
    employer_taxes = sum((Decimal(t["amount"]) for t in taxes if t["paid_by"] == "EMPLOYER"), ZERO)
    net = (
        gross - employee_taxes - _sum(deductions, "employee_amount") - _sum(garnishments, "amount")
    )
    if net < 0:
        # A short stub (hired on the last day) cannot carry flat benefits: drop them.
        deductions = [d for d in deductions if d["deduction_code"] not in ("MEDICAL", "DENTAL")]
        garnishments = []
        net = gross - employee_taxes - _sum(deductions, "employee_amount")
    return {
        "id": record_id,
        "run_id": run_id,
        "worker_id": profile.worker_id,
        "currency": profile.currency,
        "country_code": profile.country,
        "net_pay": money(net),
        "gross_pay": money(gross),
        "summary": {
            "employer_taxes": money(employer_taxes),
            "employee_taxes": money(employee_taxes),
            "employee_deductions": money(_sum(deductions, "employee_amount")),
            "employer_contributions": money(_sum(deductions, "employer_amount")),
            "total_garnishments": money(_sum(garnishments, "amount")),
        },
        "earnings": earnings,
        "taxes": taxes,
        "deductions": deductions,
        "garnishments": garnishments,
    }


def record_problems(record: dict[str, Any]) -> list[str]:
    """Every way a record breaks the payroll identities; empty for a good record."""
    problems: list[str] = []
    gross = Decimal(record["gross_pay"])
    net = Decimal(record["net_pay"])
    s = {k: Decimal(v) for k, v in record["summary"].items()}
    taxes = record["taxes"]
    expected = {
        "employee_taxes": sum(
            (Decimal(t["amount"]) for t in taxes if t["paid_by"] == "EMPLOYEE"), ZERO
        ),
        "employer_taxes": sum(
            (Decimal(t["amount"]) for t in taxes if t["paid_by"] == "EMPLOYER"), ZERO
        ),
        "employee_deductions": _sum(record["deductions"], "employee_amount"),
        "employer_contributions": _sum(record["deductions"], "employer_amount"),
        "total_garnishments": _sum(record["garnishments"], "amount"),
    }
    for key, value in expected.items():
        if s[key] != value:
            problems.append(f"summary.{key} {s[key]} != sum of items {value}")
    if _sum(record["earnings"], "amount") != gross:
        problems.append(f"earnings sum {_sum(record['earnings'], 'amount')} != gross_pay {gross}")
    identity = net + s["employee_taxes"] + s["employee_deductions"] + s["total_garnishments"]
    if identity != gross:
        problems.append(
            f"gross_pay {gross} != net + employee taxes + deductions + garnishments {identity}"
        )
    return problems
