"""Allocation by time: hours, then an enabled time split, then job assignments, then the
department (``ledger/time_allocation.py``), each expense split in cents that sum to the record.

Expected shares are computed here from the stated hours and percentages (exact fractions),
never read back from the code under test.
"""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_factories import MAPPING_YAML, mapping, record, run

from ml_connector_dagster.config.mapping import MappingError
from ml_connector_dagster.ledger.checks import check_balanced, check_reconciled
from ml_connector_dagster.ledger.inputs import JobShare, WorkerContext
from ml_connector_dagster.ledger.journal import LineRole, build_journal
from ml_connector_dagster.ledger.time_allocation import (
    AllocationSource,
    choose_allocation,
    hours_shares,
    split_shares,
)

M = mapping()
USMF = M.company("USMF")
KEYS = {"jc_eng": "CC-ENG", "jc_ops": "CC-OPS"}  # Rippling job code id -> mapping key
CENT = Decimal("0.01")


def _mapping_with_order(order: str):
    return mapping(MAPPING_YAML + f"allocation:\n  order: {order}\n")


def _cost_centers(journal, role=LineRole.EARNINGS) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for line in journal.lines:
        if line.role is role:
            center = dict(line.dimensions).get("CostCenter", "")
            out[center] = out.get(center, Decimal(0)) + line.debit - line.credit
    return out


def _worker(**kwargs) -> WorkerContext:
    return WorkerContext("w", department_key="D200", **kwargs)  # D200: cost center CCGEN


ASSIGNED = {"job_codes": (("CC-ENG", 1), ("CC-OPS", 1)), "job_assignment_ids": ("a1", "a2")}
SPLIT = split_shares([(("jc_eng",), Decimal("33.33")), (("jc_ops",), Decimal("66.67"))], KEYS)
HOURS = hours_shares([(("jc_eng",), Decimal("30")), (("jc_ops",), Decimal("10"))], KEYS)


def test_hours_come_first_and_give_the_stated_shares() -> None:
    rec = record("p", "w", earnings=[("SALARY", "1000.00")])
    worker = _worker(time_split=SPLIT, **ASSIGNED)
    build = build_journal(run(), [rec], {"w": worker}, M, USMF, hours={"w": HOURS})
    assert _cost_centers(build.journal) == {"CCENG": Decimal("750.00"), "CCOPS": Decimal("250.00")}
    [summary] = build.allocation
    assert (summary.source, summary.workers, summary.records) == ("time_entries", 1, 1)
    assert summary.amount == Decimal("1000.00")


def test_an_enabled_split_comes_next_with_its_percentages() -> None:
    rec = record("p", "w", earnings=[("SALARY", "1000.00")], er_taxes=["76.50"])
    build = build_journal(run(), [rec], {"w": _worker(time_split=SPLIT, **ASSIGNED)}, M, USMF)
    assert _cost_centers(build.journal) == {"CCENG": Decimal("333.30"), "CCOPS": Decimal("666.70")}
    # 76.50 x 33.33% = 25.49745 and x 66.67% = 51.00255: the floors leave 1 cent for the
    # larger remainder (0.745 against 0.255).
    assert _cost_centers(build.journal, LineRole.EMPLOYER_TAX) == {
        "CCENG": Decimal("25.50"),
        "CCOPS": Decimal("51.00"),
    }
    assert [s.source for s in build.allocation] == ["time_split"]


def test_then_the_assignments_equally_then_the_department() -> None:
    rec = record("p", "w", earnings=[("SALARY", "100.01")])
    equal = build_journal(run(), [rec], {"w": _worker(**ASSIGNED)}, M, USMF)
    # a1 (CC-ENG) is the lower job-assignment id: it takes the tie cent.
    assert _cost_centers(equal.journal) == {"CCENG": Decimal("50.01"), "CCOPS": Decimal("50.00")}
    assert [s.source for s in equal.allocation] == ["job_assignments"]
    alone = build_journal(run(), [rec], {"w": _worker()}, M, USMF)
    assert _cost_centers(alone.journal) == {"CCGEN": Decimal("100.01")}
    assert [s.source for s in alone.allocation] == ["department"]


def test_the_order_is_the_mapping_s() -> None:
    rec = record("p", "w", earnings=[("SALARY", "1000.00")])
    worker = _worker(time_split=SPLIT, **ASSIGNED)
    assignments_first = _mapping_with_order("[job_assignments, time_entries, department]")
    build = build_journal(run(), [rec], {"w": worker}, assignments_first, USMF, hours={"w": HOURS})
    assert _cost_centers(build.journal) == {"CCENG": Decimal("500.00"), "CCOPS": Decimal("500.00")}
    department_only = _mapping_with_order("[department]")
    build = build_journal(run(), [rec], {"w": worker}, department_only, USMF, hours={"w": HOURS})
    assert [s.source for s in build.allocation] == ["department"]


@pytest.mark.parametrize(
    ("order", "message"),
    [
        ("[time_entries, job_assignments]", "must end with department"),
        ("[department, time_split]", "must end with department"),
        ("[time_split, time_split, department]", "repeated: time_split"),
        ("[hours, department]", "allocation.order.0"),
        ("[]", "must end with department"),
    ],
)
def test_a_bad_order_is_refused(order: str, message: str) -> None:
    with pytest.raises((MappingError, ValueError), match=message):
        _mapping_with_order(order)


