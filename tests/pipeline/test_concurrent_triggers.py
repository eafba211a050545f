"""Two sensors' runs and a UI backfill of one pay period x company at once, on PostgreSQL.

Each run is a process of its own (as the daemon's run launcher starts them), tagged as the pay-run
sensor, a second sensor and a backfill tag their runs, on a PostgreSQL instance and audit store
of their own, against the sandbox. They must all end (bounded by a generous
``wait_for_exit``), F&O must hold exactly one journal per identity, and no pool slot may be left
claimed or waited for. Then a run SIGKILLed while it holds the Dynamics pool's slot on
PostgreSQL is found dead and its slot freed (the SQLite case with ``ml-connector run`` is in
test_stale_runs.py).
"""

import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from itertools import pairwise
from pathlib import Path

import dagster as dg
import pytest
from pg_home import postgres_home
from pipeline_support import admin, latest_paid_period
from processes import wait_for_exit

from ml_connector_dagster.connections import Connection
from ml_connector_dagster.defs.pools import DYNAMICS_POOL, apply_pool_limits
from ml_connector_dagster.defs.stale_runs import TRIGGER_TAG, free_dead_runs
from ml_connector_dagster.ledger.journal import JournalIdentity, JournalType
from ml_connector_sandbox.mapping import write_sandbox_mapping

COMPANY = "USMF"
# Three runs on two cores, each importing Dagster in a fresh process: minutes at worst.
GENEROUS_SECONDS = 600

CHILD = """
import dataclasses, json, sys
from benchmarks.concurrent_runs import _one_run
period, company, tags, storage, audit_url, out = sys.argv[1:]
result = _one_run(period, company, json.loads(tags), storage, audit_url)
open(out, "w").write(json.dumps(dataclasses.asdict(result)))
"""

TRIGGERS = {
    "pay_run_sensor": {"dagster/sensor_name": "pay_run_sensor", TRIGGER_TAG: "pay_run_sensor"},
    "webhook_sensor": {"dagster/sensor_name": "webhook_sensor", TRIGGER_TAG: "webhook_sensor"},
    "backfill": {"dagster/backfill": "pooltest", TRIGGER_TAG: "backfill"},
}


@pytest.fixture
def setup(fresh_sandbox, sandbox_env, tmp_path: Path, monkeypatch):
    mapping = write_sandbox_mapping(fresh_sandbox.company, tmp_path / "mapping.yaml")
    monkeypatch.setenv("ML_CONNECTOR_MAPPING", str(mapping))
    period, runs = latest_paid_period(fresh_sandbox)
    return {"sandbox": fresh_sandbox, "period": period, "runs": runs, "tmp": tmp_path}


def _start(setup: dict, audit_url: str, name: str, tags: dict) -> tuple[subprocess.Popen, Path]:
    tmp: Path = setup["tmp"]
    out, log = tmp / f"{name}.json", tmp / f"{name}.log"
    arguments = [setup["period"], COMPANY, json.dumps(tags), str(tmp / "storage"), audit_url]
    # Output to a file, not a pipe: Dagster's compute-log tailers may outlive the process.
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-c", CHILD, *arguments, str(out)],
            env=os.environ.copy(),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    return process, out


def _pools_idle(instance: dg.DagsterInstance) -> dict[str, tuple[int, int]]:
    """Per pool of the instance: (claimed slots, waiting steps); all zeros when idle."""
    storage = instance.event_log_storage
    infos = storage.get_concurrency_infos(sorted(storage.get_concurrency_keys()))
    return {
        pool: (len(info.claimed_slots), len(info.pending_steps)) for pool, info in infos.items()
    }


def _posting_span(instance: dg.DagsterInstance, run_id: str) -> tuple[float, float]:
    """When the run's posting step started and ended (its event log)."""
    times = [
        entry.timestamp
        for entry in instance.all_logs(run_id)
        if entry.dagster_event is not None
        and entry.step_key == "dynamics__posted_journals"
        and entry.dagster_event.event_type
        in (dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS)
    ]
    assert len(times) == 2, times
    return min(times), max(times)


