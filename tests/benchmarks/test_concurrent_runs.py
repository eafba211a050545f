"""The benchmark's concurrent mode sets up what a concurrent deployment runs on: a PostgreSQL
instance with the Dynamics pool at one slot, and leaves no database behind."""

import os
from pathlib import Path

import sqlalchemy as sa

from benchmarks.concurrent_runs import postgres_instance
from ml_connector_dagster.defs.pools import DYNAMICS_POOL


def _databases(url: str) -> set[str]:
    engine = sa.create_engine(url)
    with engine.connect() as db:
        names = {row[0] for row in db.exec_driver_sql("SELECT datname FROM pg_database")}
    engine.dispose()
    return names


def test_a_postgres_instance_with_one_dynamics_writer_dropped_afterwards(
    postgres: dict, tmp_path: Path
) -> None:
    before = _databases(postgres["url"])
    home_before = os.environ.get("DAGSTER_HOME")
    with postgres_instance(tmp_path / "home") as runs:
        assert os.environ["DAGSTER_HOME"] == str(tmp_path / "home")
        info = runs.instance.event_log_storage.get_concurrency_info(DYNAMICS_POOL)
        assert info.slot_count == 1
        assert type(runs.instance.run_storage).__name__ == "PostgresRunStorage"
        created = _databases(postgres["url"]) - before
        assert len(created) == 2 and runs.audit_url.rsplit("/", 1)[1] in created
    assert _databases(postgres["url"]) == before
    assert os.environ.get("DAGSTER_HOME") == home_before
