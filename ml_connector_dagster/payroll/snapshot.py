"""Everything Rippling says about one pay period in one Dynamics company.

A pay period is identified by its end date; a company by its ``dataAreaId``. Payroll runs carry
``company_entity_id`` (a company legal entity), workers carry ``legal_entity_id``; the mapping
ties both to the company, and the two ids need not be equal.

Runs stay Rippling's (their state decides which journals they yield); records and workers are
turned into the ledger's inputs as they are read, so every consumer of the snapshot (journals,
checks, the poster's gate) reads the same values the pure rules take.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.ledger.inputs import PayrollRecord, WorkerContext
from ml_connector_dagster.payroll.selection import (
    period_runs,
    runs_for,
)
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
    workers: Iterable[Worker], job_codes: dict[str, str], assignments: dict[str, list[str]]
) -> tuple[dict[str, WorkerContext], dict[str, tuple[str, ...]]]:
    """Ledger views of workers; ``job_codes`` maps job code id -> external id."""
    contexts: dict[str, WorkerContext] = {}
    redacted: dict[str, tuple[str, ...]] = {}
    for worker in workers:
        department = worker.department.dimension_key if worker.department else worker.department_id
        codes = tuple(
            (job_codes.get(code_id, code_id), 1)
            for code_id in sorted(assignments.get(worker.id, []))
        )
        contexts[worker.id] = WorkerContext(
            worker_id=worker.id,
            number=str(worker.number) if worker.number is not None else None,
            legal_entity_id=worker.legal_entity_id,
            department_key=department,
            job_codes=codes,
        )
        if worker.redacted:
            redacted[worker.id] = worker.redacted
    return contexts, redacted


def read_workforce(
    client: RipplingClient,
) -> tuple[dict[str, WorkerContext], dict[str, tuple[str, ...]]]:
    """All workers with department, job codes and redactions, in ceil(N/100)-style paging."""
    job_codes = {code.id: code.external_id or code.id for code in client.job_codes()}
    assignments: dict[str, list[str]] = {}
    for assignment in client.job_assignments():
        if assignment.job_code_id:
            assignments.setdefault(assignment.worker_id, []).append(assignment.job_code_id)
    workers = client.workers(expand=("department",))
    return worker_contexts(workers, job_codes, assignments)


def read_snapshots(
    client: RipplingClient,
    mapping: PayrollMapping,
    keys: Iterable[tuple[str, str]],
) -> dict[tuple[str, str], PeriodSnapshot]:
    """Snapshots for (pay_period, company) keys, reading runs and workers once for all of them."""
    keys = list(keys)
    all_runs = list(client.payroll_runs())
    contexts, redacted = read_workforce(client)
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
            records = ledger_records(client.worker_payroll_records(run.id))
            snapshot.records[run.id] = records
            for record in records:
                if record.worker_id in contexts:
                    snapshot.workers[record.worker_id] = contexts[record.worker_id]
                if record.worker_id in redacted:
                    snapshot.redacted[record.worker_id] = redacted[record.worker_id]
        result[(pay_period, company)] = snapshot
    return result
