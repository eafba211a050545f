"""Month-end accrual of unpaid days (issue 15 part 2): days, span, basis, scaling, journal.

Expected values are computed by hand in the comments (calendar of 2026: 1 October is a
Thursday, 31 October a Saturday, 30 November a Monday, 31 December a Thursday).
"""

import datetime as dt
import random
from collections import defaultdict
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_factories import mapping, record, run

from ml_connector_dagster.ledger.checks import check_balanced
from ml_connector_dagster.ledger.inputs import WorkerContext
from ml_connector_dagster.ledger.journal import (
    DEBIT_ROLES,
    JournalIdentity,
    JournalLine,
    JournalType,
    LineRole,
    build_journal,
)
from ml_connector_dagster.ledger.month_end_accrual import (
    PaidPeriod,
    count_days,
    month_end_accrual,
    month_end_journal,
    month_end_of,
    scale_voucher,
    unpaid_span,
)

D = dt.date
ZERO = Decimal("0.00")
ACCRUED = "220500"
ACCRUED_DIMS = (("BusinessUnit", "001"),)
USD = "USD"


def paid(run_id, start, end, check, run_type="REGULAR") -> PaidPeriod:
    return PaidPeriod(run_id, run_type, D(*start), D(*end), D(*check))


def expense(voucher, account, role, amount, dims=(("Department", "D100"),), text=None):
    value = Decimal(amount)
    return JournalLine(
        voucher=voucher,
        account=account,
        dimensions=dims,
        currency=USD,
        role=role,
        debit=value if value > 0 else ZERO,
        credit=-value if value < 0 else ZERO,
        text=text or f"text {account}",
    )


def liability(voucher, account, role, amount):
    return JournalLine(voucher, account, ACCRUED_DIMS, USD, role, ZERO, Decimal(amount), role.value)


def accrue(month_end, runs, lines, basis="working"):
    return month_end_accrual("USMF", month_end, runs, lines, ACCRUED, ACCRUED_DIMS, basis)


def by_voucher(lines):
    vouchers = defaultdict(list)
    for line in lines:
        vouchers[line.voucher].append(line)
    return vouchers


# USMF-like biweekly payroll: the 10-17 period paid 10-23, the 10-31 period paid 11-06; the
# 11-14 period is only APPROVED, so the caller does not list it as paid.
OCT_17 = paid("run_1017", (2026, 10, 4), (2026, 10, 17), (2026, 10, 23))
OCT_31 = paid("run_1031", (2026, 10, 18), (2026, 10, 31), (2026, 11, 6))


# --- days ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("first", "last", "working", "calendar"),
    [
        (D(2026, 10, 18), D(2026, 10, 31), 10, 14),  # Sunday .. Saturday, two weeks
        (D(2026, 11, 1), D(2026, 11, 30), 21, 30),  # Sunday .. Monday
        (D(2026, 10, 31), D(2026, 11, 1), 0, 2),  # a weekend across month end
        (D(2026, 10, 30), D(2026, 11, 2), 2, 4),  # Friday .. Monday across month end
        (D(2026, 12, 27), D(2026, 12, 31), 4, 5),  # Sunday .. Thursday
        (D(2026, 12, 31), D(2027, 1, 1), 2, 2),  # Thursday, Friday across the year
        (D(2026, 10, 21), D(2026, 10, 21), 1, 1),  # one Wednesday
        (D(2026, 10, 24), D(2026, 10, 24), 0, 1),  # one Saturday
        (D(2026, 10, 22), D(2026, 10, 21), 0, 0),  # last before first
    ],
)
def test_count_days(first, last, working, calendar) -> None:
    assert count_days(first, last, "working") == working
    assert count_days(first, last, "calendar") == calendar


@given(
    first=st.dates(min_value=D(2020, 1, 1), max_value=D(2030, 1, 1)),
    length=st.integers(min_value=0, max_value=120),
)
def test_working_days_are_the_weekdays_counted_one_by_one(first, length) -> None:
    last = first + dt.timedelta(days=length - 1)
    days = [first + dt.timedelta(days=n) for n in range(length)]
    assert count_days(first, last, "working") == sum(1 for d in days if d.weekday() < 5)
    assert count_days(first, last, "calendar") == length


