"""Month-end accrual of unpaid days (issue 15 part 2): labor earned in a month, not yet paid.

A pay period that straddles month end leaves days worked but not yet paid out of the closing
month's ledger. When ``journal.month_end_accrual`` is on, for each company and month end the
connector estimates that cost and posts it as its own journal. The rules, for finance:

1. **Days.** Days are counted inclusively, either as *working* days (Monday to Friday) or as
   *calendar* days (``DayBasis``). There is no public-holiday calendar: a holiday on a weekday
   counts as a working day, in the unpaid days and in the period days alike.
2. **Which days are unpaid.** A pay period is paid in a month when its run's check date falls on
   or before the month's last day E (the settlement is dated on the check date). L is the latest
   period end among those runs (periods ending after E never count as paid for this month). The
   unpaid days are L+1 .. E. Nothing is estimated when no period is paid yet (nothing to
   estimate from: the caller reports it) or when L = E (every day of the month is paid). The
   span can start in an earlier month when nothing was paid for a while: each month-end accrual
   reverses the next day, so every one covers all days unpaid at its month end.
3. **The basis.** The runs the estimate scales are the REGULAR runs paid by E whose period ends
   on L (usually one). Off-cycle runs (bonus, commission, correction) are never the basis: they
   pay for events, not for days worked, so scaling them by days would invent cost. Only when no
   run ending on L is REGULAR are all runs ending on L the basis, and the accrual says so.
4. **Scale.** For each basis run, factor = unpaid days / days of its pay period, both counted
   on the same basis (it can exceed 1: 21 unpaid working days on a 10-day period). Only expense
   lines of the run's settlement journal are scaled (earnings, employer taxes, employer
   benefits). Per voucher of that journal, the accrued total is the voucher's net expense times
   the factor, rounded to the cent half to even; it is spread over the voucher's expense lines
   in proportion to their amounts by largest remainder (``ledger.allocation``, ties to the lower
   account, dimensions, role, side, text), so the scaled lines add up to the accrued total
   exactly. A voucher holding expense lines of both signs (a negative earning) splits in two:
   the lines against the voucher's sign get their own net times the factor, rounded, and the
   others the rest. One line per voucher on the accrued-payroll liability account (with its
   dimensions) takes the accrued total on the other side, so every voucher balances. Lines that
   scale to zero are dropped.
5. **The journal.** Dated at month end and reversing on the first day of the next month, on the
   same accounts, dimensions, currency, role and text as the settlement lines it scales. Each
   voucher is named after the settlement voucher it scales plus ``-A`` and the basis run's
   number, so two basis runs' vouchers never merge (within F&O's 20-character voucher).
   It is its own identity (company, month): ``JournalType.MONTH_END_ACCRUAL``.

``MonthEndAccrual`` keeps the basis (unpaid days, the source runs, their factors and totals) so
finance can audit the estimate; pure values only, no I/O.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from ml_connector_dagster.ledger.allocation import CENT, allocate
from ml_connector_dagster.ledger.entries import (
    DESCRIPTION_LIMIT,
    ZERO,
    Journal,
    JournalIdentity,
    JournalLine,
)
from ml_connector_dagster.ledger.keys import Dimensions
from ml_connector_dagster.ledger.vocabulary import DEBIT_ROLES, JournalType, LineRole

DayBasis = Literal["working", "calendar"]
REGULAR = "REGULAR"  # Rippling's run_type of the scheduled run of a pay period
# LedgerJournalTrans.Voucher (EDT Voucher, a Num: 20 characters). Builder vouchers have 13
# ("PR" + 6 + "-" + 4), so the "-A<n>" suffix fits; a longer name is refused, never cut.
VOUCHER_LIMIT = 20
TEXT_LIMIT = 60  # LedgerJournalTrans.Text as the builder writes it
ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class PaidPeriod:
    """A settled run of the company: its pay period and the date it was paid."""

    run_id: str
    run_type: str
    period_start: dt.date
    period_end: dt.date
    check_date: dt.date


@dataclass(frozen=True)
class AccrualBasisRun:
    """One basis run in one currency: what it paid, how it was scaled, what it accrues."""

    run_id: str
    run_type: str
    period_start: dt.date
    period_end: dt.date
    check_date: dt.date
    period_days: int
    factor_text: str  # unpaid days / period days, unreduced: "21/10"
    expense_total: Decimal  # the settlement's net expense (debit - credit) in this currency
    accrued_total: Decimal  # the sum of its vouchers' accrued totals
    currency: str


@dataclass(frozen=True)
class MonthEndAccrual:
    """The accrual of one company's unpaid days at one month end, with its basis."""

    company: str
    month: str  # "YYYY-MM"
    month_end: dt.date
    reverse_date: dt.date
    day_basis: DayBasis
    unpaid_first: dt.date | None
    unpaid_last: dt.date | None
    unpaid_days: int
    basis: tuple[AccrualBasisRun, ...]
    lines: tuple[JournalLine, ...]
    reason: str = ""  # why nothing is accrued, when ``lines`` is empty
    basis_rule: str = ""  # which runs are the basis and why (the fallback says so)

    @property
    def total_debit(self) -> Decimal:
        return sum((line.debit for line in self.lines), ZERO)

    @property
    def total_credit(self) -> Decimal:
        return sum((line.credit for line in self.lines), ZERO)

    @property
    def source_run_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(run.run_id for run in self.basis))


