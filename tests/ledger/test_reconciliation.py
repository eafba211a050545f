"""Month-close reconciliation (``ledger/reconciliation.py``): Rippling's register against what
F&O posted, per place.

Expected amounts and sentences are worked out by hand in each test (or, in the properties,
summed straight from the generated inputs), never read back from the code under test.
"""

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_connector_dagster.ledger.reconciliation import (
    EntrySource,
    Place,
    PostedEntry,
    Reconciliation,
    RegisterLine,
    Status,
    UnpostedLine,
    month_bounds,
    reconcile,
)

D = Decimal
MONTH = "2026-11"
NOV_10 = dt.date(2026, 11, 10)
ACCOUNTS = ("2100", "6100", "6200")
SAL = Place("6100", (("BusinessUnit", "001"), ("Department", "D100")), "USD")
TAX = Place("6200", (("BusinessUnit", "001"),), "USD")
NET = Place("2100", (), "USD")
SAL_EUR = Place("6100", (("BusinessUnit", "001"), ("Department", "D100")), "EUR")
ELSEWHERE = Place("9999", (), "USD")  # not a payroll account


def reg(place: Place, amount: str, run: str = "R1") -> RegisterLine:
    return RegisterLine(place, D(amount), run)


def post(
    place: Place,
    amount: str,
    source: EntrySource = EntrySource.CONNECTOR,
    journal: str = "JN-0001",
    voucher: str = "V-1",
    date: dt.date = NOV_10,
    text: str = "Payroll",
) -> PostedEntry:
    return PostedEntry(place, D(amount), journal, voucher, date, text, source)


def other(place: Place, amount: str, **kwargs) -> PostedEntry:
    return post(place, amount, EntrySource.OTHER, **{"journal": "GJ-0100", **kwargs})


def pend(place: Place, amount: str, journal: str = "JN-0002", run: str = "R2") -> UnpostedLine:
    return UnpostedLine(place, D(amount), journal, run)


def rec(register=(), posted=(), unposted=(), accounts=ACCOUNTS) -> Reconciliation:
    return reconcile("USMF", MONTH, accounts, register, posted, unposted)


def only_row(result: Reconciliation):
    [row] = result.rows
    return row


# --- one status each, by hand --------------------------------------------------------------


def test_register_equal_to_the_connector_s_postings_is_matched() -> None:
    result = rec(
        [reg(SAL, "1000.00", "R2"), reg(SAL, "250.50", "R1")],
        [post(SAL, "900.00"), post(SAL, "350.50", journal="JN-0003")],
    )
    row = only_row(result)
    assert (row.register, row.posted_by_connector, row.posted_by_others) == (
        D("1250.50"),
        D("1250.50"),
        D("0.00"),
    )
    assert (row.difference, row.unposted, row.other_entry_count) == (D("0.00"), D("0.00"), 0)
    assert row.status is Status.MATCHED
    assert row.runs == ("R1", "R2")
    assert row.connector_journals == ("JN-0001", "JN-0003")
    assert result.reconciled


def test_a_difference_that_is_exactly_the_unposted_journal_is_awaiting_posting() -> None:
    result = rec(
        [reg(SAL, "1000.00", "R1"), reg(SAL, "500.00", "R2")],
        [post(SAL, "1000.00")],
        [pend(SAL, "300.00", "JN-0002"), pend(SAL, "200.00", "JN-0002")],
    )
    row = only_row(result)
    assert (row.difference, row.unposted) == (D("500.00"), D("500.00"))
    assert row.status is Status.AWAITING_POSTING
    assert row.unposted_journals == ("JN-0002",)
    assert not result.reconciled


def test_unposted_that_does_not_cover_the_whole_difference_is_a_difference() -> None:
    row = only_row(rec([reg(SAL, "1000.00")], [post(SAL, "900.00")], [pend(SAL, "50.00")]))
    assert (row.difference, row.unposted) == (D("100.00"), D("50.00"))
    assert row.status is Status.DIFFERENCE