def test_month_end_of() -> None:
    assert month_end_of("2026-02") == D(2026, 2, 28)
    assert month_end_of("2028-02") == D(2028, 2, 29)
    assert month_end_of("2026-12") == D(2026, 12, 31)


# --- unpaid days -----------------------------------------------------------------------------
def test_a_period_paid_next_month_is_unpaid_at_month_end() -> None:
    # October: the 10-31 period is paid 11-06, after month end: L = 10-17.
    assert unpaid_span(D(2026, 10, 31), [OCT_17, OCT_31]) == (D(2026, 10, 18), D(2026, 10, 31))
    # November: the 11-14 period is only approved (not paid): L = 10-31.
    assert unpaid_span(D(2026, 11, 30), [OCT_17, OCT_31]) == (D(2026, 11, 1), D(2026, 11, 30))


def test_october_and_november_of_the_usmf_payroll() -> None:
    lines = {
        "run_1017": [expense("PRAAAAAA-0001", "600100", LineRole.EARNINGS, "1000.00")],
        "run_1031": [expense("PRBBBBBB-0001", "600100", LineRole.EARNINGS, "1000.00")],
    }
    october = accrue(D(2026, 10, 31), [OCT_17, OCT_31], lines)
    assert (october.unpaid_first, october.unpaid_last, october.unpaid_days) == (
        D(2026, 10, 18),
        D(2026, 10, 31),
        10,  # Oct 19-23 and 26-30
    )
    assert [(b.run_id, b.period_days, b.factor_text) for b in october.basis] == [
        ("run_1017", 10, "10/10")  # Oct 5-9 and 12-16
    ]
    assert october.total_debit == october.total_credit == Decimal("1000.00")
    november = accrue(D(2026, 11, 30), [OCT_17, OCT_31], lines)
    assert november.unpaid_days == 21  # Nov 2-6, 9-13, 16-20, 23-27, 30
    assert [(b.run_id, b.factor_text) for b in november.basis] == [("run_1031", "21/10")]
    assert november.total_debit == Decimal("2100.00")  # 1000.00 x 21/10
    assert november.month == "2026-11"
    assert november.reverse_date == D(2026, 12, 1)
    assert november.source_run_ids == ("run_1031",)
    assert november.reason == ""


def test_a_fully_paid_month_accrues_nothing_and_says_why() -> None:
    nov_30 = paid("run_1130", (2026, 11, 15), (2026, 11, 30), (2026, 11, 30))
    assert unpaid_span(D(2026, 11, 30), [OCT_31, nov_30]) is None
    accrual = accrue(D(2026, 11, 30), [OCT_31, nov_30], {})
    assert accrual.lines == () and accrual.basis == ()
    assert accrual.reason == "every day of 2026-11 is paid (last paid period ends 2026-11-30)"


def test_no_paid_period_accrues_nothing_and_says_why() -> None:
    assert unpaid_span(D(2026, 10, 31), []) is None
    # Paid only after month end: nothing was paid by 10-31 either.
    late = paid("run_1017", (2026, 10, 4), (2026, 10, 17), (2026, 11, 2))
    assert unpaid_span(D(2026, 10, 31), [late]) is None
    accrual = accrue(D(2026, 10, 31), [late], {})
    assert accrual.lines == ()
    assert accrual.reason.startswith("no paid period to estimate from")


def test_a_period_ending_after_month_end_never_counts_as_paid() -> None:
    # Paid in advance on 10-30 for a period ending 11-07: October's last paid end is 10-17.
    advance = paid("run_1107", (2026, 10, 25), (2026, 11, 7), (2026, 10, 30))
    assert unpaid_span(D(2026, 10, 31), [OCT_17, advance]) == (D(2026, 10, 18), D(2026, 10, 31))


def test_unpaid_days_without_a_working_day_accrue_nothing() -> None:
    fri = paid("run_1030", (2026, 10, 17), (2026, 10, 30), (2026, 10, 30))
    lines = {"run_1030": [expense("PRAAAAAA-0001", "600100", LineRole.EARNINGS, "500.00")]}
    accrual = accrue(D(2026, 10, 31), [fri], lines)
    assert accrual.unpaid_days == 0  # only Saturday 10-31 is unpaid
    assert accrual.lines == ()
    assert accrual.reason == "no working day in the unpaid days 2026-10-31..2026-10-31"
    calendar = accrue(D(2026, 10, 31), [fri], lines, basis="calendar")
    assert calendar.total_credit == Decimal("35.71")  # 500.00 x 1/14 = 35.714...


