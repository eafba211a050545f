"""Build journals for a generated company and print time and sizes (no I/O).

.venv/bin/python benchmarks/journal_build.py --workers 50000 --pay-periods 2
"""

import argparse
import time

from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.ledger.inputs import PayrollRecord
from ml_connector_dagster.ledger.journal import build_journal
from ml_connector_dagster.payroll.snapshot import worker_contexts
from ml_connector_dagster.payroll.to_ledger import ledger_records, ledger_run
from ml_connector_dagster.rippling.models import (
    JobAssignment,
    PayrollRun,
    Worker,
    WorkerPayrollRecord,
)
from ml_connector_sandbox.company import generate_company
from ml_connector_sandbox.mapping import sandbox_mapping


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=5000)
    parser.add_argument("--pay-periods", type=int, default=2)
    parser.add_argument("--detail", choices=("summary", "worker"), default="summary")
    args = parser.parse_args()

    started = time.perf_counter()
    company = generate_company(workers=args.workers, pay_periods=args.pay_periods)
    generated = time.perf_counter()
    document = sandbox_mapping(company)
    document["journal"]["detail_level"] = args.detail
    mapping = PayrollMapping.model_validate(document)
    rippling = company["rippling"]
    departments = {d["id"]: d for d in rippling["departments"]}
    workers = [
        Worker.model_validate({**w, "department": departments.get(w["department_id"])})
        for w in rippling["workers"]
    ]
    codes = {c["id"]: c["external_id"] for c in rippling["job_codes"]}
    assignments: dict[str, list[tuple[str, str]]] = {}
    for a in (JobAssignment.model_validate(a) for a in rippling["job_assignments"]):
        assignments.setdefault(a.worker_id, []).append((a.id, a.job_code_id or ""))
    contexts, _ = worker_contexts(workers, codes, assignments)
    by_run: dict[str, list[WorkerPayrollRecord]] = {}
    for raw in rippling["worker_payroll_records"]:
        by_run.setdefault(raw["run_id"], []).append(WorkerPayrollRecord.model_validate(raw))
    # The ledger's own inputs, as the snapshot turns Rippling's records into them.
    records: dict[str, list[PayrollRecord]] = {
        run_id: ledger_records(items) for run_id, items in by_run.items()
    }
    parsed = time.perf_counter()

    lines = journals = record_count = 0
    for raw_run in rippling["payroll_runs"]:
        run = PayrollRun.model_validate(raw_run)
        entity = mapping.company_for_company_entity(run.company_entity_id)
        if entity is None or run.run_state != "PAID":
            continue
        build = build_journal(ledger_run(run), records.get(run.id, []), contexts, mapping, entity)
        journals += 1
        lines += len(build.journal.lines)
        record_count += len(build.journal.source_record_ids)
    built = time.perf_counter()
    print(f"workers={args.workers} pay_periods={args.pay_periods} detail={args.detail}")
    print(f"generate company      {generated - started:8.2f} s")
    print(f"parse records/workers {parsed - generated:8.2f} s")
    print(
        f"build {journals} journals from {record_count} records: {built - parsed:8.2f} s"
        f" ({record_count / max(built - parsed, 1e-9):,.0f} records/s), {lines} lines"
    )


if __name__ == "__main__":
    main()
