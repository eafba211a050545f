"""A pay period's company runs at the same time, as Dagster's daemon launches them on
PostgreSQL (``benchmarks/payperiod.py --concurrent-runs N``).

On the production instance for concurrent work (``dagster.postgres.yaml``: up to 10 runs at
once, the Dynamics pool at one slot) the run queue starts each run in a process of its own.
Here each run is ``defs.headless.run_partition`` in a fresh process (``spawn``, one run per
process, as the DefaultRunLauncher does: each pays for its imports), at most ``N`` at a time,
against one PostgreSQL instance in a database made for the measurement and dropped after it.
These runs bypass the run queue, and ``dagster.postgres.yaml`` enforces pools at ``run``
granularity (in the queue; README "Pools, granularity and run health"), so here the posting
steps take no pool slot: F&O is written side by side, the posting claims keeping each journal
once. Through the daemon, runs of one connection do not overlap at all.

Not the daemon itself: no queue, no sensor daemon, no code server; the difference is the
daemon's own polling (seconds) and a code server per run, which this leaves out.
"""

from __future__ import annotations

import contextlib
import os
import resource
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import dagster as dg
import sqlalchemy as sa

from ml_connector_dagster import clock
from ml_connector_dagster.defs.pools import DYNAMICS_POOL

ROOT = Path(__file__).resolve().parent.parent


def postgres_env() -> dict[str, str]:
    """The ``DAGSTER_PG_*`` settings of the PostgreSQL the tests use too
    (``scripts/ensure-postgres.sh``'s role and database unless the environment says others)."""
    return {
        "DAGSTER_PG_HOST": os.environ.get("DAGSTER_PG_HOST", "127.0.0.1"),
        "DAGSTER_PG_PORT": os.environ.get("DAGSTER_PG_PORT", "5432"),
        "DAGSTER_PG_USERNAME": os.environ.get("DAGSTER_PG_USERNAME", "ml_connector"),
        "DAGSTER_PG_PASSWORD": os.environ.get("DAGSTER_PG_PASSWORD", "ml_connector"),
        "DAGSTER_PG_DB": os.environ.get("DAGSTER_PG_DB", "ml_connector"),
    }


@dataclass
class PostgresRuns:
    """Where the concurrent runs keep their state: the Dagster instance and the audit URL."""

    instance: dg.DagsterInstance
    audit_url: str


@contextlib.contextmanager
def postgres_instance(home: Path) -> Iterator[PostgresRuns]:
    """A Dagster instance on a new PostgreSQL database (``dagster.postgres.yaml`` as shipped)
    and an audit database beside it, as a concurrent deployment runs (SQLite would say
    "database is locked"). The Dynamics pool's limit is set explicitly first (dagster-postgres
    0.29.27 crashes runs that race to initialise a default limit). Both databases are dropped
    afterwards."""
    settings = postgres_env()
    names = [f"bench_{uuid.uuid4().hex[:10]}", f"bench_audit_{uuid.uuid4().hex[:10]}"]
    server = (
        f"postgresql+psycopg2://{settings['DAGSTER_PG_USERNAME']}:"
        f"{settings['DAGSTER_PG_PASSWORD']}@{settings['DAGSTER_PG_HOST']}:"
        f"{settings['DAGSTER_PG_PORT']}"
    )
    admin = sa.create_engine(f"{server}/{settings['DAGSTER_PG_DB']}", isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        for name in names:
            db.exec_driver_sql(f"CREATE DATABASE {name}")
    previous = {key: os.environ.get(key) for key in (*settings, "DAGSTER_HOME")}
    os.environ.update({**settings, "DAGSTER_PG_DB": names[0], "DAGSTER_HOME": str(home)})
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text((ROOT / "dagster.postgres.yaml").read_text())
    try:
        with dg.DagsterInstance.get() as instance:
            instance.event_log_storage.set_concurrency_slots(DYNAMICS_POOL, 1)
            yield PostgresRuns(instance, f"{server}/{names[1]}")
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        for name in names:
            drop_database(admin, name)
        admin.dispose()


def drop_database(admin: sa.Engine, name: str, attempts: int = 40) -> None:
    """DROP ... WITH (FORCE), again while it is refused: FORCE ends a child process's backend
    that has not noticed yet that it is gone, but not an autovacuum worker that PostgreSQL
    started on the new database (superuser-owned: "must be a member of the role whose process
    is being terminated"); that one finishes within moments. The tests' databases too."""
    for attempt in range(attempts):
        try:
            with admin.connect() as db:
                db.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            return
        except (sa.exc.ProgrammingError, sa.exc.OperationalError):
            if attempt + 1 == attempts:
                raise
            clock.sleep(0.25)


@dataclass
class RunResult:
    pay_period: str
    company: str
    run_id: str
    success: bool
    error: str
    failed_checks: list[str]
    peak_rss_mb: float  # the run's process


def _one_run(
    pay_period: str, company: str, tags: dict[str, str], storage: str, audit_url: str
) -> RunResult:
    """One run in this (fresh) process, on the instance ``DAGSTER_HOME`` names."""
    from ml_connector_dagster.defs.headless import run_partition
    from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager
    from ml_connector_dagster.defs.resources import ConnectorResource

    resources = {
        "connector": ConnectorResource(audit_url=audit_url),
        "io_manager": PartitionFilesIOManager(base_dir=storage),
    }
    with dg.DagsterInstance.get() as instance:
        outcome = run_partition(instance, pay_period, company, resources, tags=tags)
    return RunResult(
        pay_period,
        company,
        outcome.run_id,
        outcome.success,
        outcome.error,
        list(outcome.failed_checks),
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )


def run_concurrently(
    requests: list[tuple[str, str, dict[str, str]]],
    storage: Path,
    audit_url: str,
    concurrency: int,
) -> list[RunResult]:
    """Every (pay period, company, tags) as its own run in its own process, ``concurrency`` at
    a time; results in the order asked."""
    context: Any = get_context("spawn")
    with ProcessPoolExecutor(concurrency, mp_context=context, max_tasks_per_child=1) as pool:
        futures = [
            pool.submit(_one_run, period, company, tags, str(storage), audit_url)
            for period, company, tags in requests
        ]
        return [future.result() for future in futures]
