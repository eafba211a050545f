"""Everything Rippling says about one pay period in one Dynamics company.

A pay period is identified by its end date; a company by its ``dataAreaId``. Payroll runs carry
``company_entity_id`` (a company legal entity), workers carry ``legal_entity_id``; the mapping
ties both to the company, and the two ids need not be equal.

Runs stay Rippling's (their state decides which journals they yield); records and workers are
turned into the ledger's inputs as they are read, so every consumer of the snapshot (journals,
checks, the poster's gate) reads the same values the pure rules take.
"""

import datetime as dt
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ml_connector_dagster import clock
from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.ledger.inputs import JobShare, PayrollRecord, WorkerContext
from ml_connector_dagster.payroll.selection import (
    period_runs,
    runs_for,
)
from ml_connector_dagster.payroll.time_sources import enabled_split_shares, entry_hours
from ml_connector_dagster.payroll.to_ledger import ledger_records
from ml_connector_dagster.rippling.client import RipplingClient
from ml_connector_dagster.rippling.models import PayrollRun, Worker


@dataclass
class PeriodSnapshot:
    """The runs of one pay period for one company, their records, and the workers behind them."""

    pay_period: str
    company: str
    runs: list[PayrollRun] = field(default_factory=list)
    records: dict[str, list[PayrollRecord]] = field(default_factory=dict)  # by run id
    workers: dict[str, WorkerContext] = field(default_factory=dict)
    redacted: dict[str, tuple[str, ...]] = field(default_factory=dict)  # worker id -> fields
    # Runs of this period and company that produce no journal yet, with their state (DRAFT,
    # APPROVED without accruals...): what "nothing to post" points at.
    waiting_runs: list[tuple[str, str]] = field(default_factory=list)
    # Run id -> worker id -> hours per job code combination logged in the run's pay period
    # (read only when the mapping allocates by time entries).
    hours: dict[str, dict[str, tuple[JobShare, ...]]] = field(default_factory=dict)

    def nothing_to_post_reason(self) -> str:
        """Why this period and company yield no journal, in words finance reads."""
        if self.waiting_runs:
            runs = ", ".join(
                f"{run_id} is {state or 'without a state'}" for run_id, state in self.waiting_runs
            )
            return f"no run of {self.company} ending {self.pay_period} is paid yet ({runs})"
        return f"Rippling has no payroll run of {self.company} ending {self.pay_period}"

    @property
    def record_count(self) -> int:
        return sum(len(r) for r in self.records.values())

    def all_records(self) -> list[PayrollRecord]:
        return [record for run in self.runs for record in self.records.get(run.id, [])]


def worker_contexts(
    workers: Iterable[Worker],
    job_codes: dict[str, str],
    assignments: dict[str, list[tuple[str, str]]],
    time_splits: dict[str, tuple[JobShare, ...]] | None = None,
) -> tuple[dict[str, WorkerContext], dict[str, tuple[str, ...]]]:
    """Ledger views of workers; ``job_codes`` maps job code id -> external id, ``assignments``
    worker id -> (job-assignment id, job code id).

    A worker's assignments are put in job-assignment id order whatever order Rippling listed
    them in, and each carries its id: a remainder cent goes to the lower id on a tie
    (``accounting.md``), so the same payroll posts the same cents on every read.
    ``time_splits``: worker id -> the shares of its enabled time split."""
    time_splits = time_splits or {}
    contexts: dict[str, WorkerContext] = {}
    redacted: dict[str, tuple[str, ...]] = {}
    for worker in workers:
        department = worker.department.dimension_key if worker.department else worker.department_id
        held = sorted(assignments.get(worker.id, []))
        codes = tuple((job_codes.get(code_id, code_id), 1) for _, code_id in held)
        contexts[worker.id] = WorkerContext(
            worker_id=worker.id,
            number=str(worker.number) if worker.number is not None else None,
            legal_entity_id=worker.legal_entity_id,
            department_key=department,
            job_codes=codes,
            job_assignment_ids=tuple(assignment_id for assignment_id, _ in held),
            time_split=time_splits.get(worker.id, ()),
            department_name=worker.department.name if worker.department else None,
        )
        if worker.redacted:
            redacted[worker.id] = worker.redacted
    return contexts, redacted


@dataclass
class PeriodWorkforce:
    """Every worker's ledger context (department, job codes, redactions) as Rippling listed
    them at ``read_at``.

    Workers, job assignments and job codes are company-wide lists in Rippling (the v2 workers
    list cannot be filtered by legal entity), so the company runs of one pay period share one
    read instead of each reading all of them (``defs/payroll/workforce.py`` keeps it).
    """

    read_at: dt.datetime
    workers: dict[str, WorkerContext] = field(default_factory=dict)
    redacted: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Job code id -> the key the mapping knows it by (external id, else id): time entries
    # read later, per pay period, name job codes by id.
    job_code_keys: dict[str, str] = field(default_factory=dict)

    def missing(self, worker_ids: Iterable[str]) -> set[str]:
        """The ids among ``worker_ids`` this read does not know (hired after it, say)."""
        return {worker_id for worker_id in worker_ids if worker_id not in self.workers}


