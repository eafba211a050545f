"""The company-wide Rippling lists are read once for a pay period's company runs (issue 12).

Counted where the requests arrive: the sandbox's own per-endpoint counts. Sharing must hold
across runs, Dagster instances and processes (the read lives in the stored values, under a file
lock), must not outlive its freshness window or miss a worker hired after it, and must not be
left locked by a process that dies holding it.
"""

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import dagster as dg
import httpx
import pytest
from pipeline_support import materialize, period_companies, pipeline_env
from processes import wait_for_exit
from storage_support import BACKENDS, stored_on

from ml_connector_dagster import clock
from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager
from ml_connector_dagster.defs.payroll.assets import payroll_cost_snapshot
from ml_connector_dagster.defs.payroll.partitions import PayrollPartition
from ml_connector_dagster.defs.payroll.sensors import pay_run_sensor
from ml_connector_dagster.defs.payroll.workforce import WORKFORCE_KEY, shared_workforce
from ml_connector_dagster.ledger.inputs import WorkerContext
from ml_connector_dagster.payroll.runs_seen import RUNS_SEEN_TAG
from ml_connector_dagster.rippling.models import JobAssignment, JobCode, Worker
from ml_connector_sandbox.server import Sandbox

COMPANY_WIDE = ("GET /workers/", "GET /job-assignments/", "GET /job-codes/")
RECORDS = "GET /payroll-runs/{run_id}/worker-payroll-records/"


def _rippling_counts(sandbox: Sandbox) -> dict[str, int]:
    with httpx.Client(verify=sandbox.client_ssl_context()) as admin:
        answer = admin.get(sandbox.urls["rippling"] + "/_sandbox/requests")
    answer.raise_for_status()
    return answer.json()["requests"].get("rippling", {})


@pytest.fixture
def env(fresh_sandbox: Sandbox, sandbox_env, tmp_path: Path, monkeypatch) -> dict:
    return pipeline_env(fresh_sandbox, tmp_path, monkeypatch)


def _snapshot_metadata(result: dg.ExecuteInProcessResult) -> dict:
    [event] = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == payroll_cost_snapshot.key
    ]
    return event.materialization.metadata


def test_the_sensor_reads_the_runs_list_and_no_record(env) -> None:
    sandbox = env["sandbox"]
    with dg.instance_for_test() as instance:
        result = pay_run_sensor(
            dg.build_sensor_context(instance=instance, resources=env["resources"])
        )
    assert isinstance(result, dg.SensorResult) and result.run_requests
    counts = _rippling_counts(sandbox)
    assert RECORDS not in counts
    assert set(counts) == {"GET /payroll-runs/"}


def test_a_periods_company_runs_read_the_company_wide_lists_once(env) -> None:
    sandbox, period = env["sandbox"], env["period"]
    companies = period_companies(sandbox, period)
    assert len(companies) >= 2, "the sandbox's newest period must have two companies"
    with dg.instance_for_test() as first, dg.instance_for_test() as second:
        results = [
            # a second instance (another deployment process) shares the same stored read
            materialize(first if n == 0 else second, env["resources"], period, company)
            for n, company in enumerate(companies)
        ]
        assert all(r.success for r in results)
        counts = _rippling_counts(sandbox)
        # each list read once, whatever its page count: the first run's pages only
        read_once = {endpoint: counts.get(endpoint, 0) for endpoint in COMPANY_WIDE}
        assert all(n >= 1 for n in read_once.values()), counts
        sources = [str(_snapshot_metadata(r)["workforce"].value) for r in results]
        assert sources[0].endswith("by this run")
        assert all("by an earlier run, shared" in s for s in sources[1:])
        # the first run recorded the period's workforce partition; the others used it
        reads = first.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=WORKFORCE_KEY), limit=10
        ).records
        assert [r.partition_key for r in reads] == [period]
        assert not second.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=WORKFORCE_KEY), limit=10
        ).records

        # One run more reads every list again only when told not to share.
        os.environ["ML_CONNECTOR_WORKFORCE_MAX_AGE_SECONDS"] = "0"
        try:
            again = materialize(first, env["resources"], period, companies[0])
        finally:
            del os.environ["ML_CONNECTOR_WORKFORCE_MAX_AGE_SECONDS"]
        assert again.success
    after = _rippling_counts(sandbox)
    assert {e: after[e] for e in COMPANY_WIDE} == {e: 2 * n for e, n in read_once.items()}
    assert str(_snapshot_metadata(again)["workforce"].value).endswith("by this run")