# --- days ------------------------------------------------------------------------------------
def count_days(first: dt.date, last: dt.date, basis: DayBasis) -> int:
    """Days from ``first`` to ``last`` inclusive (0 when last < first); working days are Monday
    to Friday, without public holidays."""
    if last < first:
        return 0
    days = (last - first).days + 1
    if basis == "calendar":
        return days
    if basis != "working":
        raise ValueError(f"unknown day basis {basis!r}: working or calendar")
    weeks, rest = divmod(days, 7)
    weekday = first.weekday()  # Monday 0 .. Sunday 6
    return weeks * 5 + sum(1 for n in range(rest) if (weekday + n) % 7 < 5)


def is_month_end(day: dt.date) -> bool:
    return (day + ONE_DAY).day == 1


def month_end_of(month: str) -> dt.date:
    """The last day of ``month`` ("YYYY-MM")."""
    first = dt.date.fromisoformat(f"{month}-01")
    following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - ONE_DAY


def _paid_by(month_end: dt.date, paid: Iterable[PaidPeriod]) -> list[PaidPeriod]:
    """The periods paid by ``month_end``: check date and period end both on or before it.

    When any of them is a REGULAR run, only REGULAR runs count: an off-cycle run (a bonus, a
    termination, a correction) may carry a period of its own that ends after the last
    scheduled one, and must not move the last paid day (nor become the basis)."""
    settled = [p for p in paid if p.check_date <= month_end and p.period_end <= month_end]
    regular = [p for p in settled if p.run_type.upper() == REGULAR]
    return regular or settled


def unpaid_span(month_end: dt.date, paid: Iterable[PaidPeriod]) -> tuple[dt.date, dt.date] | None:
    """(L+1, E): the days after the last period paid by the month end E, up to E. None when no
    period is paid by E or the last one ends on E."""
    settled = _paid_by(month_end, paid)
    if not settled:
        return None
    last_paid = max(p.period_end for p in settled)
    if last_paid >= month_end:
        return None
    return last_paid + ONE_DAY, month_end


def basis_runs(
    month_end: dt.date, paid: Iterable[PaidPeriod]
) -> tuple[tuple[PaidPeriod, ...], bool]:
    """(the basis runs, whether they are the fallback): the REGULAR runs paid by E whose period
    ends on the last paid period end L, else every run paid by E ending on L. Ordered by period
    start, check date and run id, the order their vouchers are numbered in. Empty when nothing
    is paid by E."""
    settled = _paid_by(month_end, paid)
    if not settled:
        return (), False
    last_paid = max(p.period_end for p in settled)
    ending = [p for p in settled if p.period_end == last_paid]
    regular = [p for p in ending if p.run_type.upper() == REGULAR]
    chosen = regular or ending
    chosen.sort(key=lambda p: (p.period_start, p.check_date, p.run_id))
    return tuple(chosen), not regular


# --- scaling ---------------------------------------------------------------------------------
def scaled_cents(amount: Decimal, numerator: int, denominator: int) -> Decimal:
    """``amount`` x numerator / denominator, rounded to the cent half to even, exactly."""
    cents = _whole_cents(amount)
    return Decimal(round(Fraction(cents * numerator, denominator))) * CENT


def _whole_cents(amount: Decimal) -> int:
    if amount != amount.quantize(CENT):
        raise ValueError(f"amount {amount} is not in whole cents")
    return int(amount.scaleb(2))


def _tie_key(line: JournalLine) -> tuple:
    """What orders a remainder tie between lines: never the order they came in. The amount is
    in it, so lines with equal keys are equal lines and any order gives the same cents."""
    return (
        line.account,
        line.dimensions,
        line.role.value,
        line.debit > 0,
        line.text,
        line.debit,
        line.credit,
    )


def _spread(total: Decimal, lines: list[JournalLine]) -> list[Decimal]:
    """``total`` over ``lines`` by the size of their amounts (largest remainder)."""
    if not lines:
        return []
    return allocate(total, [abs(line.amount) for line in lines], [_tie_key(x) for x in lines])