def test_not_a_month_end_is_refused() -> None:
    with pytest.raises(ValueError, match="not the last day"):
        accrue(D(2026, 10, 30), [OCT_17], {})


def test_a_basis_run_without_its_settlement_lines_is_refused() -> None:
    with pytest.raises(ValueError, match="run_1017"):
        accrue(D(2026, 10, 31), [OCT_17], {})


# --- scaling ---------------------------------------------------------------------------------
DEC = paid("run_1226", (2026, 12, 13), (2026, 12, 26), (2026, 12, 31))  # paid on month end


def _december_lines():
    v1, v2 = "PRAAAAAA-0001", "PRAAAAAA-0002"
    d200 = (("Department", "D200"),)
    return [
        # Voucher 2 first, its tax before its earning: the order must not matter.
        expense(v2, "600200", LineRole.EMPLOYER_TAX, "100.01", d200),
        expense(v2, "600100", LineRole.EARNINGS, "100.01", d200),
        expense(v2, "600300", LineRole.EMPLOYER_BENEFIT, "0.03", d200),
        liability(v2, "220400", LineRole.NET_PAY, "200.05"),
        expense(v1, "600100", LineRole.EARNINGS, "1234.57"),
        expense(v1, "600200", LineRole.EMPLOYER_TAX, "94.45"),
        liability(v1, "220100", LineRole.TAXES_PAYABLE, "300.00"),
        liability(v1, "220400", LineRole.NET_PAY, "1029.02"),
    ]


def test_two_vouchers_scaled_to_hand_computed_cents() -> None:
    """Unpaid 12-27..12-31: 4 working days (Dec 28-31); period 12-13..12-26: 10 (Dec 14-18,
    21-25); factor 4/10.

    Voucher 1: expense 1329.02 x 0.4 = 531.608 -> 531.61. Largest remainder of 53161 cents by
    123457 : 9445 gives floors 49382 and 3778 (one cent left), remainders 0.986 and 0.014:
    493.83 and 37.78.
    Voucher 2: expense 200.05 x 0.4 = 80.02. Shares 8002 x 10001/20005 = 4000.40 twice and
    8002 x 3/20005 = 1.20: floors 4000 + 4000 + 1, one cent left, tied between the earning and
    the tax (both .40): the lower account 600100 takes it. Rounding each line alone would give
    40.00 + 40.00 + 0.01 = 80.01, a cent short."""
    accrual = accrue(D(2026, 12, 31), [DEC], {"run_1226": _december_lines()})
    assert accrual.unpaid_days == 4
    got = [(x.voucher, x.account, x.dimensions[0][1], x.debit, x.credit) for x in accrual.lines]
    assert got == [
        ("PRAAAAAA-0001-A1", "600100", "D100", Decimal("493.83"), ZERO),
        ("PRAAAAAA-0001-A1", "600200", "D100", Decimal("37.78"), ZERO),
        ("PRAAAAAA-0001-A1", ACCRUED, "001", ZERO, Decimal("531.61")),
        ("PRAAAAAA-0002-A1", "600100", "D200", Decimal("40.01"), ZERO),
        ("PRAAAAAA-0002-A1", "600200", "D200", Decimal("40.00"), ZERO),
        ("PRAAAAAA-0002-A1", "600300", "D200", Decimal("0.01"), ZERO),
        ("PRAAAAAA-0002-A1", ACCRUED, "001", ZERO, Decimal("80.02")),
    ]
    assert {x.role for x in accrual.lines if x.account == ACCRUED} == {LineRole.ACCRUED_PAYROLL}
    assert [x.text for x in accrual.lines if x.account == "600200"] == ["text 600200"] * 2
    [basis] = accrual.basis
    assert (basis.factor_text, basis.expense_total, basis.accrued_total) == (
        "4/10",
        Decimal("1529.07"),
        Decimal("611.63"),
    )
    assert (basis.currency, basis.check_date, basis.period_days) == (USD, D(2026, 12, 31), 10)
    assert accrual.total_debit == accrual.total_credit == Decimal("611.63")