def test_other_entries_show_even_when_they_net_to_zero() -> None:
    result = rec(
        [reg(SAL, "1000.00")],
        [post(SAL, "1000.00"), other(SAL, "40.00"), other(SAL, "-40.00", voucher="V-2")],
    )
    row = only_row(result)
    assert (row.posted_by_others, row.other_entry_count, row.difference) == (D("0.00"), 2, D("0"))
    assert row.status is Status.OTHER_ENTRIES
    assert [e.amount for e in result.other_entries] == [D("40.00"), D("-40.00")]
    assert not result.reconciled


def test_other_entries_beside_a_complete_connector_side_with_unposted() -> None:
    # Register 1000.00 = connector 800.00 posted + 200.00 unposted; someone added 15.00.
    row = only_row(
        rec(
            [reg(SAL, "1000.00")],
            [post(SAL, "800.00"), other(SAL, "15.00")],
            [pend(SAL, "200.00")],
        )
    )
    assert row.difference == D("185.00")  # 1000.00 - (800.00 + 15.00)
    assert row.status is Status.OTHER_ENTRIES


def test_a_hand_entry_that_fills_a_gap_is_still_a_difference() -> None:
    # The connector posted 900.00 of 1000.00 and someone posted the missing 100.00 by hand:
    # the ledger adds up but the connector's side does not, which finance must look at.
    row = only_row(rec([reg(SAL, "1000.00")], [post(SAL, "900.00"), other(SAL, "100.00")]))
    assert row.difference == D("0.00")
    assert row.status is Status.DIFFERENCE


def test_a_shortfall_or_a_posting_without_register_is_a_difference() -> None:
    result = rec([reg(SAL, "960.00")], [post(SAL, "1000.00"), post(TAX, "76.50")])
    assert [(r.place, r.difference, r.status) for r in result.rows] == [
        (SAL, D("-40.00"), Status.DIFFERENCE),
        (TAX, D("-76.50"), Status.DIFFERENCE),
    ]


def test_a_place_whose_amounts_are_all_zero_is_matched() -> None:
    result = rec([reg(SAL, "100.00", "R1"), reg(SAL, "-100.00", "R2"), reg(TAX, "0.00")])
    assert [(r.place, r.register, r.status) for r in result.rows] == [
        (SAL, D("0.00"), Status.MATCHED),
        (TAX, D("0.00"), Status.MATCHED),
    ]
    assert result.rows[0].runs == ("R1", "R2")


def test_an_unposted_journal_on_a_matched_place_is_a_difference() -> None:
    # The register already equals what the connector posted: posting the pending 12.00 would
    # put it in the ledger twice, so the place is no match.
    result = rec([reg(SAL, "100.00")], [post(SAL, "100.00")], [pend(SAL, "12.00", "JN-0009")])
    row = only_row(result)
    assert (row.status, row.difference, row.unposted) == (
        Status.DIFFERENCE,
        D("0.00"),
        D("12.00"),
    )
    assert not result.reconciled
    assert row.unposted_journals == ("JN-0009",)


# --- places, currencies, filtering, order --------------------------------------------------


def test_only_the_accounts_given_are_reconciled() -> None:
    result = rec(
        [reg(SAL, "10.00"), reg(ELSEWHERE, "5.00"), reg(TAX, "7.00")],
        [post(SAL, "10.00"), other(ELSEWHERE, "3.00"), post(TAX, "7.00")],
        [pend(ELSEWHERE, "2.00")],
        accounts=["6100"],
    )
    assert [r.place for r in result.rows] == [SAL]
    assert result.other_entries == () and result.unposted == ()
    assert [(t.currency, t.register, t.posted) for t in result.totals] == [
        ("USD", D("10.00"), D("10.00"))
    ]
    assert result.accounts == ("6100",)
    assert result.reconciled


def test_records_on_other_accounts_are_dropped_unread() -> None:
    # The F&O reader may return more than payroll's accounts: a 3-decimal amount or another
    # month there must not stop the reconciliation of the accounts asked for.
    odd = replace(other(ELSEWHERE, "0.00", date=dt.date(2026, 12, 3)), amount=D("1.234"))
    result = rec([reg(SAL, "10.00")], [post(SAL, "10.00"), odd])
    assert result.reconciled and result.other_entries == ()


def test_the_accounts_are_sorted_and_deduplicated_and_none_is_refused() -> None:
    assert rec(accounts=["6200", "2100", "6200"]).accounts == ("2100", "6200")
    with pytest.raises(ValueError, match="no accounts to reconcile for USMF 2026-11"):
        rec(accounts=[])


