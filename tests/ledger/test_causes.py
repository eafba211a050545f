"""Findings grouped by root cause, with the labor cost each holds back (ledger/causes.py)."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from ml_connector_dagster.ledger.causes import (
    KNOCK_ON_FULLY_MAPPED,
    amounts_text,
    cause_of,
    group_causes,
    money,
)
from ml_connector_dagster.ledger.checks import Finding
from ml_connector_dagster.ledger.dimensions import Unmapped
from ml_connector_dagster.ledger.entries import account_cause, unmapped_cause
from ml_connector_dagster.ledger.inputs import PayrollRecord, ReportedTotals

CENTS = st.integers(min_value=0, max_value=10_000_000).map(lambda c: Decimal(c) / 100)


def _record(n: int, worker: str, gross: Decimal, tax: Decimal, benefit: Decimal, cur="USD"):
    return PayrollRecord(
        id=f"wpr_{n}",
        worker_id=worker,
        currency=cur,
        gross_pay=gross,
        net_pay=Decimal("1.00"),
        summary=ReportedTotals(
            employer_taxes=tax,
            employee_taxes=Decimal("7.00"),  # employee side: never labor cost
            employee_deductions=Decimal("3.00"),
            employer_contributions=benefit,
        ),
    )


def _unmapped(dept: str | None, listed: bool = False, dimension: str = "Department") -> Unmapped:
    return Unmapped("w", dimension, "worker w", dept, "Field Ops" if dept else None, listed)


def test_an_unlisted_department_is_one_cause_whatever_dimension_it_misses() -> None:
    assert unmapped_cause(_unmapped("D110")) == unmapped_cause(
        _unmapped("D110", dimension="CostCenter")
    )
    assert unmapped_cause(_unmapped("D110")).startswith("Department D110 (Field Ops) is not in")


def test_a_listed_department_names_the_dimension_it_lacks() -> None:
    cause = unmapped_cause(_unmapped("D110", listed=True, dimension="CostCenter"))
    assert "D110" in cause and "no CostCenter" in cause


def test_a_worker_without_department_is_told_to_fix_rippling_or_the_mapping() -> None:
    cause = unmapped_cause(_unmapped(None))
    assert "without a department" in cause and "Department" in cause


def test_an_item_without_account_names_the_item() -> None:
    assert account_cause("earning BONUS") == (
        "Earning BONUS has no main account in the mapping file (accounts:)"
    )


def test_a_finding_without_a_cause_is_its_own() -> None:
    finding = Finding("journal run_1", "total", "1", "2", "differ")
    assert cause_of(finding) == "journal run_1: total: differ"
    assert cause_of(Finding("s", "i", "", "")) == "s: i"


@given(
    st.lists(
        st.tuples(
            st.integers(0, 5),  # worker
            st.sampled_from(["A", "B", "C"]),  # cause
            CENTS,
            CENTS,
            CENTS,
        ),
        min_size=1,
        max_size=30,
    )
)
def test_each_cause_counts_its_workers_and_the_labor_cost_of_its_records(rows) -> None:
    records = [
        _record(n, f"w{worker}", gross, tax, benefit)
        for n, (worker, _, gross, tax, benefit) in enumerate(rows)
    ]
    # Two findings per record (two dimensions, say): a record still counts once.
    findings = [
        Finding(f"worker {r.worker_id}", item, "", "", cause=cause, records=(r.id,))
        for r, (_, cause, *_) in zip(records, rows, strict=True)
        for item in ("dimension Department", "dimension CostCenter")
    ]
    causes = group_causes(findings, {r.id: r for r in records})
    assert sorted(c.label for c in causes) == sorted({cause for _, cause, *_ in rows})
    for cause in causes:
        behind = [r for r, row in zip(records, rows, strict=True) if row[1] == cause.label]
        expected = sum(
            (r.gross_pay + r.summary.employer_taxes + r.summary.employer_contributions)
            for r in behind
        )
        assert cause.findings == 2 * len(behind)
        assert cause.workers == len({r.worker_id for r in behind})
        assert cause.amounts == (("USD", expected),)
    held = [sum(a for _, a in c.amounts) for c in causes]
    assert held == sorted(held, reverse=True)  # the most money first


def test_amounts_are_per_currency() -> None:
    records = [
        _record(1, "w1", Decimal("100.00"), Decimal("10.00"), Decimal("1.00"), "USD"),
        _record(2, "w2", Decimal("200.00"), Decimal("20.00"), Decimal("2.00"), "EUR"),
    ]
    findings = [Finding("x", "y", "", "", cause="C", records=(r.id,)) for r in records]
    [cause] = group_causes(findings, {r.id: r for r in records})
    assert dict(cause.amounts) == {"EUR": Decimal("222.00"), "USD": Decimal("111.00")}
    assert amounts_text(cause.amounts) == "222.00 EUR, 111.00 USD"


def test_a_knock_on_cause_says_so() -> None:
    [cause] = group_causes(
        [Finding("run", "earnings USD", "1", "2", cause=KNOCK_ON_FULLY_MAPPED)], {}
    )
    assert cause.knock_on and cause.workers == 0 and cause.amounts == ()


def test_money_groups_thousands_and_keeps_cents() -> None:
    assert money(Decimal("175772.4"), "USD") == "175,772.40 USD"
    assert money(Decimal("-1234567.891"), "EUR") == "-1,234,567.89 EUR"
