"""Rippling's models turned into the ledger's inputs: the one place that knows both.

The ledger rules read only ``ledger.inputs``; what Rippling calls a field, how it spells who paid
a tax, or how it nests a pay period stays on this side. Money is carried over as the same
``Decimal``, never re-parsed or rounded.
"""

from collections.abc import Iterable

from ml_connector_dagster.ledger.inputs import (
    DeductionLine,
    EarningLine,
    PayrollRecord,
    PayRun,
    ReportedTotals,
    TaxLine,
)
from ml_connector_dagster.rippling.models import (
    Deduction,
    Earning,
    PayrollRun,
    PayrollSummary,
    Tax,
    WorkerPayrollRecord,
)

EMPLOYER = "EMPLOYER"  # Tax.paid_by of a tax the employer pays (any case)


def ledger_run(run: PayrollRun) -> PayRun:
    return PayRun(
        id=run.id,
        check_date=run.check_date,
        period_end=run.pay_period.end_date if run.pay_period is not None else None,
    )


def earning_line(earning: Earning) -> EarningLine:
    return EarningLine(
        amount=earning.amount,
        code=earning.earning_code,
        category=earning.earning_category,
        display_name=earning.display_name,
    )


def tax_line(tax: Tax) -> TaxLine:
    return TaxLine(
        amount=tax.amount,
        code=tax.tax_code,
        employer_paid=(tax.paid_by or "").upper() == EMPLOYER,
    )


def deduction_line(deduction: Deduction) -> DeductionLine:
    return DeductionLine(
        code=deduction.deduction_code,
        employee_amount=deduction.employee_amount,
        employer_amount=deduction.employer_amount,
    )


def reported_totals(summary: PayrollSummary) -> ReportedTotals:
    return ReportedTotals(
        employer_taxes=summary.employer_taxes,
        employee_taxes=summary.employee_taxes,
        employee_deductions=summary.employee_deductions,
        employer_contributions=summary.employer_contributions,
        total_garnishments=summary.total_garnishments,
    )


def ledger_record(record: WorkerPayrollRecord) -> PayrollRecord:
    return PayrollRecord(
        id=record.id,
        worker_id=record.worker_id,
        currency=record.currency,
        gross_pay=record.gross_pay,
        net_pay=record.net_pay,
        summary=reported_totals(record.summary),
        earnings=tuple(earning_line(earning) for earning in record.earnings),
        taxes=tuple(tax_line(tax) for tax in record.taxes),
        deductions=tuple(deduction_line(deduction) for deduction in record.deductions),
        garnishments=tuple(garnishment.amount for garnishment in record.garnishments),
    )


def ledger_records(records: Iterable[WorkerPayrollRecord]) -> list[PayrollRecord]:
    return [ledger_record(record) for record in records]