def test_currencies_are_never_mixed() -> None:
    result = rec(
        [reg(SAL, "100.00"), reg(SAL_EUR, "90.00"), reg(NET, "-100.00")],
        [post(SAL, "100.00"), post(SAL_EUR, "80.00"), post(NET, "-100.00")],
        [pend(SAL_EUR, "10.00")],
    )
    assert [(r.place.currency, r.difference, r.status) for r in result.rows] == [
        ("USD", D("0.00"), Status.MATCHED),  # 2100
        ("EUR", D("10.00"), Status.AWAITING_POSTING),  # 6100 EUR sorts before 6100 USD
        ("USD", D("0.00"), Status.MATCHED),
    ]
    assert [
        (t.currency, t.register, t.posted, t.unposted, t.difference) for t in result.totals
    ] == [
        ("EUR", D("90.00"), D("80.00"), D("10.00"), D("10.00")),
        ("USD", D("0.00"), D("0.00"), D("0.00"), D("0.00")),
    ]


def test_dimensions_in_format_order_or_with_blanks_meet_the_register_s_place() -> None:
    as_read = Place(
        "6100", (("Department", "D100"), ("CostCenter", ""), ("BusinessUnit", "001")), "USD"
    )
    result = rec([reg(SAL, "10.00")], [post(as_read, "10.00")], [pend(as_read, "0.00")])
    assert only_row(result).place == SAL
    assert result.unposted[0].place == SAL
    assert result.reconciled


def test_lists_are_sorted_as_documented() -> None:
    entries = [
        other(TAX, "1.00", journal="GJ-2", date=dt.date(2026, 11, 3)),
        other(SAL, "2.00", journal="GJ-1", voucher="V-9", date=dt.date(2026, 11, 5)),
        other(SAL, "3.00", journal="GJ-1", voucher="V-2", date=dt.date(2026, 11, 5)),
        other(TAX, "4.00", journal="GJ-1", date=dt.date(2026, 11, 3)),
    ]
    result = rec(
        posted=entries,
        unposted=[pend(TAX, "1.00", "B"), pend(SAL, "2.00", "B"), pend(TAX, "3.00", "A")],
    )
    assert [e.amount for e in result.other_entries] == [D("4.00"), D("1.00"), D("3.00"), D("2.00")]
    assert [u.amount for u in result.unposted] == [D("3.00"), D("2.00"), D("1.00")]
    assert [r.place for r in result.rows] == [SAL, TAX]


def test_entries_alike_but_for_amount_or_text_sort_the_same_whichever_comes_first() -> None:
    a, b, c = other(SAL, "5.00"), other(SAL, "-5.00"), other(SAL, "5.00", text="Adjustment")
    forward, backward = rec(posted=[a, b, c]), rec(posted=[c, b, a])
    assert forward == backward
    assert [(e.amount, e.text) for e in forward.other_entries] == [
        (D("-5.00"), "Payroll"),
        (D("5.00"), "Adjustment"),
        (D("5.00"), "Payroll"),
    ]
    pending = [
        pend(SAL, "1.00", "J", "R2"),
        pend(SAL, "2.00", "J", "R1"),
        pend(SAL, "0.50", "J", "R1"),
    ]
    assert [u.amount for u in rec(unposted=pending).unposted] == [D("0.50"), D("2.00"), D("1.00")]
    assert rec(unposted=pending) == rec(unposted=pending[::-1])


def test_counts_hold_every_status() -> None:
    assert rec().counts() == {
        Status.MATCHED: 0,
        Status.AWAITING_POSTING: 0,
        Status.OTHER_ENTRIES: 0,
        Status.DIFFERENCE: 0,
    }
    result = rec([reg(SAL, "1.00"), reg(TAX, "2.00")], [post(SAL, "1.00")], [pend(TAX, "2.00")])
    assert result.counts() == {
        Status.MATCHED: 1,
        Status.AWAITING_POSTING: 1,
        Status.OTHER_ENTRIES: 0,
        Status.DIFFERENCE: 0,
    }