def test_a_negative_earning_keeps_its_side() -> None:
    """Earning 1000.00 and a negative earning -100.00 (a credit), factor 1/3 (calendar: 10 of
    30 days): voucher 900.00 / 3 = 300.00; the credit takes -100.00 / 3 = -33.33, the earning
    the rest, 333.33."""
    period = paid("run_1021", (2026, 9, 22), (2026, 10, 21), (2026, 10, 28))
    v = "PRAAAAAA-0001"
    lines = [
        expense(v, "600100", LineRole.EARNINGS, "1000.00"),
        expense(v, "600130", LineRole.EARNINGS, "-100.00"),
    ]
    accrual = accrue(D(2026, 10, 31), [period], {"run_1021": lines}, basis="calendar")
    got = {(x.account, x.debit, x.credit) for x in accrual.lines}
    assert got == {
        ("600100", Decimal("333.33"), ZERO),
        ("600130", ZERO, Decimal("33.33")),
        (ACCRUED, ZERO, Decimal("300.00")),
    }


def test_an_off_cycle_run_is_never_the_basis() -> None:
    bonus = paid("run_bonus", (2026, 12, 13), (2026, 12, 26), (2026, 12, 24), "OFF_CYCLE")
    lines = {
        "run_1226": [expense("PRAAAAAA-0001", "600100", LineRole.EARNINGS, "1000.00")],
        "run_bonus": [expense("PRCCCCCC-0001", "600130", LineRole.EARNINGS, "5000.00")],
    }
    accrual = accrue(D(2026, 12, 31), [bonus, DEC], lines)
    assert accrual.source_run_ids == ("run_1226",)
    assert accrual.total_debit == Decimal("400.00")  # 1000.00 x 4/10, no bonus in it
    assert accrual.basis_rule == "REGULAR runs whose period ends on 2026-12-26"


def test_an_off_cycle_period_ending_later_does_not_move_the_last_paid_day() -> None:
    # A termination run paid 12-30 for a period of its own ending 12-29: the scheduled pay
    # periods still end on 12-26, so 12-27..31 are unpaid: 27 is a Sunday, 28-31 Monday to
    # Thursday, so 4 working days of the regular run's 10.
    leaver = paid("run_leaver", (2026, 12, 27), (2026, 12, 29), (2026, 12, 30), "TERMINATION")
    lines = {"run_1226": [expense("PRAAAAAA-0001", "600100", LineRole.EARNINGS, "1000.00")]}
    assert unpaid_span(D(2026, 12, 31), [DEC, leaver]) == (D(2026, 12, 27), D(2026, 12, 31))
    accrual = accrue(D(2026, 12, 31), [DEC, leaver], lines)
    assert accrual.source_run_ids == ("run_1226",)
    assert accrual.total_debit == Decimal("400.00")


def test_without_a_regular_run_every_run_ending_on_l_is_the_basis_and_it_says_so() -> None:
    bonus = paid("run_bonus", (2026, 12, 13), (2026, 12, 26), (2026, 12, 24), "OFF_CYCLE")
    lines = {"run_bonus": [expense("PRCCCCCC-0001", "600130", LineRole.EARNINGS, "5000.00")]}
    accrual = accrue(D(2026, 12, 31), [bonus], lines)
    assert accrual.source_run_ids == ("run_bonus",)
    assert accrual.total_credit == Decimal("2000.00")
    assert "no REGULAR run ends on 2026-12-26" in accrual.basis_rule


def test_two_basis_runs_keep_their_vouchers_apart() -> None:
    """Two pay groups, both REGULAR, both ending 12-26, whose vouchers happen to share a name:
    numbered by period start, each keeps its own voucher and balances on its own."""
    weekly = paid("run_w", (2026, 12, 20), (2026, 12, 26), (2026, 12, 30))  # 5 working days
    same = "PRAAAAAA-0001"
    lines = {
        "run_1226": [expense(same, "600100", LineRole.EARNINGS, "1000.00")],
        "run_w": [expense(same, "600100", LineRole.EARNINGS, "500.00")],
    }
    accrual = accrue(D(2026, 12, 31), [weekly, DEC], lines)
    assert accrual.source_run_ids == ("run_1226", "run_w")
    sums = {v: sum((x.debit for x in ls), ZERO) for v, ls in by_voucher(accrual.lines).items()}
    assert sums == {f"{same}-A1": Decimal("400.00"), f"{same}-A2": Decimal("400.00")}
    assert all(len(x.voucher) <= 20 for x in accrual.lines)


