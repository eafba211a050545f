"""Write and read one pay period's snapshot of N workers on each storage backend; print times.

The IO manager stores every value sealed (typed JSON, then Fernet) on local files, a SQLite
table or a PostgreSQL table (``ML_CONNECTOR_STORAGE_URL``). This measures what a step pays per
value on each: the seal (encode + encrypt) is the same everywhere, so the difference between
backends is the write (an atomic file rename vs one upsert transaction) and the read.

    python -m benchmarks.storage_backends --workers 400 5000 --backends local sqlite postgres

PostgreSQL: a new database on the server ``scripts/ensure-postgres.sh`` starts (the
``DAGSTER_PG_*`` settings), dropped afterwards. Nothing here asserts a time.
"""

import argparse
import contextlib
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet

from benchmarks.concurrent_runs import drop_database, postgres_env
from ml_connector_dagster.audit.stored_values import database_backend, dispose_engines
from ml_connector_dagster.credentials.keys import KeyRing
from ml_connector_dagster.defs.io_manager import CODEC
from ml_connector_dagster.payroll.snapshot import PeriodSnapshot, worker_contexts
from ml_connector_dagster.payroll.to_ledger import ledger_records
from ml_connector_dagster.rippling.models import (
    JobAssignment,
    PayrollRun,
    Worker,
    WorkerPayrollRecord,
)
from ml_connector_dagster.storage.backend import ValueBackend
from ml_connector_dagster.storage.local import LocalBackend
from ml_connector_sandbox.company import generate_company

ASSET = ("rippling", "payroll_cost_snapshot")


def snapshot_of(workers: int) -> PeriodSnapshot:
    """One pay period of a generated company, every company's runs in one snapshot."""
    rippling = generate_company(workers=workers, pay_periods=1)["rippling"]
    departments = {d["id"]: d for d in rippling["departments"]}
    people = [
        Worker.model_validate({**w, "department": departments.get(w["department_id"])})
        for w in rippling["workers"]
    ]
    codes = {c["id"]: c["external_id"] for c in rippling["job_codes"]}
    assignments: dict[str, list[tuple[str, str]]] = {}
    for a in (JobAssignment.model_validate(a) for a in rippling["job_assignments"]):
        assignments.setdefault(a.worker_id, []).append((a.id, a.job_code_id or ""))
    contexts, _ = worker_contexts(people, codes, assignments)
    runs = [PayrollRun.model_validate(r) for r in rippling["payroll_runs"]]
    by_run: dict[str, list[WorkerPayrollRecord]] = {}
    for raw in rippling["worker_payroll_records"]:
        by_run.setdefault(raw["run_id"], []).append(WorkerPayrollRecord.model_validate(raw))
    return PeriodSnapshot(
        pay_period="2026-11-15",
        company="ALL",
        runs=runs,
        records={run_id: ledger_records(items) for run_id, items in by_run.items()},
        workers=contexts,
    )


@contextlib.contextmanager
def backend(kind: str, keyring: KeyRing, workdir: Path) -> Iterator[ValueBackend]:
    if kind == "local":
        yield LocalBackend(workdir / "storage", keyring, CODEC)
        return
    if kind == "sqlite":
        yield database_backend(f"sqlite:///{workdir / 'values.sqlite'}", keyring, CODEC)
        dispose_engines()
        return
    pg = postgres_env()
    server = (
        f"postgresql+psycopg2://{pg['DAGSTER_PG_USERNAME']}:{pg['DAGSTER_PG_PASSWORD']}"
        f"@{pg['DAGSTER_PG_HOST']}:{pg['DAGSTER_PG_PORT']}"
    )
    name = f"values_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(f"{server}/{pg['DAGSTER_PG_DB']}", isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        db.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield database_backend(f"{server}/{name}", keyring, CODEC)
    finally:
        dispose_engines()
        drop_database(admin, name)
        admin.dispose()


def measure(store: ValueBackend, value: PeriodSnapshot, repeat: int) -> tuple[float, float]:
    """Median seconds of a write (a replace after the first) and of a read."""
    writes, reads = [], []
    for n in range(repeat):
        started = time.perf_counter()
        store.store(ASSET, f"p{n % 2}", value)
        writes.append(time.perf_counter() - started)
        started = time.perf_counter()
        back = store.load(ASSET, f"p{n % 2}")
        reads.append(time.perf_counter() - started)
        assert back.record_count == value.record_count
    return statistics.median(writes), statistics.median(reads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, nargs="+", default=[400, 5000])
    parser.add_argument(
        "--backends", nargs="+", choices=("local", "sqlite", "postgres"), default=["local"]
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    keyring = KeyRing([Fernet.generate_key()], source="benchmark")
    header = ("workers", "records", "sealed MB", "backend", "write s", "read s")
    print(" ".join(f"{name:>{max(8, len(name))}}" for name in header))
    for workers in args.workers:
        value = snapshot_of(workers)
        size = len(keyring.encrypt(CODEC.dumps(value))) / 1e6
        for kind in args.backends:
            with tempfile.TemporaryDirectory() as tmp, backend(kind, keyring, Path(tmp)) as store:
                write, read = measure(store, value, args.repeat)
            print(
                f"{workers:>8} {value.record_count:>8} {size:>9.1f} {kind:>9}"
                f" {write:>8.3f} {read:>8.3f}"
            )


if __name__ == "__main__":
    main()
