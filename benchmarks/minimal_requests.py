"""The fewest requests a pay period needs, computed from the data (issue 12's benchmark).

Pure arithmetic on a summary of the company (``company_summary``: list sizes, every payroll
run with its state, period, F&O company and record count) and on the journals F&O holds after
the run (``JournalShape``: lines per F&O header). No I/O and no product import, so the sandbox
process (``benchmarks/sandbox_process.py``) can summarise its company and a test can check the
formulas on a tiny fake one.

What the product must read and write for one pay period (or one backfill of several), and the
fewest requests for it. Where the minimum is a judgement, the comment says ``Judgement``.

Rippling (pages of at most 100, cursor-paginated; an API token, so no token request):
- workers with their department: ``ceil(workers / 100)`` pages of ``GET /workers/`` with
  ``expand=department`` (the expansion carries each worker's department, so the departments
  list costs nothing: Judgement, a client that did not expand would read ``/departments/``
  instead and pay for it in the workers' pages);
- job assignments: ``ceil(assignments / 100)`` (the job codes of each worker);
- job codes: ``ceil(job codes / 100)`` (their external ids);
- the payroll runs list: ``ceil(runs / 100)``, every run Rippling lists;
- each posted run's records: ``ceil(records / 100)`` per run (a run in a trigger state, of a
  mapped company, ending on a period measured).
  Each list is read once for the whole measurement, not once per company: the lists are
  company-wide (Judgement: the product reads them once per company partition today). The
  pay-run sensor's own poll of the runs list is the same list read once (Judgement: the run
  could take what the sensor read); the sensor reading every record again for its digest is
  not part of the minimum. A list always costs one request, even empty.

Entra ID: one token for the F&O audience and the discovery document MSAL reads before it
(Judgement: a hand-made client could skip the discovery; MSAL, which the product uses, cannot),
once per process and token lifetime; a pay period takes less than a token's hour.

Dynamics F&O (OData pages of 10,000 rows; changesets of ``changeset_size`` lines):
- reference data for ``valid_in_dynamics``, read once for every company (cross-company, one
  filter naming them all): DimensionParameters, DimensionIntegrationFormats, Ledgers,
  MainAccounts, FinancialDimensionValues, FinancialDimensionValueLegalEntityOverrides,
  MainAccountLegalEntities, JournalNames, ``ceil(rows / 10,000)`` each (at least one). The
  voucher settings come from the same JournalNames rows. Judgement: the product reads them per
  company partition in the checks and again right before each journal's first write (a
  deliberate preflight: the format or a suspension may change in between); neither repeat is
  in the minimum;
- per journal (one F&O identity: a payroll run and journal type): one idempotency read (``GET
  LedgerJournalHeaders`` by its IntegrationKey; Judgement: per journal, though one filter could
  name every identity of the period);
- per F&O header (a journal above ``max_lines_per_journal`` is split into several): one header
  create and ``ceil(lines / changeset_size)`` ``$batch`` changesets of lines. Reading the
  journal back after writing (the product compares F&O's totals with its own) is not in the
  minimum.

The longest unavoidable sequential chain (``chain_bound_s``): independent lists can be read at
the same time, but the pages of one list follow each other (each page's cursor comes from the
one before) and a run's records need the runs list first. So the chain is the longest of
``ceil(workers/100)``, ``ceil(assignments/100)``, ``ceil(job codes/100)`` and
``ceil(runs/100) + max ceil(records of one run/100)`` (the discovery and token, two requests,
overlap it), then the idempotency read, the header create and that journal's changesets one
after another (Judgement: a journal's changesets are counted in sequence, as the product
writes them, though fixed line numbers would allow them in parallel; every journal posts at
the same time as the others).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

RIPPLING_PAGE = 100  # Rippling's maximum page (the product asks for it)
DYNAMICS_PAGE = 10_000  # F&O's server page (and the sandbox's default)
CHANGESET_SIZE = 1000  # the product's default ML_CONNECTOR_DYNAMICS_CHANGESET_SIZE
TRIGGER_STATES = frozenset({"PAID", "CLOSED"})  # the mapping's trigger_state PAID, no accruals
REFERENCE_SETS = (
    "DimensionParameters",
    "DimensionIntegrationFormats",
    "Ledgers",
    "MainAccounts",
    "FinancialDimensionValues",
    "FinancialDimensionValueLegalEntityOverrides",
    "MainAccountLegalEntities",
    "JournalNames",
)
# Endpoints as the sandbox's request counter names them (sandbox/.../request_counts.py).
WORKERS = "GET /workers/"
JOB_ASSIGNMENTS = "GET /job-assignments/"
JOB_CODES = "GET /job-codes/"
PAYROLL_RUNS = "GET /payroll-runs/"
RECORDS = "GET /payroll-runs/{run_id}/worker-payroll-records/"
DISCOVERY = "GET /{tenant}/v2.0/.well-known/openid-configuration"
TOKEN = "POST /{tenant}/oauth2/v2.0/token"
HEADERS_READ = "GET /data/LedgerJournalHeaders"
HEADER_CREATE = "POST /data/LedgerJournalHeaders"
BATCH = "POST /data/$batch"


def pages(rows: int, size: int) -> int:
    """Requests to read ``rows`` in pages of ``size``: at least one, even for an empty list."""
    return max(1, math.ceil(rows / size))


@dataclass(frozen=True)
class Run:
    id: str
    state: str
    period: str  # the pay period's end date
    company: str | None  # the F&O company (dataAreaId) the mapping ties it to
    records: int


@dataclass(frozen=True)
class CompanyShape:
    """What the minimum depends on: list sizes and the runs, from ``company_summary``."""

    workers: int
    job_assignments: int
    job_codes: int
    departments: int
    runs: tuple[Run, ...]
    companies: tuple[str, ...]
    reference_rows: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any]) -> CompanyShape:
        return cls(
            workers=int(summary["workers"]),
            job_assignments=int(summary["job_assignments"]),
            job_codes=int(summary["job_codes"]),
            departments=int(summary["departments"]),
            runs=tuple(Run(**run) for run in summary["runs"]),
            companies=tuple(summary["companies"]),
            reference_rows=dict(summary.get("reference_rows", {})),
        )

    def paid(self, run_ids: Iterable[str]) -> CompanyShape:
        """The same company after pay day: these runs PAID."""
        ids = set(run_ids)
        runs = tuple(
            Run(r.id, "PAID", r.period, r.company, r.records) if r.id in ids else r
            for r in self.runs
        )
        return CompanyShape(
            self.workers,
            self.job_assignments,
            self.job_codes,
            self.departments,
            runs,
            self.companies,
            self.reference_rows,
        )

    def periods(self) -> list[str]:
        """Pay periods with a run of a mapped company, newest first."""
        return sorted({r.period for r in self.runs if r.company is not None}, reverse=True)

    def posted_runs(self, periods: Iterable[str]) -> list[Run]:
        """The runs a measurement posts: in a trigger state, of a mapped company, in a period."""
        wanted = set(periods)
        return [
            r
            for r in self.runs
            if r.period in wanted and r.company is not None and r.state in TRIGGER_STATES
        ]

    def partitions(self, periods: Iterable[str]) -> list[tuple[str, str]]:
        """(pay period, company) with something to post, as the sensor asks for them."""
        return sorted({(r.period, r.company) for r in self.posted_runs(periods) if r.company})


def company_summary(company: Mapping[str, Any], mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-able summary of a sandbox company and its finance mapping (plain dicts)."""
    rippling = company["rippling"]
    records = Counter(str(r["run_id"]) for r in rippling["worker_payroll_records"])
    company_of = {
        entity_id: str(entity["company"]).upper()
        for entity in mapping["legal_entities"]
        for entity_id in entity.get("rippling_company_entity_ids", [])
    }
    runs = [
        {
            "id": str(run["id"]),
            "state": str(run.get("run_state") or ""),
            "period": str(run["pay_period"]["end_date"]),
            "company": company_of.get(str(run.get("company_entity_id"))),
            "records": records[str(run["id"])],
        }
        for run in rippling["payroll_runs"]
        if run.get("pay_period")
    ]
    dynamics = company.get("dynamics", {})
    return {
        "workers": len(rippling["workers"]),
        "job_assignments": len(rippling["job_assignments"]),
        "job_codes": len(rippling["job_codes"]),
        "departments": len(rippling["departments"]),
        "runs": runs,
        "companies": sorted(str(e["company"]).upper() for e in mapping["legal_entities"]),
        "reference_rows": {name: len(dynamics.get(name, [])) for name in REFERENCE_SETS},
    }


