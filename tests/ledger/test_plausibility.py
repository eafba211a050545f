"""Plausibility warnings: negative net pay, gross far above history, 12+ digit amounts."""

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_factories import record

from ml_connector_dagster.ledger.checks import WITHHELD, withhold_amounts
from ml_connector_dagster.ledger.inputs import MissingAmount
from ml_connector_dagster.ledger.plausibility import (
    HUGE,
    _amount_values,
    gross_history,
    is_huge,
    median,
    plausibility_findings,
    record_amounts,
)

D = Decimal


def _gross(record_id: str, amount: str, worker: str = "w") -> object:
    return record(record_id, worker, [("SALARY", amount)])


def _items(findings) -> list[tuple[str, str]]:
    return [(f.subject.split()[1], f.item) for f in findings]


def test_an_ordinary_record_raises_nothing() -> None:
    ordinary = record("p", "w", [("SALARY", "1000.00")], ["100.00"], ["76.50"], [("5.00", "5.00")])
    assert plausibility_findings([ordinary]) == []


def test_negative_net_pay_is_a_warning_zero_is_not() -> None:
    negative = record("n", "w", [("SALARY", "100.00")], ["150.00"])
    assert negative.net_pay == D("-50.00")
    [finding] = plausibility_findings([negative])
    assert (finding.item, finding.actual) == ("net_pay", "-50.00")
    assert "record n" in finding.subject
    assert plausibility_findings([record("z", "w", [("SALARY", "100.00")], ["100.00"])]) == []


def test_gross_above_three_times_the_median_of_earlier_records_is_a_warning() -> None:
    runs = [_gross("a", "1000.00"), _gross("b", "1200.00"), _gross("c", "3000.00")]
    assert plausibility_findings(runs) == []  # 3000 <= 3 x median(1000, 1200) = 3300
    runs.append(_gross("d", "9000.01"))  # median(1000, 1200, 3000) = 1200; 3 x = 3600
    [finding] = plausibility_findings(runs)
    assert (finding.subject, finding.item, finding.actual) == (
        "record d (worker w)",
        "gross_pay",
        "9000.01",
    )
    assert "median of 3 earlier gross" in finding.expected and "1200.00" in finding.expected


def test_exactly_three_times_is_not_above() -> None:
    assert plausibility_findings([_gross("a", "1000.00"), _gross("b", "3000.00")]) == []
    assert _items(plausibility_findings([_gross("a", "1000.00"), _gross("b", "3000.01")])) == [
        ("b", "gross_pay")
    ]


def test_history_is_per_worker_and_a_first_record_is_not_judged() -> None:
    records = [_gross("a", "1000.00", "w1"), _gross("b", "50000.00", "w2")]
    assert plausibility_findings(records) == []


def test_a_given_history_counts_before_the_snapshot() -> None:
    history = {"w": [D("1000.00"), D("1100.00"), D("900.00")]}
    assert _items(plausibility_findings([_gross("a", "3000.01")], history)) == [("a", "gross_pay")]
    assert plausibility_findings([_gross("a", "3000.00")], history) == []


def test_a_history_whose_median_is_not_positive_judges_nothing() -> None:
    history = {"w": [D("0.00"), D("-10.00")]}
    assert plausibility_findings([_gross("a", "999999.00")], history) == []


def test_a_missing_gross_is_neither_judged_nor_history() -> None:
    missing = replace(_gross("a", "0.00"), missing=(MissingAmount("gross_pay", "null"),))
    later = _gross("b", "5000.00")
    assert plausibility_findings([missing, later]) == []


def test_an_amount_with_twelve_digits_before_the_point_is_a_warning() -> None:
    eleven = record("a", "w", [("SALARY", "99999999999.99")])
    assert plausibility_findings([eleven]) == []
    twelve = record("b", "w", [("SALARY", "100000000000.00")], er_taxes=["1.00"])
    items = _items(plausibility_findings([twelve]))
    assert items == [("b", "gross_pay"), ("b", "net_pay"), ("b", "earnings[0].amount")]


def test_a_huge_negative_amount_and_a_huge_item_are_found() -> None:
    r = record("c", "w", [("SALARY", "10.00")], deductions=[("0.00", "-200000000000")])
    items = [f.item for f in plausibility_findings([r])]
    assert items == ["summary.employer_contributions", "deductions[0].employer_amount"]


def test_median_is_exact_in_decimal() -> None:
    assert median([D("1.00")]) == D("1.00")
    assert median([D("3"), D("1"), D("2")]) == D("2")
    assert median([D("0.01"), D("0.02")]) == D("0.015")
    with pytest.raises(ValueError):
        median([])