@pytest.mark.parametrize("granularity", ["run", "op"])
def test_two_sensors_and_a_backfill_on_one_period_post_each_journal_once(
    granularity, setup, postgres, empty_database, tmp_path: Path, monkeypatch
) -> None:
    """``run`` is what dagster.postgres.yaml ships: runs outside the queue take no slot, so the
    three post side by side and the journal claims keep them apart. ``op``: their posting
    steps queue for the one slot in turn."""
    changes = {"concurrency": {"pools": {"granularity": granularity}}}
    with (
        empty_database("postgres") as audit_url,
        postgres_home(postgres, tmp_path / "home", monkeypatch, changes),
    ):
        with dg.DagsterInstance.get() as instance:
            apply_pool_limits(instance)
        started = [(name, *_start(setup, audit_url, name, tags)) for name, tags in TRIGGERS.items()]
        codes = {name: wait_for_exit(process, GENEROUS_SECONDS) for name, process, _ in started}
        logs = {name: (tmp_path / f"{name}.log").read_text()[-3000:] for name in TRIGGERS}
        assert codes == dict.fromkeys(TRIGGERS, 0), logs
        results = {name: json.loads(out.read_text()) for name, _, out in started}
        assert all(r["success"] for r in results.values()), (results, logs)

        keys = {
            JournalIdentity("default", run["id"], COMPANY, JournalType.SETTLEMENT).integration_key
            for run in setup["runs"]
        }
        with Connection.from_environment().dynamics() as client:
            headers = client.list_entities("LedgerJournalHeaders")
        assert Counter(h["IntegrationKey"] for h in headers) == dict.fromkeys(keys, 1), headers

        with dg.DagsterInstance.get() as instance:
            runs = {r.run_id: r for r in instance.get_runs()}
            assert {runs[r["run_id"]].tags[TRIGGER_TAG] for r in results.values()} == set(TRIGGERS)
            assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs.values())
            if granularity == "op":  # the slot passed from one posting step to the next
                spans = sorted(_posting_span(instance, r["run_id"]) for r in results.values())
                assert all(a[1] <= b[0] for a, b in pairwise(spans)), spans
            idle = _pools_idle(instance)
            assert idle.get(DYNAMICS_POOL) == (0, 0)
            assert set(idle.values()) == {(0, 0)}, idle


def test_a_run_killed_holding_the_pool_slot_on_postgres_is_freed(
    setup, postgres, empty_database, tmp_path: Path, monkeypatch
) -> None:
    """The posting step's first F&O request is throttled for 300 s (the client honours it,
    inside the step, holding the slot); the run's process is SIGKILLed there. The slot stays
    claimed until ``free_dead_runs`` (what the next run, the sensor or ``runs stale --free``
    call) marks the run failed and frees it."""
    sandbox = setup["sandbox"]
    throttled = threading.Event()
    decide = sandbox.faults.decide

    def watching(service: str, path: str, method: str = "GET"):
        rules = decide(service, path, method)
        if any(rule.kind == "throttle" for rule in rules):
            throttled.set()
        return rules

    monkeypatch.setattr(sandbox.faults, "decide", watching)
    with admin(sandbox, "dynamics") as fo:
        fault = {
            "kind": "throttle",
            "share": 1.0,
            "retry_after": 300,
            "path_prefix": "/data/LedgerJournalHeaders",
        }
        assert fo.put("/_sandbox/faults", json={"dynamics": [fault]}).status_code == 200

    changes = {"concurrency": {"pools": {"granularity": "op"}}}
    with (
        empty_database("postgres") as audit_url,
        postgres_home(postgres, tmp_path / "home", monkeypatch, changes),
    ):
        with dg.DagsterInstance.get() as instance:
            apply_pool_limits(instance)
        process, _ = _start(setup, audit_url, "killed", TRIGGERS["pay_run_sensor"])
        waiter = threading.Thread(target=lambda: (process.wait(), throttled.set()), daemon=True)
        waiter.start()
        throttled.wait()  # no timeout: set by the throttle or by the child's exit
        assert process.poll() is None, (tmp_path / "killed.log").read_text()[-3000:]
        os.kill(process.pid, signal.SIGKILL)
        assert wait_for_exit(process, 60) == -signal.SIGKILL
        waiter.join()

        with dg.DagsterInstance.get() as instance:
            [run] = instance.get_runs()
            assert run.status == dg.DagsterRunStatus.STARTED
            held = instance.event_log_storage.get_concurrency_info(DYNAMICS_POOL).claimed_slots
            assert [slot.run_id for slot in held] == [run.run_id]

            [freed] = free_dead_runs(instance, actor="a test")
            assert freed.run_id == run.run_id and freed.marked == "failed" and freed.freed
            assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
            assert _pools_idle(instance)[DYNAMICS_POOL] == (0, 0)
            assert free_dead_runs(instance) == []
