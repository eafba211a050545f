"""The journal summary finance reads (``labor_cost_journals``' ``journal_summary``): rows by
run, currency, account and department with how many workers each sums, counted from what the
build saw (issue 12 dropped the second, worker-level build that used to count them).

Checked against that worker-level build as an oracle, on generated payrolls, and for the
privacy rule: at the summary level no row shows fewer than two workers, and the rows still add
up to the journal's totals.
"""

from collections import defaultdict
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_factories import mapping, record

from ml_connector_dagster.defs.payroll.assets import (
    ONE_WORKER,
    _grouped_with_workers,
    _journal_rows,
)
from ml_connector_dagster.ledger.builder import LineWorkers
from ml_connector_dagster.ledger.inputs import WorkerContext
from ml_connector_dagster.payroll.journals import journals_for
from ml_connector_dagster.payroll.snapshot import PeriodSnapshot
from ml_connector_dagster.rippling.models import PayrollRun

M = mapping()
PER_WORKER = M.model_copy(
    update={"journal": M.journal.model_copy(update={"detail_level": "worker"})}
)
CODES = [(), (("CC-ENG", 1),), (("CC-ENG", 1), ("CC-OPS", 1)), (("CC-OPS", 2), ("CC-ENG", 1))]

cents = st.integers(min_value=-5_000, max_value=500_000).map(lambda c: str(Decimal(c) / 100))
workers_st = st.lists(
    st.tuples(st.sampled_from(["D100", "D200"]), st.sampled_from(CODES)), min_size=1, max_size=7
)


def _snapshot(data, workers) -> PeriodSnapshot:
    contexts = {
        f"w{n}": WorkerContext(f"w{n}", department_key=dept, job_codes=codes)
        for n, (dept, codes) in enumerate(workers)
    }
    records = []
    for n, worker_id in enumerate(contexts):
        earnings = [
            (category, data.draw(cents))
            for category in data.draw(
                st.lists(st.sampled_from(["SALARY", "BONUS", "OVERTIME"]), min_size=1, max_size=3)
            )
        ]
        records.append(record(f"p{n}", worker_id, earnings, er_taxes=[data.draw(cents)]))
    run = PayrollRun.model_validate(
        {"id": "run_000001", "run_state": "PAID", "check_date": "2026-11-20"}
    )
    return PeriodSnapshot(
        "2026-11-15", "USMF", runs=[run], records={run.id: records}, workers=contexts
    )


def _oracle(snapshot: PeriodSnapshot) -> dict[tuple, tuple[int, Decimal, Decimal]]:
    """Rows counted on a worker-level build: one voucher per worker and currency."""
    rows: dict[tuple, list] = defaultdict(lambda: [set(), Decimal(0), Decimal(0)])
    for build in journals_for(snapshot, PER_WORKER):
        for line in build.journal.lines:
            department = dict(line.dimensions).get("Department", "")
            key = (build.journal.identity.run_id, line.currency, line.account, department)
            rows[key][0].add(line.voucher)
            rows[key][1] += line.debit
            rows[key][2] += line.credit
    return {key: (len(ws), debit, credit) for key, (ws, debit, credit) in rows.items()}


@settings(max_examples=60, deadline=None)
@given(data=st.data(), workers=workers_st)
def test_rows_count_the_workers_a_worker_level_build_shows(data, workers) -> None:
    snapshot = _snapshot(data, workers)
    line_workers: dict[str, LineWorkers] = {}
    journals = [b.journal for b in journals_for(snapshot, M, line_workers)]
    counted = {
        tuple(row[:4]): (len(row[4]), row[5], row[6])
        for row in _grouped_with_workers(journals, line_workers)
    }
    assert counted == _oracle(snapshot)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), workers=workers_st)
def test_no_row_shows_one_worker_and_the_rows_add_up(data, workers) -> None:
    snapshot = _snapshot(data, workers)
    line_workers: dict[str, LineWorkers] = {}
    journals = [b.journal for b in journals_for(snapshot, M, line_workers)]
    rows = _journal_rows(M, journals, line_workers)
    paid = {w for ws in line_workers["run_000001"].values() for w in ws}
    if not paid:  # nothing but zeros: no line, no row
        assert rows == []
        return
    if len(paid) == 1:  # one worker's pay: one row, no amount
        assert [(row[2], row[5], row[6]) for row in rows] == [(ONE_WORKER, None, None)]
        return
    assert all(row[4] >= 2 for row in rows), rows
    assert {row[0] for row in rows} == {"run_000001"}  # the whole pay run id, as elsewhere
    assert sum((row[5] for row in rows), Decimal(0)) == sum(j.total_debit for j in journals)
    assert sum((row[6] for row in rows), Decimal(0)) == sum(j.total_credit for j in journals)
