"""The posting planner decides from what F&O holds: present, changed, resume, create, conflict.

A small in-memory F&O (numbered headers, lines keyed by number, a changeset refused whole when a
number is taken) runs the planner's steps, with crashes and a second writer thrown in.
"""

import datetime as dt
import itertools
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_factories import MAPPING_YAML, mapping, record, run

from ml_connector_dagster.ledger.dimensions import WorkerContext
from ml_connector_dagster.ledger.journal import build_journal
from ml_connector_dagster.posting.lines import LedgerLine, expected_lines
from ml_connector_dagster.posting.payloads import split_parts
from ml_connector_dagster.posting.plan import HeaderState, PlanKind, batch_order, plan_next

M = mapping(MAPPING_YAML.replace("  name: PAYROLL\n", "  name: PAYROLL\n  detail_level: worker\n"))


def _journal(workers: int = 5, check: dt.date = dt.date(2026, 11, 20), salary: str = "100.00"):
    records = [
        record(f"p{i}", f"w{i}", [("SALARY", salary), ("OVERTIME", "5.00")], ["10.00"])
        for i in range(workers)
    ]
    contexts = {
        f"w{i}": WorkerContext(f"w{i}", number=str(100 + i), department_key="D200")
        for i in range(workers)
    }
    return build_journal(run(check=check), records, contexts, M, M.company("USMF")).journal


JOURNAL = _journal()
EXPECTED = expected_lines(JOURNAL, M)
PER_VOUCHER = len(JOURNAL.lines) // 5
ZERO = Decimal("0.00")


class FakeLedger:
    """F&O as far as the planner cares: numbered headers and lines keyed by LineNumber."""

    def __init__(self) -> None:
        self.headers: dict[str, dict[int, LedgerLine]] = {}
        self.posted: set[str] = set()
        self._numbers = itertools.count(1)

    def create_header(self) -> str:
        number = f"USMF-{next(self._numbers):06d}"
        self.headers[number] = {}
        return number

    def add(self, batch: str, lines: list[LedgerLine]) -> bool:
        """A changeset: all lines or none (refused when a number is taken)."""
        if batch not in self.headers or batch in self.posted:
            return False
        if any(line.number in self.headers[batch] for line in lines):
            return False
        self.headers[batch].update({line.number: line for line in lines})
        return True

    def delete_if_empty(self, batch: str) -> None:
        if batch in self.headers and not self.headers[batch] and batch not in self.posted:
            del self.headers[batch]

    def states(self) -> list[HeaderState]:
        return [HeaderState(b, b in self.posted, dict(lines)) for b, lines in self.headers.items()]

    def all_lines(self) -> list[int]:
        return sorted(n for lines in self.headers.values() for n in lines)


def _write_once(ledger: FakeLedger, parts, expected, created: set[str], max_steps: int = 100):
    """One writer following the plan until it is not a write (or it "crashes" at max_steps)."""
    for _ in range(max_steps):
        plan = plan_next(expected, parts, ledger.states())
        if plan.kind is not PlanKind.WRITE:
            for batch in plan.surplus:
                ledger.delete_if_empty(batch)
            return plan
        mine = [b for b in plan.surplus if b in created]
        if mine:
            for batch in mine:
                ledger.delete_if_empty(batch)
            continue
        step = plan.step
        if step.target is None:
            created.add(ledger.create_header())
        else:
            ledger.add(step.target, [expected[n] for n in step.missing])
    return None


def test_an_empty_ledger_asks_for_the_first_parts_header() -> None:
    parts = split_parts(JOURNAL, PER_VOUCHER * 2)
    plan = plan_next(EXPECTED, parts, [])
    assert plan.kind is PlanKind.WRITE
    assert plan.step.target is None and plan.step.part.index == 1
    assert plan.step.missing == parts[0].line_numbers


def test_line_numbers_run_across_parts_whatever_the_split() -> None:
    for limit in (PER_VOUCHER, PER_VOUCHER * 2, len(JOURNAL.lines)):
        numbers = [n for part in split_parts(JOURNAL, limit) for n in part.line_numbers]
        assert numbers == list(range(1, len(JOURNAL.lines) + 1)) == sorted(EXPECTED)


