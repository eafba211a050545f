"""The benchmark's minimal-request arithmetic (benchmarks/minimal_requests.py) on a tiny company."""

import pytest

from benchmarks.minimal_requests import (
    BATCH,
    DISCOVERY,
    HEADER_CREATE,
    HEADERS_READ,
    JOB_ASSIGNMENTS,
    JOB_CODES,
    PAYROLL_RUNS,
    RECORDS,
    TOKEN,
    WORKERS,
    CompanyShape,
    JournalShape,
    company_summary,
    journals_written,
    minimal_requests,
    pages,
)

NEW, OLD = "2026-11-14", "2026-10-31"


def _run(run_id: str, state: str, period: str, entity: str) -> dict:
    return {
        "id": run_id,
        "run_state": state,
        "pay_period": {"start_date": "2026-11-01", "end_date": period},
        "company_entity_id": entity,
    }


def _company() -> dict:
    """250 workers, 101 job assignments, no job codes; four runs, one of an unmapped entity."""
    runs = [
        _run("r1", "PAID", NEW, "ce-us"),
        _run("r2", "APPROVED", NEW, "ce-gb"),
        _run("r3", "PAID", OLD, "ce-us"),
        _run("r4", "PAID", NEW, "ce-elsewhere"),
        {"id": "r5", "run_state": "PAID", "pay_period": None},  # no period: not listed
    ]
    records = [("r1", 150), ("r2", 30), ("r3", 100), ("r4", 500)]
    return {
        "rippling": {
            "workers": [{"id": f"w{i}"} for i in range(250)],
            "job_assignments": [{"id": f"a{i}"} for i in range(101)],
            "job_codes": [],
            "departments": [{"id": f"d{i}"} for i in range(4)],
            "payroll_runs": runs,
            "worker_payroll_records": [
                {"id": f"{run}-{i}", "run_id": run} for run, n in records for i in range(n)
            ],
        },
        "dynamics": {"MainAccounts": [{}] * 25_000, "Ledgers": [{}] * 2},
    }


MAPPING = {
    "legal_entities": [
        {"company": "usmf", "rippling_company_entity_ids": ["ce-us"]},
        {"company": "GBSI", "rippling_company_entity_ids": ["ce-gb"]},
    ]
}


@pytest.fixture
def shape() -> CompanyShape:
    return CompanyShape.from_summary(company_summary(_company(), MAPPING))


def test_the_summary_ties_runs_to_companies_and_counts_their_records(
    shape: CompanyShape,
) -> None:
    assert (shape.workers, shape.job_assignments, shape.job_codes, shape.departments) == (
        250,
        101,
        0,
        4,
    )
    assert shape.companies == ("GBSI", "USMF")
    assert [(r.id, r.company, r.records) for r in shape.runs] == [
        ("r1", "USMF", 150),
        ("r2", "GBSI", 30),
        ("r3", "USMF", 100),
        ("r4", None, 500),
    ]
    assert shape.reference_rows["MainAccounts"] == 25_000
    assert shape.reference_rows["JournalNames"] == 0
    assert shape.periods() == [NEW, OLD]


def test_only_paid_runs_of_mapped_companies_are_posted_until_pay_day(
    shape: CompanyShape,
) -> None:
    assert [r.id for r in shape.posted_runs([NEW])] == ["r1"]
    assert shape.partitions([NEW]) == [(NEW, "USMF")]
    paid = shape.paid(["r2"])
    assert [r.id for r in paid.posted_runs([NEW])] == ["r1", "r2"]
    assert paid.partitions([NEW, OLD]) == [(OLD, "USMF"), (NEW, "GBSI"), (NEW, "USMF")]
    assert shape.runs[1].state == "APPROVED"  # the original is left as it was


def test_pages_cost_one_request_even_when_empty() -> None:
    assert [pages(n, 100) for n in (0, 1, 100, 101, 250)] == [1, 1, 1, 2, 3]


def test_the_minimum_per_service_and_endpoint(shape: CompanyShape) -> None:
    journals = [
        JournalShape("mlc-a", "USMF", (2500,)),  # one header, 3 changesets of 1,000
        JournalShape("mlc-b", "USMF", (5000, 1200)),  # split in two headers: 5 + 2 changesets
    ]
    minimum = minimal_requests(shape, [NEW], journals, changeset_size=1000)
    assert minimum.detail["rippling"] == {
        WORKERS: 3,  # 250 workers
        JOB_ASSIGNMENTS: 2,  # 101 assignments
        JOB_CODES: 1,  # an empty list is still one request
        PAYROLL_RUNS: 1,  # 4 runs listed
        RECORDS: 2,  # r1 only: 150 records (r2 not paid, r4 not mapped)
    }
    assert minimum.detail["entra"] == {DISCOVERY: 1, TOKEN: 1}
    dynamics = minimum.detail["dynamics"]
    assert dynamics["GET /data/MainAccounts"] == 3  # 25,000 rows in pages of 10,000
    assert (
        sum(n for name, n in dynamics.items() if name.startswith("GET /data/"))
        - dynamics[HEADERS_READ]
        == 7 + 3
    )  # eight reference sets, MainAccounts in three pages
    assert (dynamics[HEADERS_READ], dynamics[HEADER_CREATE], dynamics[BATCH]) == (2, 3, 10)
    assert minimum.by_service == {"rippling": 9, "entra": 2, "dynamics": 25}
    assert minimum.total == 36
    assert minimum.bound_s(0.05) == pytest.approx(1.8)
    # The longest list chain (workers: 3 pages, tied with runs list + r1's 2 record pages),
    # then idempotency read, header create and the largest part's 5 changesets in sequence.
    assert [n for _, n in minimum.chain] == [3, 1, 1, 5]
    assert minimum.chain_length == 10
    assert minimum.chain_bound_s(0.05) == pytest.approx(0.5)


def test_a_backfill_reads_each_list_once_and_every_run_of_its_periods(
    shape: CompanyShape,
) -> None:
    paid = shape.paid(["r2"])
    minimum = minimal_requests(paid, [NEW, OLD], [])
    assert minimum.detail["rippling"][RECORDS] == 2 + 1 + 1  # r1, r2, r3
    assert minimum.detail["rippling"][WORKERS] == 3  # once, not once per period or company
    assert HEADER_CREATE not in minimum.detail["dynamics"]  # nothing written: nothing counted
    assert [n for _, n in minimum.chain] == [3]  # no journal: the reads are the whole chain


def test_journals_written_groups_new_headers_by_identity() -> None:
    before = {("USMF", "00001"): ("mlc-old", 10)}
    after = {
        **before,
        ("USMF", "00003"): ("mlc-b", 200),
        ("USMF", "00002"): ("mlc-b", 5000),
        ("GBSI", "00001"): ("mlc-c", 7),
    }
    assert journals_written(before, after) == [
        JournalShape("mlc-c", "GBSI", (7,)),
        JournalShape("mlc-b", "USMF", (5000, 200)),  # parts in batch-number order
    ]
    assert journals_written(after, after) == []
