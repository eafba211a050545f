"""The read-back of created journals, without F&O: what was created, what F&O says, what is late."""

import datetime as dt
from decimal import Decimal

import pytest

from ml_connector_dagster.audit.store import Outcome
from ml_connector_dagster.posting.fo_headers import read_headers
from ml_connector_dagster.posting.fo_observation import (
    FoHeader,
    ObservedStatus,
    created_journals,
    observe_partitions,
    pay_date_of,
    unposted_too_long,
    wanted_headers,
)

PARTITION = "USMF|2026-11-14"


def _attempt(n: int, outcome: str, batch: str | None, debit: str = "100.00", **extra) -> dict:
    row = {
        "id": n,
        "connection": "default",
        "dagster_run_id": f"dagster-{n}",
        "partition_key": PARTITION,
        "journal_key": "k1",
        "payroll_run_id": "run-1",
        "company": "USMF",
        "journal_type": "settlement",
        "pay_period": "2026-11-14",
        "outcome": outcome,
        "journal_batch_number": batch,
        "total_debit": debit,
        "total_credit": debit,
        "source_record_ids": ["r1", "r2", "r3"],
    }
    return {**row, **extra}


def _header(batch: str, debit: str, posted: bool = False, company: str = "usmf") -> FoHeader:
    return FoHeader(
        company=company,
        batch_number=batch,
        posted=posted,
        total_debit=Decimal(debit),
        total_credit=Decimal(debit),
        description=f"Payroll 2026-11-20 settlement mlc-{batch}",
    )


def test_the_latest_created_attempt_is_what_was_created_and_other_outcomes_are_not() -> None:
    attempts = [
        _attempt(1, Outcome.FAILED, "B-1", "90.00"),
        _attempt(2, Outcome.CREATED, "B-1", "100.00"),
        _attempt(3, Outcome.SKIPPED_DUPLICATE, "B-1", "100.00"),
        _attempt(4, Outcome.BLOCKED_BY_CHECK, None, "5.00", journal_key="k2"),
    ]
    [journal] = created_journals(attempts)
    assert journal.batch_numbers == ("B-1",)
    assert journal.total_debit == Decimal("100.00")
    assert journal.dagster_run_id == "dagster-2"
    assert journal.records == 3


def test_lines_replaced_by_a_correction_are_what_was_created_but_a_correcting_journal_is_not() -> (
    None
):
    replaced = created_journals(
        [_attempt(1, Outcome.CREATED, "B-1"), _attempt(2, Outcome.CORRECTED, "B-1", "148.75")]
    )
    assert replaced[0].total_debit == Decimal("148.75")
    correcting = created_journals(
        [_attempt(1, Outcome.CREATED, "B-1"), _attempt(2, Outcome.CORRECTED, "B-9", "148.75")]
    )
    assert correcting[0].batch_numbers == ("B-1",)
    assert correcting[0].total_debit == Decimal("100.00")


def test_a_bad_amount_in_the_trail_is_named_by_attempt_and_field() -> None:
    with pytest.raises(ValueError, match=r"audit attempt 7 \(journal k1\): total_debit"):
        created_journals([_attempt(7, Outcome.CREATED, "B-1", "lots")])


def test_a_split_journal_is_summed_over_its_parts_and_posted_only_when_every_part_is() -> None:
    [journal] = created_journals([_attempt(1, Outcome.CREATED, "B-1, B-2", "100.00")])
    assert wanted_headers([journal]) == {"usmf": ["B-1", "B-2"]}
    half = [_header("B-1", "60.00", posted=True), _header("B-2", "40.00")]
    [partition] = observe_partitions([journal], half)
    [obs] = partition.journals
    assert obs.fo_debit == Decimal("100.00") and obs.unchanged
    assert obs.status is ObservedStatus.PARTLY_POSTED
    assert partition.status is ObservedStatus.PARTLY_POSTED
    both = [_header("B-1", "60.00", posted=True), _header("B-2", "40.00", posted=True)]
    [partition] = observe_partitions([journal], both)
    assert partition.status is ObservedStatus.POSTED


def test_changed_totals_and_a_deleted_journal_are_named_with_created_and_now() -> None:
    journals = created_journals(
        [
            _attempt(1, Outcome.CREATED, "B-1", "100.00"),
            _attempt(2, Outcome.CREATED, "B-2", "50.00", journal_key="k2", payroll_run_id="r-2"),
        ]
    )
    [partition] = observe_partitions(journals, [_header("B-1", "148.75")])
    changed = {obs.created.journal_key: obs for obs in partition.changed}
    assert set(changed) == {"k1", "k2"}
    text = changed["k1"].describe_change()
    assert "B-1" in text and "run-1" in text and "dagster-1" in text
    assert "created debit 100.00" in text and "F&O now debit 148.75" in text
    assert changed["k2"].status is ObservedStatus.MISSING
    assert "B-2 not found in F&O" in changed["k2"].describe_change()
    assert partition.status is ObservedStatus.MISSING


def test_an_unchanged_unposted_journal_is_created_not_posted() -> None:
    journals = created_journals([_attempt(1, Outcome.CREATED, "B-1")])
    [partition] = observe_partitions(journals, [_header("B-1", "100.00")])
    assert partition.changed == ()
    assert partition.status is ObservedStatus.NOT_POSTED


def test_the_pay_date_is_the_descriptions_else_the_period_end() -> None:
    assert pay_date_of(["Payroll 2026-11-20 settlement mlc-x"], "2026-11-14") == dt.date(
        2026, 11, 20
    )
    assert pay_date_of(["edited by finance"], "2026-11-14") == dt.date(2026, 11, 14)


@pytest.mark.parametrize(
    ("today", "listed"),
    [(dt.date(2026, 11, 24), False), (dt.date(2026, 11, 25), True)],
)
def test_unposted_n_days_after_the_pay_date(today: dt.date, listed: bool) -> None:
    journals = created_journals([_attempt(1, Outcome.CREATED, "B-1")])
    partitions = observe_partitions(journals, [_header("B-1", "100.00")])  # paid 2026-11-20
    late = unposted_too_long(partitions, today, days=5)
    assert bool(late) is listed
    if listed:
        assert late[0].days_unposted == 5 and late[0].batch_numbers == ("B-1",)
        assert "not posted in F&O 5 days after its pay date 2026-11-20" in late[0].describe()
        assert "100.00" not in late[0].describe(show_amount=False)
    posted = observe_partitions(journals, [_header("B-1", "100.00", posted=True)])
    assert unposted_too_long(posted, today, days=5) == []


class _Client:
    """Records the filters asked; answers the headers it holds that a filter names."""

    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows
        self.filters: list[str] = []

    def list_entities(self, entity_set: str, *, filter: str, select: list[str]) -> list[dict]:
        assert entity_set == "LedgerJournalHeaders" and "IsPosted" in select
        self.filters.append(filter)
        return [r for r in self.rows if f"'{r['JournalBatchNumber']}'" in filter]


def test_headers_are_read_in_batches_of_or_filters_per_company() -> None:
    numbers = [f"B-{n:03}" for n in range(7)]
    rows = [
        {"dataAreaId": "usmf", "JournalBatchNumber": n, "IsPosted": "No", "JournalTotalDebit": 1}
        for n in numbers
    ]
    client = _Client(rows)
    headers = read_headers(client, {"usmf": numbers, "gbsi": ["B-100"]}, batch=3)
    assert len(client.filters) == 3 + 1
    assert all("dataAreaId eq 'usmf'" in f for f in client.filters[:3])
    assert " or JournalBatchNumber eq " in client.filters[0]
    assert sorted(h.batch_number for h in headers) == numbers