RUNS_LIST = "GET /payroll-runs/"


def test_the_runs_a_sensor_tick_asks_for_share_one_read_of_the_runs_list(env) -> None:
    """The sensor reads the runs list, the first run it asks for reads it again, the others
    take that read: it shows the runs and states the sensor saw for each of them."""
    sandbox = env["sandbox"]
    with dg.instance_for_test() as instance, dg.instance_for_test() as other:
        result = pay_run_sensor(
            dg.build_sensor_context(instance=instance, resources=env["resources"])
        )
        assert isinstance(result, dg.SensorResult)
        requests = [r for r in result.run_requests if r.tags.get(RUNS_SEEN_TAG)]
        assert len(requests) >= 2 and len(requests) == len(result.run_requests)
        assert _rippling_counts(sandbox)[RUNS_LIST] == 1  # the sensor's
        results = []
        for n, request in enumerate(requests):
            partition = PayrollPartition.parse(str(request.partition_key))
            results.append(
                materialize(
                    instance if n % 2 == 0 else other,  # shared across instances too
                    env["resources"],
                    partition.pay_period,
                    partition.company,
                    tags=dict(request.tags),
                )
            )
        assert all(r.success for r in results)
        assert _rippling_counts(sandbox)[RUNS_LIST] == 2  # the sensor's and the first run's
        sources = [str(_snapshot_metadata(r)["runs_list"].value) for r in results]
        assert sources[0].endswith("by this run")
        assert all("by an earlier run" in s for s in sources[1:])

        # A run the sensor did not ask for (the UI, a backfill, a retry) reads it itself.
        partition = PayrollPartition.parse(str(requests[0].partition_key))
        ui = materialize(instance, env["resources"], partition.pay_period, partition.company)
        assert ui.success
        assert _rippling_counts(sandbox)[RUNS_LIST] == 3
        assert str(_snapshot_metadata(ui)["runs_list"].value).endswith("by this run")

        # A sensor's run whose runs the stored read shows in other states reads it again.
        tags = dict(requests[1].tags)
        tags[RUNS_SEEN_TAG] = tags[RUNS_SEEN_TAG].replace(":PAID", ":CLOSED")
        partition = PayrollPartition.parse(str(requests[1].partition_key))
        moved = materialize(
            instance, env["resources"], partition.pay_period, partition.company, tags=tags
        )
        assert moved.success
        assert _rippling_counts(sandbox)[RUNS_LIST] == 4
        assert str(_snapshot_metadata(moved)["runs_list"].value).endswith("by this run")


# --- the sharing rules, against a counting stand-in for the Rippling client ---------------------
class CountingRippling:
    """The three lists ``read_workforce`` asks for, counting each full read."""

    def __init__(self, worker_ids: list[str], gate: threading.Event | None = None) -> None:
        self.worker_ids = worker_ids
        self.reads = 0
        self.gate = gate
        self._lock = threading.Lock()

    def job_codes(self):
        return [JobCode.model_validate({"id": "jc_1", "external_id": "ENG"})]

    def job_assignments(self):
        return [
            JobAssignment.model_validate({"id": f"ja_{w}", "worker_id": w, "job_code_id": "jc_1"})
            for w in self.worker_ids
        ]

    def worker_time_splits(self):
        return []

    def workers(self, expand=()):
        with self._lock:
            self.reads += 1
        if self.gate is not None:
            self.gate.wait(10)  # a slow read: the others must wait for it, not start their own
        return [
            Worker.model_validate({"id": w, "legal_entity_id": "le_1", "department_id": "d1"})
            for w in self.worker_ids
        ]


NOON = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path: Path, monkeypatch, empty_database) -> PartitionFilesIOManager:
    """The stored values on each backend: the lock is a file lock on local files and a SQLite
    file, a PostgreSQL advisory lock on PostgreSQL (shared by every container)."""
    monkeypatch.setenv("ML_CONNECTOR_CREDENTIALS_KEY", _key())
    with stored_on(request.param, tmp_path, monkeypatch, empty_database) as stored:
        yield stored.manager()


