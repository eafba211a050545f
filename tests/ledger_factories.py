"""Builders for ledger tests: a mapping, and payroll records that obey Rippling's identities.

``run`` and ``record`` build the ledger's own inputs (what the pure rules read);
``rippling_run`` and ``rippling_record`` build the same things as Rippling sends them, for
snapshots and the boundary conversion.
"""

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from ml_connector_dagster.config.mapping import PayrollMapping, parse_mapping
from ml_connector_dagster.ledger.inputs import (
    DeductionLine,
    EarningLine,
    PayrollRecord,
    PayRun,
    ReportedTotals,
    TaxLine,
)
from ml_connector_dagster.rippling.models import PayrollRun, WorkerPayrollRecord

MAPPING_YAML = """\
version: 1
connection: acme
dimension_format:
  dimensions: [MainAccount, BusinessUnit, Department, CostCenter]
  delimiter: "-"
journal:
  name: PAYROLL
legal_entities:
  - company: USMF
    currency: USD
    rippling_legal_entity_ids: [le_us]
    rippling_company_entity_ids: [cle_us]
    dimensions: {BusinessUnit: "001"}
accounts:
  earnings:
    by_code: {signing_bonus: "600135"}
    by_category: {SALARY: "600100", HOURLY: "600110", OVERTIME: "600120", BONUS: "600130"}
    default: "600190"
  employer_taxes: "600200"
  employer_benefits: "600300"
  taxes_payable: "220100"
  deductions_payable: "220200"
  garnishments_payable: "220300"
  net_pay_clearing: "220400"
departments:
  D100: {Department: D100}
  D200: {Department: D200, CostCenter: CCGEN}
job_codes:
  CC-ENG: {CostCenter: CCENG}
  CC-OPS: {CostCenter: CCOPS}
workers:
  wkr_special: {Department: D900}
"""


def mapping(text: str = MAPPING_YAML) -> PayrollMapping:
    return parse_mapping(text, source="test-mapping.yaml")


def rippling_run(run_id: str = "run_1", check: dt.date = dt.date(2026, 11, 20)) -> PayrollRun:
    """A PAID run as Rippling sends it (for snapshots and the boundary conversion)."""
    return PayrollRun.model_validate(
        {
            "id": run_id,
            "run_state": "PAID",
            "run_type": "REGULAR",
            "check_date": check.isoformat(),
            "company_entity_id": "cle_us",
            "pay_period": {
                "start_date": "2026-11-02",
                "end_date": "2026-11-15",
                "pay_frequency": "BI_WEEKLY",
            },
        }
    )


def period_run(run_id: str, period: str, state: str = "PAID", entity: str = "cle_us") -> PayrollRun:
    """A run as Rippling lists it, of the pay period ending ``period`` (check date 5 days
    later) for the company entity ``entity``, in ``state``: for the sensor's rules."""
    end = dt.date.fromisoformat(period)
    return PayrollRun.model_validate(
        {
            "id": run_id,
            "run_state": state,
            "check_date": (end + dt.timedelta(days=5)).isoformat(),
            "company_entity_id": entity,
            "pay_period": {
                "start_date": (end - dt.timedelta(days=13)).isoformat(),
                "end_date": period,
            },
        }
    )


def run(run_id: str = "run_1", check: dt.date = dt.date(2026, 11, 20)) -> PayRun:
    """The same run as the ledger reads it."""
    return PayRun(id=run_id, check_date=check, period_end=dt.date(2026, 11, 15))


def _totals(
    ee_taxes: Sequence[str],
    er_taxes: Sequence[str],
    deductions: Sequence[tuple[str, str]],
    garnishments: Sequence[str],
) -> dict[str, Decimal]:
    d = Decimal
    return {
        "employee_taxes": sum((d(a) for a in ee_taxes), d("0.00")),
        "employer_taxes": sum((d(a) for a in er_taxes), d("0.00")),
        "employee_deductions": sum((d(e) for e, _ in deductions), d("0.00")),
        "employer_contributions": sum((d(r) for _, r in deductions), d("0.00")),
        "total_garnishments": sum((d(a) for a in garnishments), d("0.00")),
    }


def record(
    record_id: str,
    worker_id: str,
    earnings: Sequence[tuple[str, str]],
    ee_taxes: Sequence[str] = (),
    er_taxes: Sequence[str] = (),
    deductions: Sequence[tuple[str, str]] = (),
    garnishments: Sequence[str] = (),
    currency: str = "USD",
) -> PayrollRecord:
    """A ledger record whose net pay is derived, so it balances like Rippling's."""
    d = Decimal
    totals = _totals(ee_taxes, er_taxes, deductions, garnishments)
    gross = sum((d(a) for _, a in earnings), d("0.00"))
    net = gross - totals["employee_taxes"] - totals["employee_deductions"]
    net -= totals["total_garnishments"]
    return PayrollRecord(
        id=record_id,
        worker_id=worker_id,
        currency=currency,
        gross_pay=gross,
        net_pay=net,
        summary=ReportedTotals(**totals),
        earnings=tuple(EarningLine(d(a), code=c.lower(), category=c) for c, a in earnings),
        taxes=tuple(TaxLine(d(a), code=f"EE{i}") for i, a in enumerate(ee_taxes))
        + tuple(TaxLine(d(a), code=f"ER{i}", employer_paid=True) for i, a in enumerate(er_taxes)),
        deductions=tuple(DeductionLine(f"D{i}", d(e), d(r)) for i, (e, r) in enumerate(deductions)),
        garnishments=tuple(d(a) for a in garnishments),
    )


def rippling_record(
    record_id: str,
    worker_id: str,
    earnings: Sequence[tuple[str, str]],
    ee_taxes: Sequence[str] = (),
    er_taxes: Sequence[str] = (),
    deductions: Sequence[tuple[str, str]] = (),
    garnishments: Sequence[str] = (),
    currency: str = "USD",
) -> WorkerPayrollRecord:
    """The same record as Rippling sends it (decimal strings, ``paid_by``)."""
    same = record(
        record_id, worker_id, earnings, ee_taxes, er_taxes, deductions, garnishments, currency
    )
    return WorkerPayrollRecord.model_validate(
        {
            "id": record_id,
            "run_id": "run_1",
            "worker_id": worker_id,
            "currency": currency,
            "gross_pay": str(same.gross_pay),
            "net_pay": str(same.net_pay),
            "summary": {
                key: str(value)
                for key, value in _totals(ee_taxes, er_taxes, deductions, garnishments).items()
            },
            "earnings": [
                {"earning_category": c, "earning_code": c.lower(), "amount": a} for c, a in earnings
            ],
            "taxes": [
                {"tax_code": f"EE{i}", "amount": a, "paid_by": "EMPLOYEE"}
                for i, a in enumerate(ee_taxes)
            ]
            + [
                {"tax_code": f"ER{i}", "amount": a, "paid_by": "EMPLOYER"}
                for i, a in enumerate(er_taxes)
            ],
            "deductions": [
                {"deduction_code": f"D{i}", "employee_amount": e, "employer_amount": r}
                for i, (e, r) in enumerate(deductions)
            ],
            "garnishments": [
                {"garnishment_code": f"G{i}", "amount": a} for i, a in enumerate(garnishments)
            ],
        }
    )