def test_a_journal_present_in_another_split_is_present() -> None:
    ledger = FakeLedger()
    _write_once(ledger, split_parts(JOURNAL, len(JOURNAL.lines)), EXPECTED, set())
    assert len(ledger.headers) == 1
    smaller = split_parts(JOURNAL, PER_VOUCHER)  # max_lines lowered after posting
    plan = plan_next(EXPECTED, smaller, ledger.states())
    assert plan.kind is PlanKind.PRESENT and plan.step is None
    assert plan.holders == tuple(ledger.headers)


def test_the_lowest_empty_header_is_the_keeper_and_the_others_are_surplus() -> None:
    ledger = FakeLedger()
    first, second = ledger.create_header(), ledger.create_header()
    plan = plan_next(EXPECTED, split_parts(JOURNAL, len(JOURNAL.lines)), ledger.states())
    assert plan.step.target == first and plan.surplus == (second,)


def test_two_writers_that_both_created_a_header_end_with_one_journal() -> None:
    ledger = FakeLedger()
    parts = split_parts(JOURNAL, len(JOURNAL.lines))
    a, b = ledger.create_header(), ledger.create_header()  # raced: both created
    # the loser's changeset goes to the keeper too and collides there; it deletes its own header
    assert _write_once(ledger, parts, EXPECTED, {a}).kind is PlanKind.PRESENT
    assert not ledger.add(a, [EXPECTED[1]])  # a resend collides on the key
    assert _write_once(ledger, parts, EXPECTED, {b}).kind is PlanKind.PRESENT
    assert list(ledger.headers) == [a]
    assert ledger.all_lines() == sorted(EXPECTED)


def test_resume_adds_exactly_the_missing_numbers_to_the_journal_holding_the_part() -> None:
    parts = split_parts(JOURNAL, len(JOURNAL.lines))
    ledger = FakeLedger()
    batch = ledger.create_header()
    ledger.add(batch, [EXPECTED[n] for n in (1, 2, 3)])
    plan = plan_next(EXPECTED, parts, ledger.states())
    assert plan.step.target == batch
    assert plan.step.missing == tuple(n for n in sorted(EXPECTED) if n > 3)


def test_changed_money_names_account_amounts_and_difference() -> None:
    ledger = FakeLedger()
    parts = split_parts(JOURNAL, len(JOURNAL.lines))
    _write_once(ledger, parts, EXPECTED, set())
    now = expected_lines(_journal(salary="110.00"), M)
    plan = plan_next(now, parts, ledger.states())
    assert plan.kind is PlanKind.CHANGED and plan.step is None
    by_account = {d.account: d for d in plan.differences}
    salary_accounts = [d for d in by_account.values() if d.now > d.in_dynamics > 0]
    assert salary_accounts, plan.differences
    assert all(d.difference == d.now - d.in_dynamics for d in plan.differences)
    assert sum(d.difference for d in plan.differences) == 0  # both sides balance
    text = plan.differences[0].describe()
    assert plan.differences[0].account in text and "difference" in text


def test_a_partial_journal_that_differs_is_changed_not_resumed() -> None:
    ledger = FakeLedger()
    batch = ledger.create_header()
    wrong = replace(EXPECTED[1], debit=EXPECTED[1].debit + Decimal("1.00"))
    ledger.add(batch, [wrong, EXPECTED[2]])
    plan = plan_next(EXPECTED, split_parts(JOURNAL, len(JOURNAL.lines)), ledger.states())
    assert plan.kind is PlanKind.CHANGED


def test_lines_beyond_the_journal_are_a_change() -> None:
    smaller = _journal(workers=4)
    ledger = FakeLedger()
    _write_once(ledger, split_parts(JOURNAL, len(JOURNAL.lines)), EXPECTED, set())
    plan = plan_next(expected_lines(smaller, M), split_parts(smaller, 5000), ledger.states())
    assert plan.kind is PlanKind.CHANGED


def test_the_same_line_in_two_journals_is_a_conflict_naming_both() -> None:
    ledger = FakeLedger()
    a, b = ledger.create_header(), ledger.create_header()
    ledger.add(a, [EXPECTED[1]])
    ledger.add(b, [EXPECTED[1]])
    plan = plan_next(EXPECTED, split_parts(JOURNAL, 5000), ledger.states())
    assert plan.kind is PlanKind.CONFLICT and a in plan.reason and b in plan.reason


def test_a_posted_journal_missing_lines_is_never_written_to() -> None:
    ledger = FakeLedger()
    batch = ledger.create_header()
    ledger.add(batch, [EXPECTED[1], EXPECTED[2]])
    ledger.posted.add(batch)
    plan = plan_next(EXPECTED, split_parts(JOURNAL, 5000), ledger.states())
    assert plan.kind is PlanKind.CONFLICT and "posted" in plan.reason