# --- from the builder's journal to the accrual journal ---------------------------------------
M = mapping()
USMF = M.company("USMF")


def _settlement():
    records = [
        record(
            "pre_1",
            "wkr_1",
            earnings=[("SALARY", "4000.00"), ("OVERTIME", "200.00")],
            ee_taxes=["467.33"],
            er_taxes=["260.40"],
            deductions=[("400.00", "200.00")],
        ),
        record("pre_2", "wkr_2", earnings=[("HOURLY", "1234.56")], er_taxes=["94.44"]),
    ]
    workers = {
        "wkr_1": WorkerContext("wkr_1", department_key="D100"),
        "wkr_2": WorkerContext("wkr_2", department_key="D200"),
    }
    return build_journal(run("run_1017", D(2026, 10, 23)), records, workers, M, USMF).journal


def test_the_builders_journal_accrues_into_a_balanced_month_end_journal() -> None:
    settlement = _settlement()
    paid_runs = [OCT_17, OCT_31]
    november = accrue(D(2026, 11, 30), paid_runs, {"run_1031": settlement.lines})
    identity = JournalIdentity("acme", "2026-11", "USMF", JournalType.MONTH_END_ACCRUAL)
    journal = month_end_journal(november, identity, "PAYROLL", None, ["pre_1"], ["wkr_1"])
    assert check_balanced(journal) == []
    assert (journal.trans_date, journal.reverse_date) == (D(2026, 11, 30), D(2026, 12, 1))
    assert journal.description.endswith(identity.marker) and len(journal.description) <= 60
    assert {x.voucher for x in journal.lines} == {
        f"{v}-A1" for v in {x.voucher for x in settlement.lines}
    }
    expense_in = sum((x.amount for x in settlement.lines if x.role in DEBIT_ROLES), ZERO)
    assert journal.total_debit == scaled(expense_in, 21, 10)  # 6189.40 x 2.1
    again = month_end_journal(
        accrue(D(2026, 11, 30), paid_runs, {"run_1031": list(reversed(settlement.lines))}),
        identity,
        "PAYROLL",
        None,
        ["pre_1"],
        ["wkr_1"],
    )
    assert again.payload_hash() == journal.payload_hash()


def test_the_journal_must_be_a_month_end_accrual_of_the_same_company() -> None:
    accrual = accrue(D(2026, 11, 30), [OCT_31], {"run_1031": []})
    wrong = JournalIdentity("acme", "2026-11", "USMF", JournalType.ACCRUAL)
    with pytest.raises(ValueError):
        month_end_journal(accrual, wrong, "PAYROLL", "x", [], [])
    other = JournalIdentity("acme", "2026-11", "DEMF", JournalType.MONTH_END_ACCRUAL)
    with pytest.raises(ValueError):
        month_end_journal(accrual, other, "PAYROLL", "x", [], [])


# --- properties ------------------------------------------------------------------------------
def scaled(amount: Decimal, unpaid: int, period: int) -> Decimal:
    """The rule written another way: Decimal at 60 digits, then half-even to the cent."""
    with localcontext(Context(prec=60)):
        return (amount * unpaid / period).quantize(Decimal("0.01"), ROUND_HALF_EVEN)


EXPENSE_ROLES = sorted(DEBIT_ROLES)
cent_amounts = st.integers(min_value=-(10**7), max_value=10**8).map(lambda c: Decimal(c) / 100)
expense_lines = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=3),  # voucher
        st.sampled_from(["600100", "600110", "600200", "600300"]),
        st.sampled_from(EXPENSE_ROLES),
        st.sampled_from(["D100", "D200"]),
        cent_amounts,
    ),
    min_size=1,
    max_size=12,
    unique_by=lambda t: (t[0], t[1], t[2], t[3], t[4] > 0),  # the builder's line key
)


def _lines(specs):
    out = [
        expense(f"PRAAAAAA-{v:04d}", account, role, amount, (("Department", dept),))
        for v, account, role, dept, amount in specs
        if amount != 0
    ]
    # Liabilities are never scaled: one net pay line per voucher, whatever its amount.
    out += [liability(x.voucher, "220400", LineRole.NET_PAY, "1.00") for x in out]
    return out


