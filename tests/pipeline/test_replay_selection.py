"""`ml-connector replay` re-runs partitions whose run failed before posting, not only those the
audit trail knows; a later success clears a partition; a dead process's run is freed first.

Real Dagster instances and the sandbox over HTTPS. A run fails at the Rippling snapshot through a
sandbox fault answering 501 to one payroll run's records: not a transient status, so the client
gives up at once (no backoff to sleep through) and the run fails before any journal identity is
claimed, which is exactly what the audit trail cannot see.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner
from dagster._core.test_utils import create_run_for_test
from pipeline_support import materialize, pipeline_env

from ml_connector_dagster.audit.store import AuditStore
from ml_connector_dagster.cli import main
from ml_connector_dagster.config.settings import ConnectorSettings
from ml_connector_dagster.connections import Connection
from ml_connector_dagster.defs.payroll.assets import payroll_cost_snapshot
from ml_connector_dagster.defs.payroll.partitions import legal_entities, pay_periods
from ml_connector_dagster.defs.payroll.unfinished import (
    failed_run_partitions,
    unfinished_partitions,
)
from ml_connector_sandbox.server import Sandbox

COMPANY = "USMF"
CREATED = "created in F&O, not posted"


def _fail_snapshot_of(sandbox: Sandbox, payroll_run_id: str) -> None:
    """Rippling answers 501 to the worker payroll records of one payroll run (the snapshot's
    reads; `run` checks the pay period on the run list, which stays answered)."""
    sandbox.faults.load(
        {
            "rippling": [
                {
                    "kind": "server_error",
                    "status": 501,
                    "share": 1.0,
                    "path_prefix": f"/payroll-runs/{payroll_run_id}/",
                }
            ]
        }
    )


def _paid_periods(sandbox: Sandbox) -> list[str]:
    """USMF's pay periods with a PAID run, newest first."""
    rippling = sandbox.company["rippling"]
    entity = next(
        e["id"]
        for e in rippling["company_legal_entities"]
        if e["legal_name"] == "Northwind Advisory Inc."
    )
    ends = {
        r["pay_period"]["end_date"]
        for r in rippling["payroll_runs"]
        if r["run_state"] == "PAID" and r["company_entity_id"] == entity
    }
    return sorted(ends, reverse=True)


def _journal_headers() -> list[dict]:
    with Connection.from_environment().dynamics() as client:
        return client.list_entities("LedgerJournalHeaders")


# --- through the command, on the instance of DAGSTER_HOME ----------------------------------


@pytest.fixture
def env(home_env: dict) -> dict:
    return home_env


def _invoke(*args: str):
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "250"}, catch_exceptions=False)


@contextmanager
def _instance_and_store() -> Iterator[tuple[dg.DagsterInstance, AuditStore]]:
    """The command's own instance and audit store (DAGSTER_HOME, its default SQLite)."""
    store = AuditStore(ConnectorSettings.from_env().audit_database_url())
    try:
        with dg.DagsterInstance.get() as instance:
            yield instance, store
    finally:
        store.dispose()


def test_a_run_failed_at_the_rippling_snapshot_is_replayed_and_posted(env) -> None:
    sandbox, period = env["sandbox"], env["period"]
    key = f"{COMPANY}|{period}"
    _fail_snapshot_of(sandbox, env["runs"][0]["id"])
    failed = _invoke("run", "--pay-period", period, "--legal-entity", COMPANY)
    assert failed.exit_code == 1, failed.output
    assert "FAILED" in failed.output and "501" in failed.output
    assert _journal_headers() == []

    with _instance_and_store() as (instance, store):
        # Nothing was claimed: the audit trail alone would say "Nothing to replay".
        assert store.failed_partitions() == []
        assert failed_run_partitions(instance) == [key]
        assert unfinished_partitions(instance, store) == [key]

    sandbox.faults.clear()
    replayed = _invoke("replay")
    assert replayed.exit_code == 0, replayed.output
    assert period in replayed.output and CREATED in replayed.output
    headers = _journal_headers()
    assert headers and all(h["JournalTotalDebit"] == h["JournalTotalCredit"] > 0 for h in headers)
    assert all(h["JournalBatchNumber"] in replayed.output for h in headers)

    # The partition's latest run succeeded: nothing is left to replay, and nothing runs again.
    again = _invoke("replay")
    assert again.exit_code == 0 and "Nothing to replay" in again.output
    assert len(_journal_headers()) == len(headers)


