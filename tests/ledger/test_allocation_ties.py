"""Remainder ties follow Rippling ids, never the order an API listed the pieces in.

``accounting.md``: ties of the remainder go to the piece of the lower job-assignment id (time
entries: the lower job code id), so the same payroll posts the same cents from one read to the
next and two independent implementations agree to the cent.
"""

import random
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_factories import mapping, record, run

from ml_connector_dagster.ledger.allocation import allocate
from ml_connector_dagster.ledger.checks import check_balanced
from ml_connector_dagster.ledger.inputs import WorkerContext
from ml_connector_dagster.ledger.journal import LineRole, build_journal

M = mapping()
USMF = M.company("USMF")

cents = st.integers(min_value=-(10**8), max_value=10**8).map(lambda c: Decimal(c) / 100)
ids = st.text(alphabet="0123456789abcdef", min_size=1, max_size=6)
pieces = st.lists(
    st.tuples(ids, st.integers(min_value=0, max_value=50).map(Decimal)),
    min_size=1,
    max_size=8,
    unique_by=lambda piece: piece[0],
)


@given(amount=cents, parts=pieces, seed=st.integers())
def test_shuffling_the_parts_never_moves_a_cent(amount, parts, seed) -> None:
    shuffled = list(parts)
    random.Random(seed).shuffle(shuffled)
    first = dict(
        zip(
            (k for k, _ in parts),
            allocate(amount, [w for _, w in parts], [k for k, _ in parts]),
            strict=True,
        )
    )
    second = dict(
        zip(
            (k for k, _ in shuffled),
            allocate(amount, [w for _, w in shuffled], [k for k, _ in shuffled]),
            strict=True,
        )
    )
    assert first == second
    assert sum(first.values(), Decimal(0)) == amount


def test_a_tie_goes_to_the_lower_key_whatever_its_place() -> None:
    one_cent = Decimal("0.01")
    assert allocate(one_cent, [Decimal(1), Decimal(1)], ["b", "a"]) == [Decimal("0.00"), one_cent]
    assert allocate(one_cent, [Decimal(1), Decimal(1)], ["a", "b"]) == [one_cent, Decimal("0.00")]
    # 1/3 and 2/3 of 0.02: remainders 2/3 and 1/3 of a cent are no tie; the larger wins.
    assert allocate(Decimal("0.02"), [Decimal(1), Decimal(2)], ["a", "b"]) == [
        Decimal("0.01"),
        Decimal("0.01"),
    ]


def test_equal_remainders_at_different_magnitudes_are_still_a_tie() -> None:
    """Weights 1 and 301 of 302 parts give remainders that are equal only in exact arithmetic:
    a rounded quotient would break the tie by precision, not by key."""
    weights = [Decimal(1), Decimal(301)]
    amount = Decimal("0.02")  # 2 cents: exact shares 2/302 and 602/302 -> remainders 2 and 296
    assert sum(allocate(amount, weights, ["z", "a"])) == amount
    weights = [Decimal("0.5"), Decimal("1.5")]  # 1 cent: shares 0.25 and 0.75: no tie
    assert allocate(Decimal("0.01"), weights, ["a", "b"]) == [Decimal("0.00"), Decimal("0.01")]
    weights = [Decimal("2.5"), Decimal("7.5"), Decimal("2.5"), Decimal("7.5")]  # 0.02 -> ties
    assert allocate(Decimal("0.02"), weights, ["d", "c", "b", "a"]) == [
        Decimal("0.00"),
        Decimal("0.01"),
        Decimal("0.00"),
        Decimal("0.01"),
    ]


def test_tie_keys_must_match_the_weights() -> None:
    import pytest

    with pytest.raises(ValueError, match="tie key"):
        allocate(Decimal("1.00"), [Decimal(1)], ["a", "b"])


codes = st.sampled_from(["CC-ENG", "CC-OPS"])
assignment_lists = st.lists(
    st.tuples(ids, codes), min_size=2, max_size=5, unique_by=lambda assignment: assignment[0]
)
amounts = st.integers(min_value=1, max_value=10**6).map(lambda c: str(Decimal(c) / 100))


def _worker(assignments) -> WorkerContext:
    return WorkerContext(
        "w",
        department_key="D100",
        job_codes=tuple((code, 1) for _, code in assignments),
        job_assignment_ids=tuple(assignment_id for assignment_id, _ in assignments),
    )


@settings(max_examples=60, deadline=None)
@given(assignments=assignment_lists, salary=amounts, tax=amounts, seed=st.integers())
def test_the_api_order_of_assignments_never_changes_a_journal_cent(
    assignments, salary, tax, seed
) -> None:
    rec = record("p", "w", earnings=[("SALARY", salary)], er_taxes=[tax], ee_taxes=[tax])
    shuffled = list(assignments)
    random.Random(seed).shuffle(shuffled)
    a = build_journal(run(), [rec], {"w": _worker(assignments)}, M, USMF).journal
    b = build_journal(run(), [rec], {"w": _worker(shuffled)}, M, USMF).journal

    def postings(journal):
        return sorted(
            (line.account, line.dimensions, line.debit, line.credit) for line in journal.lines
        )

    assert postings(a) == postings(b)
    assert check_balanced(a) == [] and check_balanced(b) == []
    earnings = sum((line.debit for line in a.lines if line.role is LineRole.EARNINGS), Decimal(0))
    assert earnings == rec.gross_pay  # every split sums to the record, to the cent


def test_the_lower_assignment_id_takes_the_tie_cent() -> None:
    rec = record("p", "w", earnings=[("SALARY", "0.01")])
    later_first = _worker([("b2", "CC-ENG"), ("a1", "CC-OPS")])
    journal = build_journal(run(), [rec], {"w": later_first}, M, USMF).journal
    salary = [line for line in journal.lines if line.role is LineRole.EARNINGS]
    assert [dict(line.dimensions)["CostCenter"] for line in salary] == ["CCOPS"]  # a1 < b2
