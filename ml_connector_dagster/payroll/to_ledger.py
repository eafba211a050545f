"""Rippling's models turned into the ledger's inputs: the one place that knows both.

The ledger rules read only ``ledger.inputs``; what Rippling calls a field, how it spells who paid
a tax, or how it nests a pay period stays on this side. Money is carried over as the same
``Decimal``, never re-parsed or rounded.

Missing is not zero. The spec (``WorkerPayrollRecord`` and its ``WorkerPayrollRecordSummary``,
``WorkerPayrollTax``, ``WorkerPayrollDeduction``, ``WorkerPayrollEarning``,
``WorkerPayrollGarnishment`` in rippling-v2-rest.yaml) types every amount as a plain
``type: string``: no ``required`` list, no ``nullable``, no ``default``, and no description says
that an absent or null amount means zero. So no amount is optional-and-meaning-zero: an amount
that arrives null, is left out, is redacted or is not a finite number becomes a
``MissingAmount`` naming its field, with a zero placeholder that ``source_sane`` refuses to post.
(A missing *list* of items is an empty list: the summary-against-items check catches a summary
that reports an amount its items do not carry.)
"""

from collections.abc import Iterable
from decimal import Decimal

from pydantic import BaseModel

from ml_connector_dagster.ledger.inputs import (
    ZERO,
    DeductionLine,
    EarningLine,
    MissingAmount,
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
SUMMARY_FIELDS = (
    "employer_taxes",
    "employee_taxes",
    "employee_deductions",
    "employer_contributions",
    "total_garnishments",
)
REDACTED = "redacted by Rippling (the token may not read it)"


class _Missing:
    """Collects the missing amounts of one record while it is converted."""

    def __init__(self, redacted: Iterable[str] = ()) -> None:
        self.redacted = set(redacted)
        self.found: list[MissingAmount] = []

    def amount(self, model: BaseModel, name: str, path: str, present: bool = True) -> Decimal:
        """The amount ``name`` of ``model``, or a zero placeholder noted as missing.

        A field Rippling left out is absent from ``model_fields_set`` even where the model
        gives it a default; ``present=False`` says the enclosing object was left out itself.
        """
        value = getattr(model, name, None)
        if not present or name not in model.model_fields_set or value is None:
            top = path.split(".")[0].split("[")[0]
            if top in self.redacted:
                reason = REDACTED
            elif present and name in model.model_fields_set:
                reason = "null"
            else:
                reason = "absent"
            self.found.append(MissingAmount(path, reason))
            return ZERO
        if not isinstance(value, Decimal) or not value.is_finite():
            self.found.append(MissingAmount(path, f"not a finite amount: {value!r}"))
            return ZERO
        return value


def ledger_run(run: PayrollRun) -> PayRun:
    return PayRun(
        id=run.id,
        check_date=run.check_date,
        period_end=run.pay_period.end_date if run.pay_period is not None else None,
    )


def earning_line(earning: Earning, missing: _Missing | None = None, path: str = "") -> EarningLine:
    missing = missing or _Missing()
    return EarningLine(
        amount=missing.amount(earning, "amount", f"{path}.amount"),
        code=earning.earning_code,
        category=earning.earning_category,
        display_name=earning.display_name,
    )


def tax_line(tax: Tax, missing: _Missing | None = None, path: str = "") -> TaxLine:
    missing = missing or _Missing()
    return TaxLine(
        amount=missing.amount(tax, "amount", f"{path}.amount"),
        code=tax.tax_code,
        employer_paid=(tax.paid_by or "").upper() == EMPLOYER,
    )


def deduction_line(
    deduction: Deduction, missing: _Missing | None = None, path: str = ""
) -> DeductionLine:
    missing = missing or _Missing()
    return DeductionLine(
        code=deduction.deduction_code,
        employee_amount=missing.amount(deduction, "employee_amount", f"{path}.employee_amount"),
        employer_amount=missing.amount(deduction, "employer_amount", f"{path}.employer_amount"),
    )


def reported_totals(
    summary: PayrollSummary, missing: _Missing | None = None, present: bool = True
) -> ReportedTotals:
    """The summary's five totals; ``present=False``: Rippling sent no summary at all."""
    missing = missing or _Missing()
    amounts = {
        name: missing.amount(summary, name, f"summary.{name}", present) for name in SUMMARY_FIELDS
    }
    return ReportedTotals(**amounts)


def ledger_record(record: WorkerPayrollRecord) -> PayrollRecord:
    """The ledger's record; every amount Rippling did not give is named in ``missing``."""
    missing = _Missing(record.redacted)
    summary_sent = "summary" in record.model_fields_set and record.summary is not None
    summary = record.summary if record.summary is not None else PayrollSummary()
    return PayrollRecord(
        id=record.id,
        worker_id=record.worker_id,
        currency=record.currency,
        gross_pay=missing.amount(record, "gross_pay", "gross_pay"),
        net_pay=missing.amount(record, "net_pay", "net_pay"),
        summary=reported_totals(summary, missing, present=summary_sent),
        earnings=tuple(
            earning_line(earning, missing, f"earnings[{n}]")
            for n, earning in enumerate(record.earnings)
        ),
        taxes=tuple(tax_line(tax, missing, f"taxes[{n}]") for n, tax in enumerate(record.taxes)),
        deductions=tuple(
            deduction_line(deduction, missing, f"deductions[{n}]")
            for n, deduction in enumerate(record.deductions)
        ),
        garnishments=tuple(
            missing.amount(garnishment, "amount", f"garnishments[{n}].amount")
            for n, garnishment in enumerate(record.garnishments)
        ),
        missing=tuple(missing.found),
    )


def ledger_records(records: Iterable[WorkerPayrollRecord]) -> list[PayrollRecord]:
    return [ledger_record(record) for record in records]