def test_trailing_zeros_are_whole_cents() -> None:
    row = only_row(rec([RegisterLine(SAL, D("100.000000"), "R1")], [post(SAL, "100")]))
    assert (str(row.register), str(row.posted_by_connector), str(row.difference)) == (
        "100.00",
        "100.00",
        "0.00",
    )
    assert row.status is Status.MATCHED


# --- refused inputs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "month", ["2026-1", "2026-13", "2026-00", "2026-11-01", "26-11", "", "2026/11", "0000-05"]
)
def test_a_month_not_like_yyyy_mm_is_refused(month: str) -> None:
    with pytest.raises(ValueError, match="is not like YYYY-MM"):
        reconcile("USMF", month, ACCOUNTS, [], [], [])


def test_month_bounds() -> None:
    assert month_bounds("2026-11") == (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert month_bounds("2028-02") == (dt.date(2028, 2, 1), dt.date(2028, 2, 29))
    assert month_bounds("2026-12") == (dt.date(2026, 12, 1), dt.date(2026, 12, 31))


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (1.5, "amount 1.5 is not a Decimal (float)"),
        (15, "amount 15 is not a Decimal (int)"),
        ("15.00", "amount '15.00' is not a Decimal (str)"),
        (D("1.005"), "amount 1.005 has more than 2 decimals"),
        (D("NaN"), "amount NaN is not a number"),
        (D("Infinity"), "amount Infinity is not a number"),
    ],
)
def test_a_bad_amount_is_refused_naming_the_record(amount, message) -> None:
    line = RegisterLine(SAL, amount, "R7")
    with pytest.raises(ValueError) as caught:
        rec([line])
    assert str(caught.value) == (
        f"register line of run R7 on 6100 BusinessUnit=001 Department=D100 USD: {message}"
    )


def test_a_bad_posted_or_unposted_amount_names_its_journal() -> None:
    entry = replace(other(TAX, "0", journal="GJ-7", voucher="V-3"), amount=D("2.001"))
    with pytest.raises(ValueError) as caught:
        rec(posted=[entry])
    assert str(caught.value) == (
        "posted entry of journal GJ-7 voucher V-3 (2026-11-10) on 6200 BusinessUnit=001 USD:"
        " amount 2.001 has more than 2 decimals"
    )
    line = replace(pend(NET, "0", "JN-0042", "R9"), amount=D("0.001"))
    with pytest.raises(ValueError) as caught:
        rec(unposted=[line])
    assert str(caught.value) == (
        "unposted line of journal JN-0042 (run R9) on 2100 USD: amount 0.001 has more than"
        " 2 decimals"
    )


@pytest.mark.parametrize(
    "date", [dt.date(2026, 10, 31), dt.date(2026, 12, 1), dt.date(2025, 11, 10)]
)
def test_an_entry_dated_outside_the_month_is_refused(date: dt.date) -> None:
    with pytest.raises(ValueError) as caught:
        rec([reg(SAL, "5.00")], [post(SAL, "5.00", journal="JN-0005", voucher="V-8", date=date)])
    assert str(caught.value) == (
        f"posted entry of journal JN-0005 voucher V-8 ({date.isoformat()}) on 6100"
        " BusinessUnit=001 Department=D100 USD: dated outside 2026-11"
    )


def test_the_first_and_last_day_of_the_month_are_in_it() -> None:
    first = post(SAL, "1.00", date=dt.date(2026, 11, 1))
    last = post(SAL, "2.00", date=dt.date(2026, 11, 30))
    assert only_row(rec([reg(SAL, "3.00")], [first, last])).status is Status.MATCHED


def test_a_source_that_is_not_an_entry_source_is_refused() -> None:
    with pytest.raises(ValueError, match=r"GJ-0100 .*source 'manual' is not an EntrySource"):
        rec(posted=[replace(other(SAL, "1.00"), source="manual")])


def test_a_dimension_given_twice_is_refused() -> None:
    twice = Place("6100", (("Department", "D100"), ("Department", "D200")), "USD")
    with pytest.raises(
        ValueError, match=r"register line of run R1 on 6100 .*: a dimension is given twice"
    ):
        rec([reg(twice, "1.00")])


# --- the summary -----------------------------------------------------------------------------