def _accrual(lines, unpaid, period):
    """Calendar days: a period of ``period`` days ending ``unpaid`` days before 10-31."""
    end = D(2026, 10, 31) - dt.timedelta(days=unpaid)
    basis = PaidPeriod("run_x", "REGULAR", end - dt.timedelta(days=period - 1), end, end)
    return accrue(D(2026, 10, 31), [basis], {"run_x": lines}, basis="calendar")


days = st.integers(min_value=1, max_value=30)


@settings(max_examples=200)
@given(specs=expense_lines, unpaid=days, period=days, seed=st.integers())
def test_every_voucher_balances_and_accrues_its_rounded_share(specs, unpaid, period, seed):
    lines = _lines(specs)
    accrual = _accrual(lines, unpaid, period)
    source = by_voucher(x for x in lines if x.role in DEBIT_ROLES)
    got = by_voucher(accrual.lines)
    for voucher, scaled_lines in got.items():
        debit = sum((x.debit for x in scaled_lines), ZERO)
        assert debit == sum((x.credit for x in scaled_lines), ZERO), voucher
        [accrued] = [x for x in scaled_lines if x.role is LineRole.ACCRUED_PAYROLL] or [None]
        total = sum((x.amount for x in scaled_lines if x.role in DEBIT_ROLES), ZERO)
        expected = scaled(sum((x.amount for x in source[voucher[:-3]]), ZERO), unpaid, period)
        assert total == expected
        assert accrued is None or accrued.amount == -expected
    for voucher, source_lines in source.items():
        if f"{voucher}-A1" not in got:  # dropped only when nothing of it scales above zero
            assert all(scaled(x.amount, unpaid, period) == 0 for x in source_lines)
    for x in accrual.lines:  # amounts are Decimal cents, never float, never zero
        for amount in (x.debit, x.credit):
            assert type(amount) is Decimal and amount.as_tuple().exponent == -2
        assert (x.debit == 0) != (x.credit == 0)
    # Each scaled line keeps its source line's side and stays within 2 cents of its exact share.
    keys = {(x.voucher, x.account, x.dimensions, x.role, x.debit > 0): x for x in lines}
    for x in accrual.lines:
        if x.role is LineRole.ACCRUED_PAYROLL:
            continue
        origin = keys[(x.voucher[:-3], x.account, x.dimensions, x.role, x.debit > 0)]
        assert abs(x.amount - origin.amount * unpaid / period) < Decimal("0.03")
        assert x.text == origin.text and x.currency == origin.currency
    # The order the lines come in never moves a cent.
    shuffled = list(lines)
    random.Random(seed).shuffle(shuffled)
    assert _accrual(shuffled, unpaid, period) == accrual


@given(specs=expense_lines, days=days)
def test_a_factor_of_one_reproduces_the_expense_lines(specs, days) -> None:
    lines = _lines(specs)
    accrual = _accrual(lines, days, days)
    scaled_back = sorted(
        (x.voucher, x.account, x.dimensions, x.role, x.debit, x.credit, x.text)
        for x in accrual.lines
        if x.role is not LineRole.ACCRUED_PAYROLL
    )
    expected = sorted(
        (f"{x.voucher}-A1", x.account, x.dimensions, x.role, x.debit, x.credit, x.text)
        for x in lines
        if x.role in DEBIT_ROLES
    )
    assert scaled_back == expected
    assert accrual.basis[0].factor_text == f"{days}/{days}"
    assert accrual.basis[0].accrued_total == accrual.basis[0].expense_total


@given(
    amounts=st.lists(cent_amounts, min_size=1, max_size=6),
    unpaid=st.integers(min_value=0, max_value=40),
    period=days,
)
def test_scale_voucher_spreads_exactly_its_total(amounts, unpaid, period) -> None:
    lines = [expense("V", f"6001{n:02d}", LineRole.EARNINGS, str(a)) for n, a in enumerate(amounts)]
    accrued, shares = scale_voucher(lines, unpaid, period)
    assert accrued == scaled(sum(amounts, ZERO), unpaid, period)
    assert sum((share for _, share in shares), ZERO) == accrued
    assert all(share * line.amount >= 0 for line, share in shares)  # never the other side