def test_every_warning_is_about_one_record_and_withholds_its_amounts() -> None:
    runs = [_gross("a", "1000.00"), _gross("b", "1200.00"), _gross("c", "3000.00")]
    runs.append(record("d", "w", [("SALARY", "9000.01")], ["9100.02"]))  # net -100.01
    runs.append(record("e", "w", [("SALARY", "100000000000.00")], er_taxes=["1.00"]))
    findings = plausibility_findings(runs)
    assert _items(findings) == [
        ("d", "net_pay"),
        ("d", "gross_pay"),
        ("e", "gross_pay"),  # far above the history ...
        ("e", "gross_pay"),  # ... and 12 digits
        ("e", "net_pay"),
        ("e", "earnings[0].amount"),
    ]
    assert all(f.personal for f in findings)
    amounts = ("9000.01", "-100.01", "1200.00", "100000000000.00", "7.5")
    for finding, shown in zip(findings, map(withhold_amounts, findings), strict=True):
        assert (shown.subject, shown.item) == (finding.subject, finding.item)
        texts = " ".join((shown.expected, shown.actual, shown.message))
        assert not [a for a in amounts if a in texts], shown
        assert shown.actual == WITHHELD
    negative, above, huge = (withhold_amounts(findings[n]) for n in (0, 1, 3))
    assert negative.expected == "0 or more"  # the rule stays readable
    assert above.expected == f"at most 3 x {WITHHELD} (median of 3 earlier gross)"
    assert huge.expected == "fewer than 12 digits before the decimal point"


cents = st.decimals(min_value=-(10**13), max_value=10**13, places=2, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(amount=cents)
def test_huge_means_twelve_or_more_digits_before_the_point(amount: Decimal) -> None:
    digits = len(str(abs(amount)).split(".")[0].lstrip("0"))
    assert is_huge(amount) == (digits >= 12)
    assert is_huge(amount) == (abs(amount) >= HUGE)


@settings(max_examples=200, deadline=None)
@given(
    history=st.lists(st.decimals(min_value=1, max_value=10**6, places=2), min_size=1, max_size=6),
    gross=st.decimals(min_value=0, max_value=10**8, places=2),
)
def test_the_gross_rule_is_exactly_above_three_medians(history, gross) -> None:
    records = [_gross(f"h{n}", str(a)) for n, a in enumerate(history)] + [_gross("x", str(gross))]
    flagged = {
        f.subject
        for f in plausibility_findings(records)
        if f.item == "gross_pay" and f.subject.startswith("record x ")
    }
    ordered = sorted(history)
    middle = len(ordered) // 2
    typical = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    assert bool(flagged) == (gross > 3 * typical)


@settings(max_examples=200, deadline=None)
@given(
    earnings=st.lists(cents, min_size=1, max_size=3),
    taxes=st.lists(cents, max_size=3),
    deductions=st.lists(st.tuples(cents, cents), max_size=2),
)
def test_every_warning_names_a_real_field_and_the_rules_never_raise(
    earnings, taxes, deductions
) -> None:
    r = record(
        "p",
        "w",
        [("SALARY", str(a)) for a in earnings],
        [str(a) for a in taxes],
        deductions=[(str(e), str(c)) for e, c in deductions],
    )
    amounts = record_amounts(r)
    assert all(isinstance(amount, Decimal) for _, amount in amounts)
    huge = [name for name, amount in amounts if abs(amount) >= HUGE]
    negative = ["net_pay"] if r.net_pay < 0 else []
    assert [f.item for f in plausibility_findings([r])] == negative + huge


def test_gross_history_keeps_period_order_and_leaves_out_a_missing_gross() -> None:
    first = [record("a1", "w", [("SALARY", "1000.00")]), record("b1", "v", [("SALARY", "7.00")])]
    second = [
        record("a2", "w", [("SALARY", "1100.00")]),
        replace(
            record("b2", "v", [("SALARY", "9.00")]),
            missing=(MissingAmount("gross_pay", "null"),),
        ),
    ]
    history = gross_history([first, second])
    assert history == {"w": [Decimal("1000.00"), Decimal("1100.00")], "v": [Decimal("7.00")]}
    # Fed to the rule: a gross more than 3 x the median of the earlier periods is named.
    [finding] = plausibility_findings([record("a3", "w", [("SALARY", "3500.00")])], history)
    assert finding.subject.startswith("record a3") and finding.item == "gross_pay"
    assert plausibility_findings([record("a3", "w", [("SALARY", "3100.00")])], history) == []


def test_the_unnamed_amounts_are_the_named_ones_in_the_same_order() -> None:
    """The huge-amount rule judges every amount unnamed first; they must be exactly the ones
    it names when one is huge."""
    r = record(
        "p1",
        "w1",
        [("SALARY", "100.00"), ("BONUS", "7.00")],
        ee_taxes=["10.00", "1.00"],
        er_taxes=["8.00"],
        deductions=[("5.00", "2.50"), ("1.00", "0.00")],
        garnishments=["3.00", "4.00"],
    )
    assert list(_amount_values(r)) == [amount for _, amount in record_amounts(r)]