@dataclass(frozen=True)
class JournalShape:
    """One journal as F&O holds it: its identity and the lines of each of its headers."""

    identity: str  # the IntegrationKey
    company: str
    parts: tuple[int, ...]  # lines per F&O header (one header unless the journal was split)

    @property
    def lines(self) -> int:
        return sum(self.parts)


def journals_written(
    before: Mapping[tuple[str, str], tuple[str, int]],
    after: Mapping[tuple[str, str], tuple[str, int]],
) -> list[JournalShape]:
    """The journals F&O gained between two reads, grouped by identity.

    Both reads map (company, JournalBatchNumber) -> (IntegrationKey, lines); a journal split
    into parts is several headers with the same IntegrationKey, its parts in batch order.
    """
    parts: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for (company, batch), (identity, lines) in after.items():
        if (company, batch) not in before:
            parts.setdefault((company, identity), []).append((batch, lines))
    return [
        JournalShape(identity, company, tuple(lines for _, lines in sorted(found)))
        for (company, identity), found in sorted(parts.items())
    ]


@dataclass
class Minimum:
    """The fewest requests by service and endpoint, and the longest chain among them."""

    detail: dict[str, dict[str, int]]
    chain: list[tuple[str, int]]  # (step, requests in sequence)

    @property
    def by_service(self) -> dict[str, int]:
        return {service: sum(counts.values()) for service, counts in self.detail.items()}

    @property
    def total(self) -> int:
        return sum(self.by_service.values())

    @property
    def chain_length(self) -> int:
        return sum(n for _, n in self.chain)

    def bound_s(self, latency_s: float) -> float:
        """Every minimal request one after another, each taking the latency."""
        return self.total * latency_s

    def chain_bound_s(self, latency_s: float) -> float:
        """The longest chain that cannot be overlapped, each request taking the latency."""
        return self.chain_length * latency_s