def test_the_default_order_leaves_the_mapping_hash_as_it_was() -> None:
    explicit = _mapping_with_order("[time_entries, time_split, job_assignments, department]")
    assert explicit.content_hash == M.content_hash
    other = _mapping_with_order("[job_assignments, department]")
    assert other.content_hash != M.content_hash


def test_a_combination_of_job_codes_takes_each_one_s_dimensions() -> None:
    combo_mapping = mapping(
        MAPPING_YAML.replace(
            "  CC-OPS: {CostCenter: CCOPS}\n",
            "  CC-OPS: {CostCenter: CCOPS}\n  SITE-9: {Department: D900}\n",
        )
    )
    shares = split_shares([(("jc_site", "jc_eng"), Decimal("100"))], {**KEYS, "jc_site": "SITE-9"})
    assert shares[0].job_codes == ("CC-ENG", "SITE-9")  # in job code id order
    rec = record("p", "w", earnings=[("SALARY", "10.00")])
    journal = build_journal(
        run(), [rec], {"w": _worker(time_split=shares)}, combo_mapping, USMF
    ).journal
    [line] = [line for line in journal.lines if line.role is LineRole.EARNINGS]
    assert dict(line.dimensions) == {
        "BusinessUnit": "001",
        "Department": "D900",
        "CostCenter": "CCENG",
    }


def test_sources_without_positive_weight_are_passed_over() -> None:
    zero = (JobShare(("CC-ENG",), Decimal(0), ("jc_eng",)),)
    worker = _worker(time_split=zero, **ASSIGNED)
    order = tuple(AllocationSource)
    assert choose_allocation(order, worker, zero).source is AllocationSource.JOB_ASSIGNMENTS
    assert hours_shares([(("jc_eng",), Decimal(0))], KEYS) == ()


def test_hours_are_summed_per_combination_and_ordered_by_job_code_id() -> None:
    shares = hours_shares(
        [
            (("jc_ops",), Decimal("2.5")),
            (("jc_eng",), Decimal("1")),
            (("jc_ops",), Decimal("0.5")),
            ((), Decimal("4")),
        ],
        KEYS,
    )
    assert [(s.job_codes, s.weight, s.tie_key) for s in shares] == [
        ((), Decimal("4"), ()),
        (("CC-ENG",), Decimal("1"), ("jc_eng",)),
        (("CC-OPS",), Decimal("3.0"), ("jc_ops",)),
    ]


# --- properties -----------------------------------------------------------------------------
money = st.integers(min_value=-(10**7), max_value=10**8).map(lambda c: Decimal(c) / 100)
hours = st.integers(min_value=0, max_value=400).map(lambda h: Decimal(h) / 4)  # quarter hours
percent = st.integers(min_value=1, max_value=9999).map(lambda p: Decimal(p) / 100)


@settings(max_examples=80, deadline=None)
@given(salary=money, tax=money, eng=hours, ops=hours, untracked=hours)
def test_hours_give_each_piece_its_share_within_a_cent_and_the_record_exactly(
    salary, tax, eng, ops, untracked
) -> None:
    rec = record("p", "w", earnings=[("SALARY", str(salary))], er_taxes=[str(tax)])
    logged = hours_shares([(("jc_eng",), eng), (("jc_ops",), ops), ((), untracked)], KEYS)
    build = build_journal(run(), [rec], {"w": _worker(**ASSIGNED)}, M, USMF, hours={"w": logged})
    journal = build.journal
    assert check_balanced(journal) == [] and check_reconciled(journal, [rec]) == []
    total = eng + ops + untracked
    stated = {"CCENG": eng, "CCOPS": ops, "CCGEN": untracked} if total else {"CCENG": 1, "CCOPS": 1}
    weight = sum(stated.values())
    for role, amount in ((LineRole.EARNINGS, salary), (LineRole.EMPLOYER_TAX, tax)):
        got = _cost_centers(journal, role)
        assert sum(got.values(), Decimal(0)) == amount  # every split sums to the record
        for center, part in stated.items():
            exact = Fraction(amount) * Fraction(part) / Fraction(weight)
            assert abs(Fraction(got.get(center, Decimal(0))) - exact) < Fraction(CENT)


@settings(max_examples=80, deadline=None)
@given(salary=money, first=percent)
def test_split_percentages_give_the_stated_shares(salary, first) -> None:
    shares = split_shares([(("jc_eng",), first), (("jc_ops",), Decimal(100) - first)], KEYS)
    rec = record("p", "w", earnings=[("SALARY", str(salary))])
    journal = build_journal(run(), [rec], {"w": _worker(time_split=shares)}, M, USMF).journal
    got = _cost_centers(journal)
    assert sum(got.values(), Decimal(0)) == salary
    exact = Fraction(salary) * Fraction(first) / 100
    assert abs(Fraction(got.get("CCENG", Decimal(0))) - exact) < Fraction(CENT)
    assert check_balanced(journal) == []