def _key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def test_fresh_reads_are_shared_between_periods_and_stale_ones_are_not(store) -> None:
    rippling = CountingRippling(["w1", "w2"])
    with clock.pinned(NOON):
        first, use = shared_workforce(store, rippling, "2026-11-15", {"w1"}, HOUR)
    assert use.how == "read" and rippling.reads == 1
    assert first.workers["w1"] == WorkerContext(
        worker_id="w1",
        number=None,
        legal_entity_id="le_1",
        department_key="d1",
        job_codes=(("ENG", 1),),
        job_assignment_ids=("ja_w1",),
    )
    with clock.pinned(NOON + dt.timedelta(minutes=59)):
        same, use = shared_workforce(store, rippling, "2026-11-15", {"w1", "w2"}, HOUR)
        assert use.how == "stored" and same == first
        other, use = shared_workforce(store, rippling, "2026-10-31", {"w2"}, HOUR)
        assert use.how == "shared" and other == first  # a backfill's earlier period
    assert rippling.reads == 1
    with clock.pinned(NOON + HOUR + dt.timedelta(seconds=1)):
        _, use = shared_workforce(store, rippling, "2026-11-15", {"w1"}, HOUR)
    assert use.how == "read" and rippling.reads == 2
    with clock.pinned(NOON + HOUR + dt.timedelta(seconds=2)):
        _, use = shared_workforce(store, rippling, "2026-11-15", {"w1"}, dt.timedelta(0))
    assert use.how == "read" and rippling.reads == 3  # max age 0: no sharing at all


def test_a_worker_the_stored_read_does_not_know_makes_the_run_read_again(store) -> None:
    rippling = CountingRippling(["w1"])
    with clock.pinned(NOON):
        shared_workforce(store, rippling, "2026-11-15", {"w1"}, HOUR)
        rippling.worker_ids = ["w1", "w_hired"]  # hired after the read, paid in a correction
        known, use = shared_workforce(store, rippling, "2026-11-15", {"w1", "w_hired"}, HOUR)
    assert use.how == "read" and rippling.reads == 2
    assert known.missing({"w1", "w_hired"}) == set()


def test_a_read_from_the_future_is_not_trusted(store) -> None:
    """A stored read dated after now (a clock set back) is read again, not reused."""
    rippling = CountingRippling(["w1"])
    with clock.pinned(NOON):
        shared_workforce(store, rippling, "2026-11-15", {"w1"}, HOUR)
    with clock.pinned(NOON - dt.timedelta(minutes=5)):
        _, use = shared_workforce(store, rippling, "2026-11-15", {"w1"}, HOUR)
    assert use.how == "read"


def test_runs_at_the_same_time_wait_for_one_read(store) -> None:
    gate = threading.Event()
    rippling = CountingRippling(["w1"], gate)
    uses: list[str] = []

    def run(period: str) -> None:
        _, use = shared_workforce(store, rippling, period, {"w1"}, HOUR)
        uses.append(use.how)

    threads = [threading.Thread(target=run, args=(p,)) for p in ("2026-11-15",) * 3]
    for thread in threads:
        thread.start()
    clock.sleep(0.3)  # all three are in: one reading, two waiting on the lock
    gate.set()
    for thread in threads:
        thread.join(20)
    assert rippling.reads == 1
    assert sorted(uses) == ["read", "stored", "stored"]


def test_a_process_killed_while_reading_leaves_no_lock_behind(store, tmp_path: Path) -> None:
    """The holder dies mid-read (SIGKILL): the OS drops its file lock (PostgreSQL its advisory
    lock, with the connection) and the next run reads."""
    script = textwrap.dedent(
        f"""
        import sys
        from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager
        from ml_connector_dagster.defs.payroll.workforce import WORKFORCE_KEY
        store = PartitionFilesIOManager(base_dir={store.base_dir!r})
        with store.exclusive(WORKFORCE_KEY):
            print("holding", flush=True)
            sys.stdin.read()
        """
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        done = threading.Event()
        waiter = threading.Thread(
            target=lambda: (
                shared_workforce(store, CountingRippling(["w1"]), "2026-11-15", {"w1"}, HOUR),
                done.set(),
            )
        )
        waiter.start()
        assert not done.wait(0.5)  # held by the other process: this run waits
        os.kill(holder.pid, signal.SIGKILL)
        wait_for_exit(holder, 10)
        assert done.wait(20)  # and goes on once the holder is gone
        waiter.join(5)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