def test_summary_of_a_reconciled_month() -> None:
    result = rec([reg(SAL, "10.00"), reg(NET, "-10.00")], [post(SAL, "10.00"), post(NET, "-10.00")])
    assert result.summary() == "USMF 2026-11 reconciled: 2 places matched."


def test_summary_of_an_empty_month() -> None:
    result = rec(accounts=["6100", "2100"])
    assert result.reconciled
    assert result.summary() == (
        "USMF 2026-11 reconciled: no payroll and no postings on the 2 accounts reconciled."
    )


def test_summary_with_a_difference_and_other_entries() -> None:
    result = rec(
        [reg(SAL, "960.00"), reg(TAX, "76.50"), reg(NET, "-500.00"), reg(SAL_EUR, "5.00")],
        [
            post(SAL, "1000.00"),
            post(TAX, "76.50"),
            post(NET, "-500.00"),
            other(NET, "3.00"),
            other(NET, "-3.00", voucher="V-2"),
            post(SAL_EUR, "5.00"),
        ],
    )
    summary = result.summary()
    assert summary == (
        "USMF 2026-11: 2 places matched, 1 place with other entries, 1 difference of"
        " USD -40.00, 2 entries posted by others."
    )
    assert "reconciled" not in summary.lower()


def test_summary_awaiting_posting_and_several_differences() -> None:
    result = rec(
        [reg(SAL, "1234.56"), reg(TAX, "40.00"), reg(NET, "-40.00"), reg(SAL_EUR, "1.00")],
        [post(SAL, "0.00"), post(SAL_EUR, "1.00")],
        [pend(SAL, "1000.00", "JN-0002"), pend(SAL, "234.56", "JN-0001")],
    )
    summary = result.summary()
    assert summary == (
        "USMF 2026-11: 1 place matched, 1 place awaiting posting of journals JN-0001, JN-0002,"
        " 2 differences netting USD 0.00."
    )
    assert "reconciled" not in summary.lower()


def test_summary_names_each_currency_of_the_differences() -> None:
    result = rec([reg(SAL, "1234.56"), reg(SAL_EUR, "-2.50")])
    assert result.summary() == (
        "USMF 2026-11: 0 places matched, 2 differences netting EUR -2.50 and USD 1,234.56."
    )


def test_summary_of_a_matched_month_with_a_journal_pending_that_nets_to_nothing() -> None:
    # A pending journal whose lines on one place cancel out changes no amount, but finance
    # still hears that it waits.
    result = rec(
        [reg(SAL, "100.00")],
        [post(SAL, "100.00")],
        [pend(SAL, "7.00", "JN-0012"), pend(SAL, "-7.00", "JN-0012")],
    )
    assert result.summary() == (
        "USMF 2026-11 reconciled: 1 place matched, but connector journal JN-0012, not yet"
        " posted, would change that."
    )


# --- properties -------------------------------------------------------------------------------
CONSIDERED = ("2100", "6100", "6200")
cents = st.integers(min_value=-(10**8), max_value=10**8).map(lambda c: D(c) / 100)
nonzero_cents = cents.filter(lambda a: a != 0)
places = st.builds(
    Place,
    st.sampled_from((*CONSIDERED, "9999")),
    st.sampled_from(
        [(), (("BusinessUnit", "001"),), (("BusinessUnit", "001"), ("Department", "D100"))]
    ),
    st.sampled_from(["USD", "EUR"]),
)
considered_places = places.filter(lambda p: p.account in CONSIDERED)
days = st.sampled_from([1, 30]).map(lambda d: dt.date(2026, 11, d))  # few: entries collide
short = st.sampled_from(["A", "B", "C"])
register_lines = st.builds(RegisterLine, places, cents, st.sampled_from(["R1", "R2", "R3"]))
posted_entries = st.builds(
    PostedEntry,
    places,
    cents,
    short,
    short,
    days,
    st.sampled_from(["", "fix"]),
    st.sampled_from(EntrySource),
)
unposted_lines = st.builds(UnpostedLine, places, cents, short, st.sampled_from(["R1", "R4"]))
inputs = st.tuples(
    st.lists(register_lines, max_size=12),
    st.lists(posted_entries, max_size=12),
    st.lists(unposted_lines, max_size=6),
)


def _run(register, posted, unposted) -> Reconciliation:
    return reconcile("USMF", MONTH, CONSIDERED, register, posted, unposted)


