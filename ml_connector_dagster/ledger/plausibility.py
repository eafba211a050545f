"""Plausibility: amounts that balance and reconcile, yet that finance should look at twice.

These rules never block: a negative net pay can be a legitimate correction, a large gross a
legitimate bonus. They are warnings (a Dagster asset check of severity WARN on the journals)
so that a typo in Rippling that satisfies every identity (a salary keyed in cents, a digit too
many) is seen by a person before the journal is posted in F&O. Pure functions over the ledger's
own inputs; money is ``Decimal`` throughout, never float.

The rules, per record:

- **negative net pay**: the worker would owe money for the period;
- **gross far above history**: gross pay more than ``factor`` (3) times the median gross of the
  same worker's *earlier* records. The history used is what the caller passes in ``history``
  (earlier gross amounts per worker, oldest first; ``gross_history`` builds it from earlier
  pay periods' records) followed by the worker's records that come before this one in
  ``records`` (the snapshot's runs in check-date order). The pipeline passes the gross of up to
  ``HISTORY_PERIODS`` earlier pay periods of the same company that this deployment stored
  (``defs/payroll/history.py``), so a new deployment starts with no history; a worker with no
  earlier record, or whose median is not positive, is not judged by this rule;
- **a huge amount**: any amount of the record (gross, net, every summary total and item) with
  12 or more digits before the decimal point, i.e. at least 100,000,000,000 in absolute value:
  no payroll pays that much to one worker in one run.
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal

from ml_connector_dagster.ledger.checks import Finding
from ml_connector_dagster.ledger.inputs import PayrollRecord

FACTOR = Decimal(3)
HISTORY_PERIODS = 3  # earlier pay periods a worker's gross is compared with
HUGE = Decimal(10) ** 11  # the smallest amount with 12 digits before the decimal point
HUGE_DIGITS = 12


def median(values: Sequence[Decimal]) -> Decimal:
    """The median, exactly in ``Decimal`` (the mean of the middle two for an even count)."""
    if not values:
        raise ValueError("median of no values")
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def record_amounts(record: PayrollRecord) -> list[tuple[str, Decimal]]:
    """Every amount of a record with the field it came from (the source's paths)."""
    summary = record.summary
    amounts: list[tuple[str, Decimal]] = [
        ("gross_pay", record.gross_pay),
        ("net_pay", record.net_pay),
        ("summary.employer_taxes", summary.employer_taxes),
        ("summary.employee_taxes", summary.employee_taxes),
        ("summary.employee_deductions", summary.employee_deductions),
        ("summary.employer_contributions", summary.employer_contributions),
        ("summary.total_garnishments", summary.total_garnishments),
    ]
    amounts += [(f"earnings[{n}].amount", e.amount) for n, e in enumerate(record.earnings)]
    amounts += [(f"taxes[{n}].amount", t.amount) for n, t in enumerate(record.taxes)]
    for n, deduction in enumerate(record.deductions):
        amounts.append((f"deductions[{n}].employee_amount", deduction.employee_amount))
        amounts.append((f"deductions[{n}].employer_amount", deduction.employer_amount))
    amounts += [(f"garnishments[{n}].amount", a) for n, a in enumerate(record.garnishments)]
    return amounts


def _amount_values(record: PayrollRecord) -> Iterator[Decimal]:
    """The amounts of ``record_amounts`` without their paths (most records have no huge one,
    and naming every amount of 50,000 records costs more than judging them)."""
    summary = record.summary
    yield record.gross_pay
    yield record.net_pay
    yield summary.employer_taxes
    yield summary.employee_taxes
    yield summary.employee_deductions
    yield summary.employer_contributions
    yield summary.total_garnishments
    for earning in record.earnings:
        yield earning.amount
    for tax in record.taxes:
        yield tax.amount
    for deduction in record.deductions:
        yield deduction.employee_amount
        yield deduction.employer_amount
    yield from record.garnishments


def is_huge(amount: Decimal) -> bool:
    """12 or more digits before the decimal point (a non-finite amount is not judged here:
    the conversion already reports it as missing)."""
    return amount.is_finite() and abs(amount) >= HUGE


def gross_history(periods: Iterable[Iterable[PayrollRecord]]) -> dict[str, list[Decimal]]:
    """Each worker's gross pay over earlier pay periods (given oldest first, each period's
    records in check-date order): the ``history`` of ``plausibility_findings``. A record whose
    gross is missing or not a number tells nothing and is left out."""
    history: dict[str, list[Decimal]] = defaultdict(list)
    for records in periods:
        for record in records:
            missing = {gap.field for gap in record.missing}
            if record.gross_pay.is_finite() and "gross_pay" not in missing:
                history[record.worker_id].append(record.gross_pay)
    return dict(history)


def plausibility_findings(
    records: Iterable[PayrollRecord],
    history: Mapping[str, Sequence[Decimal]] | None = None,
    *,
    factor: Decimal = FACTOR,
) -> list[Finding]:
    """Warnings for ``records`` in order (oldest first); see the module for the rules and for
    which history the gross rule compares with."""
    earlier: dict[str, list[Decimal]] = defaultdict(list)
    for worker_id, amounts in (history or {}).items():
        earlier[worker_id].extend(a for a in amounts if a.is_finite())
    findings: list[Finding] = []
    for record in records:
        subject = f"record {record.id} (worker {record.worker_id})"
        if record.net_pay.is_finite() and record.net_pay < 0:
            findings.append(
                Finding(
                    subject,
                    "net_pay",
                    "0 or more",
                    str(record.net_pay),
                    "negative net pay: the worker would owe money for this run",
                    personal=True,
                    cause="Negative net pay",
                    records=(record.id,),
                )
            )
        past = earlier[record.worker_id]
        gross_known = record.gross_pay.is_finite() and "gross_pay" not in {
            gap.field for gap in record.missing
        }
        if past and gross_known:
            typical = median(past)
            if typical > 0 and record.gross_pay > factor * typical:
                findings.append(
                    Finding(
                        subject,
                        "gross_pay",
                        f"at most {factor} x {typical} (median of {len(past)} earlier gross)",
                        str(record.gross_pay),
                        f"gross pay is {record.gross_pay / typical:.1f} times the worker's"
                        " median of earlier records",
                        personal=True,
                        cause=f"Gross pay above {factor}x the worker's earlier median",
                        records=(record.id,),
                    )
                )
        huge = any(is_huge(amount) for amount in _amount_values(record))
        for field, amount in record_amounts(record) if huge else ():
            if is_huge(amount):
                findings.append(
                    Finding(
                        subject,
                        field,
                        f"fewer than {HUGE_DIGITS} digits before the decimal point",
                        str(amount),
                        "an amount this large is almost certainly a keying or unit error",
                        personal=True,
                        cause=f"Amounts of {HUGE_DIGITS} or more digits (a keying or unit error)",
                        records=(record.id,),
                    )
                )
        if gross_known:
            past.append(record.gross_pay)
    return findings