def test_a_moved_check_date_with_the_same_money_is_present_and_noted() -> None:
    ledger = FakeLedger()
    _write_once(ledger, split_parts(JOURNAL, 5000), EXPECTED, set())
    moved = _journal(check=dt.date(2026, 11, 21))
    assert moved.identity == JOURNAL.identity  # the identity ignores the check date
    plan = plan_next(expected_lines(moved, M), split_parts(moved, 5000), ledger.states())
    assert plan.kind is PlanKind.PRESENT
    assert plan.dated and "2026-11-20" in plan.dated[0] and "2026-11-21" in plan.dated[0]


def test_all_posted_only_when_every_holding_journal_is_posted() -> None:
    ledger = FakeLedger()
    parts = split_parts(JOURNAL, PER_VOUCHER * 2)
    _write_once(ledger, parts, EXPECTED, set())
    first = next(iter(ledger.headers))
    ledger.posted.add(first)
    assert not plan_next(EXPECTED, parts, ledger.states()).all_posted
    ledger.posted.update(ledger.headers)
    assert plan_next(EXPECTED, parts, ledger.states()).all_posted


def test_batch_order_follows_the_number_sequence() -> None:
    assert sorted(["USMF-10", "USMF-9", "USMF-100"], key=batch_order) == [
        "USMF-9",
        "USMF-10",
        "USMF-100",
    ]


@settings(max_examples=150, deadline=None)
@given(
    limit_voucher_count=st.integers(min_value=1, max_value=5),
    crashes=st.lists(st.integers(min_value=0, max_value=6), max_size=4),
    late_extra_header=st.booleans(),
)
def test_any_sequence_of_crashes_ends_with_each_line_exactly_once(
    limit_voucher_count: int, crashes: list[int], late_extra_header: bool
) -> None:
    parts = split_parts(JOURNAL, PER_VOUCHER * limit_voucher_count)
    ledger = FakeLedger()
    for steps in crashes:  # attempts that die after a few steps, each a fresh process
        _write_once(ledger, parts, EXPECTED, set(), max_steps=steps)
        if late_extra_header:  # an ambiguous create that landed after all
            ledger.create_header()
    final = _write_once(ledger, parts, EXPECTED, set())
    assert final is not None and final.kind is PlanKind.PRESENT
    assert ledger.all_lines() == sorted(EXPECTED)  # no line twice, none missing
    assert plan_next(EXPECTED, parts, ledger.states()).kind is PlanKind.PRESENT
    assert all(lines for lines in ledger.headers.values())  # no empty journal left behind


@pytest.mark.parametrize("first_limit,second_limit", [(1, 5), (5, 1), (2, 3)])
def test_a_split_changed_between_attempts_never_duplicates(
    first_limit: int, second_limit: int
) -> None:
    ledger = FakeLedger()
    _write_once(ledger, split_parts(JOURNAL, PER_VOUCHER * first_limit), EXPECTED, set(), 3)
    final = _write_once(ledger, split_parts(JOURNAL, PER_VOUCHER * second_limit), EXPECTED, set())
    assert final.kind in (PlanKind.PRESENT, PlanKind.CONFLICT)
    numbers = ledger.all_lines()
    assert len(numbers) == len(set(numbers))


def test_a_corrected_journal_is_present_when_journal_plus_corrections_equal_now() -> None:
    ledger = FakeLedger()
    parts = split_parts(JOURNAL, 5000)
    _write_once(ledger, parts, EXPECTED, set())
    changed = _journal(salary="110.00")
    now = expected_lines(changed, M)
    plan = plan_next(now, split_parts(changed, 5000), ledger.states())
    assert plan.kind is PlanKind.CHANGED
    fixes = [
        LedgerLine(0, d.account, d.currency, max(d.difference, ZERO), max(-d.difference, ZERO), "")
        for d in plan.differences
    ]
    corrected = plan_next(now, split_parts(changed, 5000), ledger.states(), fixes)
    assert corrected.kind is PlanKind.PRESENT and corrected.step is None
    half = [replace(f, debit=f.debit / 2, credit=f.credit / 2) for f in fixes]
    assert plan_next(now, split_parts(changed, 5000), ledger.states(), half).kind is (
        PlanKind.CHANGED
    )
