"""``benchmarks/backfill_year.py`` at its smallest: one backfill through a real dagster-daemon
on PostgreSQL runs every partition once, posts each journal once, and leaves no database."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from processes import wait_for_exit

ROOT = Path(__file__).resolve().parents[2]


def _databases(url: str) -> set[str]:
    engine = sa.create_engine(url)
    with engine.connect() as db:
        names = {row[0] for row in db.exec_driver_sql("SELECT datname FROM pg_database")}
    engine.dispose()
    return names


@pytest.mark.postgres
def test_a_small_backfill_runs_each_partition_once_and_posts_each_journal_once(
    postgres: dict, tmp_path: Path
) -> None:
    before = _databases(postgres["url"])
    out = tmp_path / "out.txt"
    pythonpath = os.pathsep.join(
        [str(ROOT), str(ROOT / "sandbox"), os.environ.get("PYTHONPATH", "")]
    )
    env = {
        **os.environ,
        "PYTHONPATH": pythonpath,
        "DAGSTER_PG_HOST": postgres["host"],
        "DAGSTER_PG_PORT": postgres["port"],
        "DAGSTER_PG_USERNAME": postgres["username"],
        "DAGSTER_PG_PASSWORD": postgres["password"],
        "DAGSTER_PG_DB": postgres["db"],
    }
    arguments = ["--workers", "20", "--legal-entities", "1", "--periods", "2", "--latency-ms", "0"]
    with out.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.backfill_year", *arguments, "--timeout-s", "150"],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        code = wait_for_exit(process, 240)
    finally:
        if process.poll() is None:
            process.terminate()  # it stops its daemon and drops its databases on SIGTERM
            wait_for_exit(process, 90)
    text = out.read_text()
    assert code == 0, text[-4000:]
    result = json.loads(text.strip().splitlines()[-1])

    assert result["backfill_status"] == "COMPLETED_SUCCESS", text[-4000:]
    assert result["partitions"] >= 2  # both periods of the one company
    # One run per partition, each of exactly one partition, all succeeded.
    assert result["runs_launched"] == result["partitions"] == result["runs_succeeded"]
    assert result["runs_of_one_partition"] == result["runs_distinct_partitions"]
    assert result["runs_distinct_partitions"] == result["partitions"]
    assert result["runs_failed"] == result["runs_other"] == 0
    # Every paid run got its journal, each identity once.
    assert result["journal_identities"] >= result["payroll_runs"] > 0
    assert result["journal_headers"] == result["journal_identities"]
    assert result["identities_with_several_headers"] == 0
    assert result["peak_runs_in_progress"] >= 1
    assert all(result["requests_by_service"][s] > 0 for s in ("rippling", "entra", "dynamics"))
    assert result["requests_total"] >= result["minimal_requests_total"]
    # Its two databases were made for it and dropped (other tests may make theirs meanwhile).
    made = set(result["databases_dropped"])
    assert len(made) == 2 and not made & before
    assert not made & _databases(postgres["url"])
