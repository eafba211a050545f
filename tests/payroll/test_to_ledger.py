"""The boundary: Rippling's models become the ledger's inputs, money untouched."""

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_factories import mapping, record, rippling_record, rippling_run, run

from ml_connector_dagster.config.mapping import AllocationSpec
from ml_connector_dagster.ledger.inputs import PayrollRecord, PayRun, WorkerContext
from ml_connector_dagster.ledger.journal import build_journal
from ml_connector_dagster.payroll.journals import journals_for
from ml_connector_dagster.payroll.snapshot import read_snapshots
from ml_connector_dagster.payroll.to_ledger import ledger_record, ledger_run, tax_line
from ml_connector_dagster.rippling.models import (
    JobAssignment,
    JobCode,
    Tax,
    TimeEntry,
    Worker,
    WorkerTimeSplit,
)

M = mapping()


def test_a_run_keeps_its_id_check_date_and_period_end() -> None:
    assert ledger_run(rippling_run("r9")) == PayRun(
        "r9", dt.date(2026, 11, 20), dt.date(2026, 11, 15)
    )
    bare = rippling_run().model_copy(update={"pay_period": None, "check_date": None})
    assert ledger_run(bare) == PayRun("run_1")


def test_who_paid_a_tax_becomes_a_flag_in_any_case() -> None:
    def paid_by(value):
        return tax_line(Tax(tax_code="T", amount="1.00", paid_by=value)).employer_paid

    assert [paid_by(v) for v in ("EMPLOYER", "employer", "EMPLOYEE", None)] == [
        True,
        True,
        False,
        False,
    ]


def test_a_record_converts_to_the_ledger_record_the_factories_build() -> None:
    args = (
        "p1",
        "w1",
        [("SALARY", "4000.00"), ("OVERTIME", "-200.10")],
        ["467.33", "60.90"],
        ["260.40"],
        [("400.00", "200.00"), ("0.00", "50.00")],
        ["12.34"],
        "eur",
    )
    converted = ledger_record(rippling_record(*args))
    assert isinstance(converted, PayrollRecord)
    assert converted == record(*args)
    assert str(converted.earnings[1].amount) == "-200.10"  # same Decimal, digits kept
    assert converted.currency == "eur"  # case is the rules' business


amounts = st.decimals(min_value=-(10**6), max_value=10**6, places=2, allow_nan=False)


@settings(max_examples=100, deadline=None)
@given(earnings=st.lists(amounts, min_size=1, max_size=4), taxes=st.lists(amounts, max_size=3))
def test_money_crosses_the_boundary_unchanged(earnings, taxes) -> None:
    source = rippling_record(
        "p", "w", [("SALARY", str(a)) for a in earnings], er_taxes=[str(a) for a in taxes]
    )
    converted = ledger_record(source)
    assert [e.amount for e in converted.earnings] == [e.amount for e in source.earnings]
    assert [str(e.amount) for e in converted.earnings] == [str(a) for a in earnings]
    assert [t.amount for t in converted.taxes] == [t.amount for t in source.taxes]
    assert (converted.gross_pay, converted.net_pay) == (source.gross_pay, source.net_pay)
    assert all(isinstance(t.amount, Decimal) for t in converted.taxes)


class _Rippling(SimpleNamespace):
    """Just the reads ``read_snapshots`` makes."""

    def payroll_runs(self):
        return [rippling_run()]

    def job_codes(self):
        return [JobCode(id="jc1", external_id="CC-ENG")]

    def job_assignments(self):
        return [JobAssignment(id="ja1", worker_id="w1", job_code_id="jc1")]

    def workers(self, expand=()):
        return [Worker(id="w1", number=101, department_id="D100")]

    def worker_payroll_records(self, run_id):
        return [rippling_record("p1", "w1", [("SALARY", "100.00")], ["10.00"])]

    def worker_time_splits(self):
        return []

    def time_entries(self, pay_period_start=None):
        return []


def test_a_snapshot_holds_ledger_records_and_yields_the_same_journal() -> None:
    snapshot = read_snapshots(_Rippling(), M, [("2026-11-15", "USMF")])[("2026-11-15", "USMF")]
    assert snapshot.records == {"run_1": [record("p1", "w1", [("SALARY", "100.00")], ["10.00"])]}
    assert snapshot.workers == {
        "w1": WorkerContext(
            "w1", "101", None, "D100", (("CC-ENG", 1),), job_assignment_ids=("ja1",)
        ),
    }
    [build] = journals_for(snapshot, M)
    direct = build_journal(run(), snapshot.all_records(), snapshot.workers, M, M.company("USMF"))
    assert build == direct
    assert build.problems == [] and build.journal.total_debit == Decimal("100.00")


class _RipplingWithTime(_Rippling):
    """w1 logged 3 h on jc1 and 1 h on jc2 in the run's pay period, and has a split too."""

    def __init__(self) -> None:
        super().__init__()
        self.periods_read: list = []

    def job_codes(self):
        return [JobCode(id="jc1", external_id="CC-ENG"), JobCode(id="jc2", external_id="CC-OPS")]

    def worker_time_splits(self):
        split = {"split_percentage": "100.00", "job_code_ids": ["jc2"]}
        return [WorkerTimeSplit(id="s1", worker_id="w1", is_enabled=True, splits=(split,))]

    def time_entries(self, pay_period_start=None):
        self.periods_read.append(pay_period_start)
        shifts = [
            {"start_time": "2026-11-03T08:00:00Z", "end_time": "2026-11-03T11:00:00Z",
             "job_codes_id": ["jc1"]},
            {"start_time": "2026-11-03T11:00:00Z", "end_time": "2026-11-03T12:00:00Z",
             "job_codes_id": ["jc2"]},
        ]  # fmt: skip
        return [TimeEntry(id="te1", worker_id="w1", status="APPROVED", job_shifts=shifts)]


def test_a_snapshot_reads_the_hours_of_each_run_s_pay_period_and_splits_by_them() -> None:
    rippling = _RipplingWithTime()
    snapshot = read_snapshots(rippling, M, [("2026-11-15", "USMF")])[("2026-11-15", "USMF")]
    assert rippling.periods_read == [rippling_run().pay_period.start_date]
    [build] = journals_for(snapshot, M)
    salary = {
        dict(line.dimensions)["CostCenter"]: line.debit
        for line in build.journal.lines
        if line.debit and line.account == "600100"
    }
    assert salary == {"CCENG": Decimal("75.00"), "CCOPS": Decimal("25.00")}
    assert [(a.source, a.workers, a.amount) for a in build.allocation] == [
        ("time_entries", 1, Decimal("100.00"))
    ]
    splits_only = M.model_copy(
        update={"allocation": AllocationSpec(order=("time_split", "department"))}
    )
    other = read_snapshots(_RipplingWithTime(), splits_only, [("2026-11-15", "USMF")])
    [build] = journals_for(other[("2026-11-15", "USMF")], splits_only)
    assert [a.source for a in build.allocation] == ["time_split"]