def _per_currency(records) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for r in records:
        if r.place.account in CONSIDERED:
            out[r.place.currency] = out.get(r.place.currency, D(0)) + r.amount
    return out


@settings(max_examples=150, deadline=None)
@given(data=inputs)
def test_differences_add_up_to_register_less_posted_per_currency(data) -> None:
    register, posted, unposted = data
    result = _run(register, posted, unposted)
    want_register, want_posted = _per_currency(register), _per_currency(posted)
    for currency in set(want_register) | set(want_posted):
        expected = want_register.get(currency, D(0)) - want_posted.get(currency, D(0))
        got = sum((r.difference for r in result.rows if r.place.currency == currency), D(0))
        assert got == expected
        [total] = [t for t in result.totals if t.currency == currency]
        assert total.difference == expected
        assert total.register == want_register.get(currency, D(0))
    touched = {r.place for r in [*register, *posted, *unposted] if r.place.account in CONSIDERED}
    assert {row.place for row in result.rows} == touched


@settings(max_examples=100, deadline=None)
@given(data=inputs, st_data=st.data())
def test_input_order_never_changes_the_result(data, st_data) -> None:
    register, posted, unposted = data
    shuffled = [st_data.draw(st.permutations(part)) for part in (register, posted, unposted)]
    assert _run(*shuffled) == _run(register, posted, unposted)
    assert _run(*shuffled).summary() == _run(register, posted, unposted).summary()


@st.composite
def reconciled_months(draw):
    """Register lines and the connector's entries posting exactly them (split over journals);
    nothing waits unposted (a pending journal on a matched place would be a duplicate)."""
    register = draw(st.lists(st.builds(RegisterLine, considered_places, cents, short), max_size=10))
    posted = []
    for n, line in enumerate(register):
        journal = draw(short)
        posted.append(
            PostedEntry(
                line.place, line.amount, journal, f"V{n}", draw(days), "", EntrySource.CONNECTOR
            )
        )
    return register, posted, []


@settings(max_examples=100, deadline=None)
@given(month=reconciled_months())
def test_register_posted_by_the_connector_alone_reconciles(month) -> None:
    result = _run(*month)
    assert result.reconciled
    assert all(row.status is Status.MATCHED for row in result.rows)
    assert "reconciled" in result.summary()


@settings(max_examples=100, deadline=None)
@given(month=reconciled_months(), place=considered_places, amount=nonzero_cents, day=days)
def test_one_other_entry_unsettles_exactly_its_place(month, place, amount, day) -> None:
    register, posted, unposted = month
    entry = PostedEntry(place, amount, "GJ-9", "V-9", day, "by hand", EntrySource.OTHER)
    result = _run(register, [*posted, entry], unposted)
    assert not result.reconciled
    assert "reconciled" not in result.summary().lower()
    assert result.other_entries == (entry,)
    for row in result.rows:
        if row.place == place:
            assert row.status is not Status.MATCHED
            assert (row.posted_by_others, row.other_entry_count) == (amount, 1)
        else:
            assert row.status is Status.MATCHED


def _split(draw, amount: Decimal) -> list[Decimal]:
    """``amount`` as 1 to 4 pieces in cents that add up to it exactly."""
    pieces = draw(st.lists(cents, max_size=3))
    return [*pieces, amount - sum(pieces, D(0))]


AMOUNTS = ("register", "posted_by_connector", "posted_by_others", "unposted", "difference")


@settings(max_examples=100, deadline=None)
@given(data=inputs, st_data=st.data())
def test_splitting_an_amount_changes_no_total(data, st_data) -> None:
    register, posted, unposted = data
    split = [
        [replace(r, amount=a) for r in part for a in _split(st_data.draw, r.amount)]
        for part in (register, posted, unposted)
    ]
    whole, pieces = _run(register, posted, unposted), _run(*split)
    assert [r.place for r in pieces.rows] == [r.place for r in whole.rows]
    for a, b in zip(whole.rows, pieces.rows, strict=True):
        assert [getattr(a, f) for f in AMOUNTS] == [getattr(b, f) for f in AMOUNTS]
        assert a.status is b.status
    assert pieces.totals == whole.totals