# What a snapshot asks for the workers behind its records: given the ids it needs, a workforce
# (read now, or a shared earlier read that knows them all).
WorkforceSource = Callable[[set[str]], PeriodWorkforce]


def read_workforce(
    client: RipplingClient, concurrency: int = 1, time_splits: bool = True
) -> PeriodWorkforce:
    """All workers with department, job codes and redactions, in ceil(N/100)-style paging,
    and (``time_splits``: the mapping allocates by them) every worker's time split.

    The three lists are independent cursor chains: with ``concurrency`` above 1 they are read
    at the same time (at most that many at once), so the read takes as long as the longest
    list (the workers) rather than the sum. Each list's own pages still follow each other.
    """
    read_at = clock.now()
    lists: dict[str, Callable[[], list]] = {
        "job_codes": lambda: list(client.job_codes()),
        "job_assignments": lambda: list(client.job_assignments()),
        "workers": lambda: list(client.workers(expand=("department",))),
    }
    if time_splits:
        lists["time_splits"] = lambda: list(client.worker_time_splits())
    if concurrency > 1:
        with ThreadPoolExecutor(max_workers=min(concurrency, len(lists))) as pool:
            futures = {name: pool.submit(read) for name, read in lists.items()}
            read = {name: future.result() for name, future in futures.items()}
    else:
        read = {name: reader() for name, reader in lists.items()}
    job_codes = {code.id: code.external_id or code.id for code in read["job_codes"]}
    assignments: dict[str, list[tuple[str, str]]] = {}
    for assignment in read["job_assignments"]:
        if assignment.job_code_id:
            assignments.setdefault(assignment.worker_id, []).append(
                (assignment.id, assignment.job_code_id)
            )
    splits = enabled_split_shares(read.get("time_splits", ()), job_codes)
    contexts, redacted = worker_contexts(read["workers"], job_codes, assignments, splits)
    return PeriodWorkforce(
        read_at=read_at, workers=contexts, redacted=redacted, job_code_keys=job_codes
    )


def read_snapshots(
    client: RipplingClient,
    mapping: PayrollMapping,
    keys: Iterable[tuple[str, str]],
    workforce: WorkforceSource | None = None,
    runs_list: Callable[[], list[PayrollRun]] | None = None,
) -> dict[tuple[str, str], PeriodSnapshot]:
    """Snapshots for (pay_period, company) keys, reading the runs list once for all of them.

    The runs list comes from ``runs_list`` (default: read from Rippling now; the snapshot asset
    may share another run's read, ``payroll/runs_seen.py``). The runs' records come next, then
    the workers behind them from ``workforce`` (default: read from Rippling now), asked once
    with every worker id the records name.
    """
    keys = list(keys)
    all_runs = runs_list() if runs_list is not None else list(client.payroll_runs())
    result = {}
    for pay_period, company in keys:
        snapshot = PeriodSnapshot(pay_period=pay_period, company=company)
        snapshot.runs = runs_for(all_runs, mapping, pay_period, company)
        chosen = {run.id for run in snapshot.runs}
        snapshot.waiting_runs = [
            (run.id, run.run_state or "")
            for run in period_runs(all_runs, mapping, pay_period, company)
            if run.id not in chosen
        ]
        for run in snapshot.runs:
            snapshot.records[run.id] = ledger_records(client.worker_payroll_records(run.id))
        result[(pay_period, company)] = snapshot
    needed = {record.worker_id for snapshot in result.values() for record in snapshot.all_records()}
    order = mapping.allocation.order

    def read_now(_needed: set[str]) -> PeriodWorkforce:
        return read_workforce(client, time_splits="time_split" in order)

    known = (workforce or read_now)(needed)
    if "time_entries" in order:
        read_hours(client, result.values(), getattr(known, "job_code_keys", {}))
    for snapshot in result.values():
        for record in snapshot.all_records():
            if record.worker_id in known.workers:
                snapshot.workers[record.worker_id] = known.workers[record.worker_id]
            if record.worker_id in known.redacted:
                snapshot.redacted[record.worker_id] = known.redacted[record.worker_id]
    return result


def read_hours(
    client: RipplingClient, snapshots: Iterable[PeriodSnapshot], keys: dict[str, str]
) -> None:
    """Each run's hours per worker from the time entries of its pay period, read once per
    pay period start (the spec filters time entries by ``pay_period.start_date``)."""
    by_start: dict[dt.date, dict[str, tuple[JobShare, ...]]] = {}
    for snapshot in snapshots:
        for run in snapshot.runs:
            if run.pay_period is None:
                continue  # a run without a pay period has no time entries to match
            start = run.pay_period.start_date
            if start not in by_start:
                by_start[start] = entry_hours(client.time_entries(start), keys)
            workers = {record.worker_id for record in snapshot.records.get(run.id, [])}
            snapshot.hours[run.id] = {
                worker: shares for worker, shares in by_start[start].items() if worker in workers
            }