def minimal_requests(
    shape: CompanyShape,
    periods: Iterable[str],
    journals: Iterable[JournalShape],
    *,
    changeset_size: int = CHANGESET_SIZE,
    rippling_page: int = RIPPLING_PAGE,
    dynamics_page: int = DYNAMICS_PAGE,
) -> Minimum:
    """The minimum for posting ``periods`` (one measurement) given the journals F&O holds."""
    periods = list(periods)
    journals = list(journals)
    runs = shape.posted_runs(periods)
    record_pages = [pages(run.records, rippling_page) for run in runs]
    rippling = {
        WORKERS: pages(shape.workers, rippling_page),
        JOB_ASSIGNMENTS: pages(shape.job_assignments, rippling_page),
        JOB_CODES: pages(shape.job_codes, rippling_page),
        PAYROLL_RUNS: pages(len(shape.runs), rippling_page),
        RECORDS: sum(record_pages),
    }
    entra = {DISCOVERY: 1, TOKEN: 1}
    dynamics = {
        f"GET /data/{name}": pages(shape.reference_rows.get(name, 0), dynamics_page)
        for name in REFERENCE_SETS
    }
    batches = [pages(lines, changeset_size) for j in journals for lines in j.parts]
    dynamics[HEADERS_READ] = len(journals)
    dynamics[HEADER_CREATE] = sum(len(j.parts) for j in journals)
    dynamics[BATCH] = sum(batches)
    detail = {
        "rippling": rippling,
        "entra": entra,
        "dynamics": {k: v for k, v in dynamics.items() if v},
    }
    lists = [
        (f"{WORKERS} pages", rippling[WORKERS]),
        (f"{JOB_ASSIGNMENTS} pages", rippling[JOB_ASSIGNMENTS]),
        (f"{JOB_CODES} pages", rippling[JOB_CODES]),
        (
            f"{PAYROLL_RUNS} pages + the largest run's record pages",
            rippling[PAYROLL_RUNS] + max(record_pages, default=0),
        ),
        ("Entra discovery + token", entra[DISCOVERY] + entra[TOKEN]),
    ]
    chain = [max(lists, key=lambda step: step[1])]
    if journals:
        chain += [
            ("idempotency read", 1),
            ("header create", 1),
            ("the largest journal part's changesets", max(batches, default=0)),
        ]
    return Minimum(detail, chain)