def scale_voucher(
    lines: Sequence[JournalLine], unpaid: int, period_days: int
) -> tuple[Decimal, list[tuple[JournalLine, Decimal]]]:
    """(accrued total, [(source line, its scaled signed amount)]) for one voucher's expense
    lines: the total is the net expense x unpaid / period days rounded to the cent, and the
    scaled amounts add up to it exactly, each with its source line's sign (or zero)."""
    total = sum((line.amount for line in lines), ZERO)
    accrued = scaled_cents(total, unpaid, period_days)
    sign = -1 if total < 0 else 1
    # Lines against the voucher's sign (a negative earning in a positive voucher) take their
    # own net times the factor; the others share the rest, so both spreads have one sign.
    against = [line for line in lines if line.amount * sign < 0]
    along = [line for line in lines if line.amount * sign > 0]
    against_total = scaled_cents(sum((x.amount for x in against), ZERO), unpaid, period_days)
    shares = _spread(against_total, against) + _spread(accrued - against_total, along)
    return accrued, list(zip(against + along, shares, strict=True))


def _line(source: JournalLine, voucher: str, amount: Decimal) -> JournalLine:
    return JournalLine(
        voucher=voucher,
        account=source.account,
        dimensions=source.dimensions,
        currency=source.currency,
        role=source.role,
        debit=amount if amount > 0 else ZERO,
        credit=-amount if amount < 0 else ZERO,
        text=source.text,
    )


def _voucher_name(source: str, number: int) -> str:
    name = f"{source}-A{number}"
    if len(name) > VOUCHER_LIMIT:
        raise ValueError(f"accrual voucher {name} is longer than F&O's {VOUCHER_LIMIT}")
    return name


@dataclass(frozen=True)
class _Accrued:
    """The scaled lines of one basis run and its rows in the basis."""

    lines: list[JournalLine]
    basis: list[AccrualBasisRun]


def _accrue_run(
    run: PaidPeriod,
    number: int,
    settlement_lines: Iterable[JournalLine],
    unpaid: int,
    day_basis: DayBasis,
    accrued_account: str,
    accrued_dimensions: Dimensions,
    accrued_text: str,
) -> _Accrued:
    period_days = count_days(run.period_start, run.period_end, day_basis)
    vouchers: dict[tuple[str, str], list[JournalLine]] = defaultdict(list)
    given = list(settlement_lines)
    for line in given:
        if line.role in DEBIT_ROLES and line.amount != 0:
            vouchers[(line.voucher, line.currency)].append(line)
    if len({voucher for voucher, _ in vouchers}) != len(vouchers):
        raise ValueError(f"payroll run {run.run_id}: a settlement voucher mixes currencies")
    lines: list[JournalLine] = []
    expense: dict[str, Decimal] = defaultdict(lambda: ZERO)
    if not vouchers:  # a run without expense still shows in the basis, in its lines' currency
        expense[min((x.currency for x in given), default="")] = ZERO
    accrued_by: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for (source, currency), expense_lines in sorted(vouchers.items()):
        expense[currency] += sum((x.amount for x in expense_lines), ZERO)
        if period_days == 0:  # a period without a working day cannot be scaled by days
            continue
        voucher = _voucher_name(source, number)
        accrued, shares = scale_voucher(expense_lines, unpaid, period_days)
        accrued_by[currency] += accrued
        lines.extend(_line(x, voucher, amount) for x, amount in shares if amount != 0)
        if accrued != 0:
            liability = JournalLine(
                voucher=voucher,
                account=accrued_account,
                dimensions=accrued_dimensions,
                currency=currency,
                role=LineRole.ACCRUED_PAYROLL,
                debit=ZERO,
                credit=ZERO,
                text=accrued_text,
            )
            lines.append(_line(liability, voucher, -accrued))
    basis = [
        AccrualBasisRun(
            run_id=run.run_id,
            run_type=run.run_type,
            period_start=run.period_start,
            period_end=run.period_end,
            check_date=run.check_date,
            period_days=period_days,
            factor_text=f"{unpaid}/{period_days}",
            expense_total=expense[currency],
            accrued_total=accrued_by[currency],
            currency=currency,
        )
        for currency in sorted(expense)
    ]
    return _Accrued(lines, basis)


def _check_paid(paid: Iterable[PaidPeriod]) -> list[PaidPeriod]:
    runs = list(paid)
    seen: dict[str, PaidPeriod] = {}
    for run in runs:
        if run.period_end < run.period_start:
            raise ValueError(f"payroll run {run.run_id}: its period ends before it starts")
        if seen.setdefault(run.run_id, run) != run:
            raise ValueError(f"payroll run {run.run_id} is given twice with different periods")
    return list(seen.values())


