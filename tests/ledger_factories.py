"""Builders for ledger tests: a mapping, and payroll records that obey Rippling's identities."""

import datetime as dt
from decimal import Decimal

from ml_connector_dagster.ledger.mapping import PayrollMapping, parse_mapping
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


def run(run_id: str = "run_1", check: dt.date = dt.date(2026, 11, 20)) -> PayrollRun:
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


def record(
    record_id: str,
    worker_id: str,
    earnings: list[tuple[str, str]],
    ee_taxes: list[str] = (),
    er_taxes: list[str] = (),
    deductions: list[tuple[str, str]] = (),
    garnishments: list[str] = (),
    currency: str = "USD",
) -> WorkerPayrollRecord:
    """A record whose net pay is derived, so it balances like Rippling's."""
    d = Decimal
    gross = sum((d(a) for _, a in earnings), d("0.00"))
    ee = sum((d(a) for a in ee_taxes), d("0.00"))
    er = sum((d(a) for a in er_taxes), d("0.00"))
    ded_ee = sum((d(e) for e, _ in deductions), d("0.00"))
    ded_er = sum((d(r) for _, r in deductions), d("0.00"))
    garn = sum((d(a) for a in garnishments), d("0.00"))
    net = gross - ee - ded_ee - garn
    return WorkerPayrollRecord.model_validate(
        {
            "id": record_id,
            "run_id": "run_1",
            "worker_id": worker_id,
            "currency": currency,
            "gross_pay": str(gross),
            "net_pay": str(net),
            "summary": {
                "employee_taxes": str(ee),
                "employer_taxes": str(er),
                "employee_deductions": str(ded_ee),
                "employer_contributions": str(ded_er),
                "total_garnishments": str(garn),
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
