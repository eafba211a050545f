"""The journals' allocation table withholds one person's pay at the summary detail level."""

import datetime as dt
from decimal import Decimal

from ml_connector_dagster.defs.payroll.allocation_table import FEW_WORKERS, allocation_rows
from ml_connector_dagster.ledger.entries import AllocationSummary, Journal, JournalBuild
from ml_connector_dagster.ledger.journal import JournalIdentity, JournalType


def _build(*summaries: AllocationSummary) -> JournalBuild:
    identity = JournalIdentity("acme", "run_1", "USMF", JournalType.SETTLEMENT)
    journal = Journal(
        identity=identity,
        company="USMF",
        journal_name="PAYROLL",
        trans_date=dt.date(2026, 11, 20),
        reverse_date=None,
        description="x",
        lines=[],
        source_record_ids=[],
        worker_ids=[],
        mapping_hash="h",
    )
    return JournalBuild(journal, [], list(summaries))


MANY = AllocationSummary("job_assignments", 5, 5, "USD", Decimal("9000.00"))
ONE = AllocationSummary("time_split", 1, 1, "USD", Decimal("1234.56"))


def test_amounts_show_when_every_source_has_several_workers() -> None:
    assert allocation_rows([_build(MANY)], worker_detail=False) == [
        ("run_1", "job_assignments", "USD", 5, 5, Decimal("9000.00"), "")
    ]


def test_a_source_of_one_worker_withholds_every_amount_but_not_the_counts() -> None:
    rows = allocation_rows([_build(MANY, ONE)], worker_detail=False)
    assert [(r[1], r[3], r[5], r[6]) for r in rows] == [
        ("job_assignments", 5, None, FEW_WORKERS),
        ("time_split", 1, None, FEW_WORKERS),
    ]
    shown = allocation_rows([_build(MANY, ONE)], worker_detail=True)
    assert [r[5] for r in shown] == [Decimal("9000.00"), Decimal("1234.56")]


def test_withheld_partition_totals_withhold_the_table_too() -> None:
    rows = allocation_rows([_build(MANY)], worker_detail=False, withheld="(why)")
    assert rows[0][5:] == (None, "(why)")