def test_a_run_left_started_by_a_dead_process_is_freed_then_replayed(env, dead_pid_tags) -> None:
    period = env["period"]
    key = f"{COMPANY}|{period}"
    with _instance_and_store() as (instance, store):
        # What a run worker killed during the snapshot leaves: its partition, a STARTED run
        # naming a process that is gone, and nothing in the audit trail.
        instance.add_dynamic_partitions(pay_periods.name, [period])
        instance.add_dynamic_partitions(legal_entities.name, [COMPANY])
        dead = create_run_for_test(
            instance,
            job_name="payroll_to_ledger",
            status=dg.DagsterRunStatus.STARTED,
            tags={
                "ml_connector/trigger": "pay_run_sensor",
                "dagster/partition": key,
                **dead_pid_tags,
            },
        )
        # Until it is freed it looks in progress: deciding before freeing would skip it.
        assert unfinished_partitions(instance, store) == []

    replayed = _invoke("replay")
    assert replayed.exit_code == 0, replayed.output
    assert replayed.output.count(f"freed run {dead.run_id[:8]}") == 1  # freed, and said once
    assert period in replayed.output and CREATED in replayed.output
    headers = _journal_headers()
    assert headers and all(h["JournalTotalDebit"] == h["JournalTotalCredit"] > 0 for h in headers)

    with _instance_and_store() as (instance, store):
        freed = instance.get_run_by_id(dead.run_id)
        assert freed is not None and freed.status == dg.DagsterRunStatus.FAILURE
        assert unfinished_partitions(instance, store) == []


# --- the selection itself, on a test instance ----------------------------------------------


def test_a_partition_whose_latest_payroll_run_succeeded_is_not_listed(
    fresh_sandbox: Sandbox, sandbox_env, tmp_path: Path, monkeypatch
) -> None:
    env = pipeline_env(fresh_sandbox, tmp_path, monkeypatch)
    newest, older = _paid_periods(fresh_sandbox)[:2]
    # One fault for every payroll run's records: every snapshot fails while it is on.
    fault = {
        "rippling": [
            {"kind": "server_error", "status": 501, "share": 1.0, "path_prefix": "/payroll-runs/"}
        ]
    }
    res = env["resources"]
    store = AuditStore(f"sqlite:///{tmp_path / 'audit.sqlite'}")
    try:
        with dg.instance_for_test() as instance:
            fresh_sandbox.faults.load(fault)
            assert not materialize(instance, res, newest, COMPANY).success
            assert not materialize(instance, res, older, COMPANY).success
            assert failed_run_partitions(instance) == sorted(
                [f"{COMPANY}|{newest}", f"{COMPANY}|{older}"]
            )

            fresh_sandbox.faults.clear()
            assert materialize(instance, res, newest, COMPANY).success
            # A later run of the snapshot alone posts nothing: its failure does not undo the
            # success of the payroll run before it.
            fresh_sandbox.faults.load(fault)
            snapshot_only = dg.materialize(
                [payroll_cost_snapshot],
                instance=instance,
                resources=res,
                partition_key=dg.MultiPartitionKey({"pay_period": newest, "legal_entity": COMPANY}),
                raise_on_error=False,
            )
            assert not snapshot_only.success

            assert failed_run_partitions(instance) == [f"{COMPANY}|{older}"]
            assert unfinished_partitions(instance, store) == [f"{COMPANY}|{older}"]
    finally:
        store.dispose()