def month_end_accrual(
    company: str,
    month_end: dt.date,
    paid: Iterable[PaidPeriod],
    settlement_lines: Mapping[str, Iterable[JournalLine]],
    accrued_account: str,
    accrued_dimensions: Dimensions,
    day_basis: DayBasis = "working",
) -> MonthEndAccrual:
    """The accrual of ``company``'s unpaid days at ``month_end`` (the last day of a month).

    ``paid``: the company's settled runs (the caller filters states and company).
    ``settlement_lines``: run id -> the lines of its settlement journal, as the builder made
    them; needed for every run ``basis_runs`` names (others are ignored)."""
    if not is_month_end(month_end):
        raise ValueError(f"{month_end} is not the last day of a month")
    runs = _check_paid(paid)
    month = f"{month_end:%Y-%m}"
    accrual = MonthEndAccrual(
        company=company,
        month=month,
        month_end=month_end,
        reverse_date=month_end + ONE_DAY,
        day_basis=day_basis,
        unpaid_first=None,
        unpaid_last=None,
        unpaid_days=0,
        basis=(),
        lines=(),
    )
    span = unpaid_span(month_end, runs)
    if span is None:
        settled = _paid_by(month_end, runs)
        if not settled:
            reason = f"no paid period to estimate from (none paid by {month_end})"
        else:
            last = max(p.period_end for p in settled)
            reason = f"every day of {month} is paid (last paid period ends {last})"
        return _with(accrual, reason=reason)
    first, last = span
    unpaid = count_days(first, last, day_basis)
    chosen, fallback = basis_runs(month_end, runs)
    ending = first - ONE_DAY
    if fallback:
        rule = f"no REGULAR run ends on {ending}: every run ending then is the basis"
    else:
        rule = f"REGULAR runs whose period ends on {ending}"
    missing = [run.run_id for run in chosen if run.run_id not in settlement_lines]
    if missing:
        raise ValueError(
            f"{company} {month}: settlement lines of basis run(s) {', '.join(missing)} not given"
        )
    text = f"Accrued payroll {first}..{last}"[:TEXT_LIMIT]
    lines: list[JournalLine] = []
    basis: list[AccrualBasisRun] = []
    for number, run in enumerate(chosen, 1):
        accrued = _accrue_run(
            run,
            number,
            settlement_lines[run.run_id],
            unpaid,
            day_basis,
            accrued_account,
            accrued_dimensions,
            text,
        )
        lines.extend(accrued.lines)
        basis.extend(accrued.basis)
    lines.sort(
        key=lambda x: (x.voucher, x.credit > 0, x.account, x.dimensions, x.role.name, *_tie_key(x))
    )
    reason = "" if lines else _nothing_reason(unpaid, day_basis, first, last, basis)
    return _with(
        accrual,
        unpaid_first=first,
        unpaid_last=last,
        unpaid_days=unpaid,
        basis=tuple(basis),
        lines=tuple(lines),
        reason=reason,
        basis_rule=rule,
    )


def _nothing_reason(
    unpaid: int, day_basis: DayBasis, first: dt.date, last: dt.date, basis: list[AccrualBasisRun]
) -> str:
    if unpaid == 0:
        return f"no {day_basis} day in the unpaid days {first}..{last}"
    if basis and all(run.period_days == 0 for run in basis):
        return f"the basis periods have no {day_basis} day to scale by"
    return "the basis runs have no expense to scale"


def _with(accrual: MonthEndAccrual, **changes: object) -> MonthEndAccrual:
    return replace(accrual, **changes)  # type: ignore[arg-type]


# --- the journal -----------------------------------------------------------------------------
def month_end_journal(
    accrual: MonthEndAccrual,
    identity: JournalIdentity,
    journal_name: str,
    description: str | None,
    source_record_ids: Iterable[str],
    worker_ids: Iterable[str],
    mapping_hash: str = "",
) -> Journal:
    """The accrual as a journal: dated at month end, reversing the next day. The lines are the
    accrual's own, in its order, so the same accrual always gives the same payload hash.

    ``description`` None: "Payroll <month> month_end_accrual <marker>", like the builder's."""
    if identity.journal_type is not JournalType.MONTH_END_ACCRUAL:
        raise ValueError(f"a month-end accrual journal cannot be a {identity.journal_type}")
    if identity.company != accrual.company:
        raise ValueError(f"identity of {identity.company} for the accrual of {accrual.company}")
    if description is None:
        text = f"Payroll {accrual.month} {identity.journal_type.value} {identity.marker}"
        description = text[-DESCRIPTION_LIMIT:]
    return Journal(
        identity=identity,
        company=accrual.company,
        journal_name=journal_name,
        trans_date=accrual.month_end,
        reverse_date=accrual.reverse_date,
        description=description,
        lines=list(accrual.lines),
        source_record_ids=list(source_record_ids),
        worker_ids=list(worker_ids),
        mapping_hash=mapping_hash,
    )
