"""Pools and run health: limits set at start-up, the pool granularity, the maximum runtime.

On PostgreSQL each test has a database of its own (``pg_home.postgres_home``): a pool nobody
has set yet is the case the start-up race needs. No sleeps: children are waited for with
``processes.wait_for_exit``; the run queue is driven one daemon iteration at a time.
"""

import logging
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.remote_origin import (
    RegisteredCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.workspace.load_target import EmptyWorkspaceTarget
from dagster._daemon.monitoring.run_monitoring import check_run_timeout
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import (
    QueuedRunCoordinatorDaemon,
)
from pg_home import ROOT, postgres_home
from processes import wait_for_exit

from ml_connector_dagster import clock
from ml_connector_dagster.config.settings import ConnectorSettings
from ml_connector_dagster.defs import pools
from ml_connector_dagster.defs.pools import apply_pool_limits, dynamics_pool, pool_limits
from ml_connector_dagster.defs.run_limits import MAX_RUNTIME_TAG, runtime_tags
from ml_connector_dagster.defs.stale_runs import free_dead_runs
from ml_connector_dagster.instance import prepare_dagster_home

# --- the limit is set explicitly, once, whoever starts first ---------------------------------


def _limit(instance: dg.DagsterInstance, pool: str) -> tuple[int | None, bool, int]:
    found = {p.name: p for p in instance.event_log_storage.get_pool_limits()}.get(pool)
    slots = instance.event_log_storage.get_concurrency_info(pool).slot_count
    return (found.limit, found.from_default, slots) if found else (None, False, slots)


def test_apply_sets_the_setting_once_and_overrides_a_default_or_a_hand_set_limit() -> None:
    pool = f"dynamics__{uuid.uuid4().hex[:8]}"
    with dg.instance_for_test(overrides={"concurrency": {"pools": {"default_limit": 1}}}) as inst:
        inst.event_log_storage.initialize_concurrency_limit_to_default(pool)
        assert _limit(inst, pool) == (1, True, 1)  # as Dagster leaves a pool it met first

        [first] = apply_pool_limits(inst, {pool: 2})
        assert first.changed and first.before == 1 and first.was_default
        assert _limit(inst, pool) == (2, False, 2)
        [again] = apply_pool_limits(inst, {pool: 2})
        assert not again.changed

        inst.event_log_storage.set_concurrency_slots(pool, 5)  # someone in the UI
        [back] = apply_pool_limits(inst, {pool: 2})
        assert back.changed and back.before == 5
        assert _limit(inst, pool) == (2, False, 2)


def test_the_pool_and_its_limit_come_from_the_settings() -> None:
    settings = ConnectorSettings.from_env(
        {"ML_CONNECTOR_CONNECTION": "acme", "ML_CONNECTOR_DYNAMICS_POOL_LIMIT": "3"}
    )
    assert pool_limits(settings) == {"dynamics__acme": 3}
    assert pool_limits(ConnectorSettings.from_env({})) == {dynamics_pool("default"): 1}
    assert dynamics_pool(pools.CONNECTION) == pools.DYNAMICS_POOL


def test_preparing_a_home_sets_the_pool_of_the_settings(tmp_path: Path, monkeypatch) -> None:
    """``ml-connector home`` (run by ``make demo``) and every command that opens the instance."""
    monkeypatch.setenv("ML_CONNECTOR_CONNECTION", "acme")
    monkeypatch.setenv("ML_CONNECTOR_DYNAMICS_POOL_LIMIT", "2")
    home = prepare_dagster_home(tmp_path / "home", kind="sqlite")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert _limit(instance, "dynamics__acme") == (2, False, 2)
    monkeypatch.setenv("ML_CONNECTOR_DYNAMICS_POOL_LIMIT", "1")
    prepare_dagster_home(home, kind="sqlite")  # the home exists: only the limit changes
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert _limit(instance, "dynamics__acme") == (1, False, 1)


RACER = """
import sys
from pathlib import Path
from ml_connector_dagster import clock
import dagster as dg
from ml_connector_dagster.defs.pools import apply_pool_limits
go, names = Path(sys.argv[1]), sys.argv[2].split(",")
with dg.DagsterInstance.get() as instance:
    instance.event_log_storage.get_pool_limits()  # connected and migrated before the start
    Path(sys.argv[3]).touch()
    while not go.exists():
        clock.sleep(0.005)
    for name in names:
        apply_pool_limits(instance, {name: 2})
"""


def test_two_processes_setting_new_pools_at_once_on_postgres_both_succeed(
    postgres, tmp_path: Path, monkeypatch
) -> None:
    """Both insert the same new pools at the same moment: the loser retries, nobody crashes,
    and each pool ends with exactly its limit in slots (no slot inserted twice)."""
    names = [f"race_{i}_{uuid.uuid4().hex[:6]}" for i in range(30)]
    go = tmp_path / "go"
    with postgres_home(postgres, tmp_path / "home", monkeypatch):
        racers = [
            subprocess.Popen(
                [sys.executable, "-c", RACER, str(go), ",".join(names), str(tmp_path / f"r{i}")],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            for i in range(2)
        ]
        while not all((tmp_path / f"r{i}").exists() for i in range(2)):
            assert all(r.poll() is None for r in racers), [r.stdout.read() for r in racers]
            clock.sleep(0.02)
        go.touch()
        codes = [wait_for_exit(r, 120) for r in racers]
        assert codes == [0, 0], [r.stdout.read().decode()[-2000:] for r in racers]
        with dg.DagsterInstance.get() as instance:
            for name in names:
                assert _limit(instance, name) == (2, False, 2), name


def test_two_code_location_loads_at_once_set_the_configured_limit_on_postgres(
    postgres, tmp_path: Path, monkeypatch
) -> None:
    """``dagster dev`` / a code server / a run worker: each loads the code location, which
    sets the pool from ML_CONNECTOR_DYNAMICS_POOL_LIMIT before any step can claim a slot."""
    monkeypatch.setenv("ML_CONNECTOR_CONNECTION", "pooltest")
    monkeypatch.setenv("ML_CONNECTOR_DYNAMICS_POOL_LIMIT", "3")
    with postgres_home(postgres, tmp_path / "home", monkeypatch):
        loads = [
            subprocess.Popen(
                [sys.executable, "-c", "import ml_connector_dagster.definitions"],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            for _ in range(2)
        ]
        codes = [wait_for_exit(p, 300) for p in loads]
        outputs = [p.stdout.read().decode() for p in loads]
        assert codes == [0, 0], [o[-2000:] for o in outputs]
        assert not any("could not set the pool limits" in o for o in outputs), outputs
        with dg.DagsterInstance.get() as instance:
            assert _limit(instance, "dynamics__pooltest") == (3, False, 3)


POOL_ASSET = "pooled"


def _pooled_asset(pool: str) -> dg.AssetsDefinition:
    @dg.asset(name=POOL_ASSET, pool=pool)
    def pooled() -> int:
        return 1

    return pooled


def test_a_pool_set_at_start_up_is_never_initialised_from_the_default_on_postgres(
    postgres, tmp_path: Path, monkeypatch
) -> None:
    """The crash of upstream issue 33552 lives in ``initialize_concurrency_limit_to_default``:
    with the pool set first a step claiming its slot never calls it; without, it does."""
    from dagster_postgres.event_log.event_log import PostgresEventLogStorage

    calls: list[str] = []
    original = PostgresEventLogStorage.initialize_concurrency_limit_to_default

    def recording(self, concurrency_key: str) -> bool:
        calls.append(concurrency_key)
        return original(self, concurrency_key)

    monkeypatch.setattr(
        PostgresEventLogStorage, "initialize_concurrency_limit_to_default", recording
    )
    changes = {"concurrency": {"pools": {"granularity": "op"}}}
    with postgres_home(postgres, tmp_path / "home", monkeypatch, changes):
        set_first, left_to_default = "set_first", "left_to_default"
        with dg.DagsterInstance.get() as instance:
            apply_pool_limits(instance, {set_first: 1})
            for pool in (set_first, left_to_default):
                result = dg.materialize([_pooled_asset(pool)], instance=instance)
                assert result.success
                assert instance.event_log_storage.get_concurrency_info(pool).claimed_slots == []
        assert calls == [left_to_default]


# --- granularity: a run waiting for the pool holds no run slot -------------------------------


@pytest.fixture
def job_defs() -> Iterator[dict[str, dg.JobDefinition]]:
    from ml_connector_dagster.definitions import defs

    yield {
        name: defs.resolve_job_def(name) for name in ("payroll_to_ledger", "refresh_reference_data")
    }


def _create_runs(
    instance: dg.DagsterInstance,
    job_defs: dict,
    runs: tuple[tuple[str, str], ...] = (
        ("a", "payroll_to_ledger"),
        ("b", "payroll_to_ledger"),
        ("reference", "refresh_reference_data"),
    ),
    status: dg.DagsterRunStatus = dg.DagsterRunStatus.QUEUED,
    tags: dict[str, str] | None = None,
) -> dict[str, str]:
    """Runs of the real jobs (default: two payroll runs of the same pool, then a reference
    refresh that needs no pool), QUEUED unless told; label -> run id."""
    repository = RemoteRepositoryOrigin(
        RegisteredCodeLocationOrigin("ml_connector_dagster"), "__repository__"
    )
    ids = {}
    for label, job in runs:
        run = instance.create_run_for_job(
            job_defs[job],
            status=status,
            tags=tags,
            remote_job_origin=RemoteJobOrigin(repository, job),
        )
        ids[label] = run.run_id
    return ids


def _dequeue(instance: dg.DagsterInstance) -> None:
    from dagster._core.test_utils import create_test_daemon_workspace_context

    with create_test_daemon_workspace_context(EmptyWorkspaceTarget(), instance) as context:
        list(QueuedRunCoordinatorDaemon(interval_seconds=1).run_iteration(context))


def _statuses(instance: dg.DagsterInstance, ids: dict[str, str]) -> dict[str, str]:
    return {label: instance.get_run_by_id(run_id).status.value for label, run_id in ids.items()}


def _shipped_granularity() -> str:
    config = yaml.safe_load((ROOT / "dagster.postgres.yaml").read_text())
    return config["concurrency"]["pools"]["granularity"]


@pytest.mark.parametrize("granularity", ["run", "op"])
def test_a_run_waiting_for_the_pool_stays_queued_and_holds_no_run_slot(
    granularity, job_defs, postgres, tmp_path: Path, monkeypatch
) -> None:
    """The run queue of a real PostgreSQL instance (two run slots, the Dynamics pool at one),
    driven one daemon iteration at a time; the launcher only records launches.

    ``run`` (shipped): the second payroll run stays QUEUED, so the reference refresh gets the
    free run slot; when the first ends the second starts. ``op``, for contrast: both payroll
    runs start (the second would wait inside its posting step holding a run slot) and the
    reference refresh waits in the queue behind them."""
    changes = {
        "concurrency": {"runs": {"max_concurrent_runs": 2}, "pools": {"granularity": granularity}},
        "run_launcher": {"module": "dagster._core.test_utils", "class": "MockedRunLauncher"},
    }
    with (
        postgres_home(postgres, tmp_path / "home", monkeypatch, changes),
        dg.DagsterInstance.get() as instance,
    ):
        apply_pool_limits(instance)  # what the code location load does
        assert instance.get_concurrency_config().pool_config.pool_granularity.value == granularity
        ids = _create_runs(instance, job_defs)
        _dequeue(instance)
        first = _statuses(instance, ids)
        if granularity == "run":
            assert granularity == _shipped_granularity()
            assert first == {"a": "STARTING", "b": "QUEUED", "reference": "STARTING"}
            instance.report_run_failed(instance.get_run_by_id(ids["a"]), "done for the test")
            _dequeue(instance)
            assert _statuses(instance, ids)["b"] == "STARTING"
        else:
            assert first == {"a": "STARTING", "b": "STARTING", "reference": "QUEUED"}


# --- maximum runtime -------------------------------------------------------------------------


def test_every_job_carries_the_max_runtime_of_the_setting() -> None:
    from ml_connector_dagster.definitions import defs

    expected = runtime_tags()
    assert expected == {MAX_RUNTIME_TAG: str(ConnectorSettings.from_env().max_runtime_seconds)}
    jobs = [job for job in defs.resolve_all_job_defs() if not job.name.startswith("__")]
    assert len(jobs) >= 7
    for job in jobs:
        assert job.run_tags.get(MAX_RUNTIME_TAG) == expected[MAX_RUNTIME_TAG], job.name
    settings = ConnectorSettings.from_env({"ML_CONNECTOR_MAX_RUNTIME_SECONDS": "600"})
    assert runtime_tags(settings) == {MAX_RUNTIME_TAG: "600"}
    assert runtime_tags(ConnectorSettings.from_env({"ML_CONNECTOR_MAX_RUNTIME_SECONDS": "0"})) == {}


@pytest.mark.parametrize("template", ["dagster.yaml", "dagster.postgres.yaml"])
def test_both_instance_files_monitor_runs_and_name_a_granularity(template: str) -> None:
    config = yaml.safe_load((ROOT / template).read_text())
    assert config["run_monitoring"]["enabled"] is True
    assert config["concurrency"]["pools"]["granularity"] in ("op", "run")
    assert "max_runtime_seconds" not in config["run_monitoring"]  # the jobs' tag decides


def test_run_monitoring_fails_a_run_past_the_tagged_runtime(tmp_path: Path) -> None:
    """Dagster's own monitor reads the tag the jobs carry (a typo in its name would not)."""
    from dagster._core.test_utils import create_run_for_test

    with dg.instance_for_test() as instance:
        over = create_run_for_test(
            instance, status=dg.DagsterRunStatus.STARTED, tags={MAX_RUNTIME_TAG: "0.000001"}
        )
        within = create_run_for_test(
            instance, status=dg.DagsterRunStatus.STARTED, tags=runtime_tags()
        )
        for run in (over, within):
            instance.handle_new_event(
                dg.EventLogEntry(
                    error_info=None,
                    level=logging.DEBUG,
                    user_message="",
                    run_id=run.run_id,
                    timestamp=time.time() - 1,
                    dagster_event=dg.DagsterEvent(
                        event_type_value=dg.DagsterEventType.RUN_START.value,
                        job_name=run.job_name,
                    ),
                )
            )
            record = instance.get_run_record_by_id(run.run_id)
            assert record is not None and record.start_time is not None
            check_run_timeout(instance, record, logging.getLogger("test"), 0.0)
        assert instance.get_run_by_id(over.run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(within.run_id).status == dg.DagsterRunStatus.STARTED


def test_under_run_granularity_a_dead_run_holds_the_pool_until_freed(
    job_defs, dead_pid_tags, postgres, tmp_path: Path, monkeypatch
) -> None:
    """A STARTED run counts against its pools until it ends: one whose process died would keep
    the connection's next run QUEUED for ever. ``free_dead_runs`` (run by the pay-run sensor
    every tick) marks it failed, and the queue starts the next run."""
    changes = {
        "concurrency": {"runs": {"max_concurrent_runs": 10}},
        "run_launcher": {"module": "dagster._core.test_utils", "class": "MockedRunLauncher"},
    }
    with (
        postgres_home(postgres, tmp_path / "home", monkeypatch, changes),
        dg.DagsterInstance.get() as instance,
    ):
        apply_pool_limits(instance)
        assert instance.get_concurrency_config().pool_config.pool_granularity.value == "run"
        dead = _create_runs(
            instance,
            job_defs,
            (("dead", "payroll_to_ledger"),),
            dg.DagsterRunStatus.STARTED,
            dead_pid_tags,
        )
        ids = {**dead, **_create_runs(instance, job_defs, (("next", "payroll_to_ledger"),))}
        _dequeue(instance)
        assert _statuses(instance, ids) == {"dead": "STARTED", "next": "QUEUED"}

        assert [d.run_id for d in free_dead_runs(instance, actor="a test")] == [dead["dead"]]
        _dequeue(instance)
        assert _statuses(instance, ids) == {"dead": "FAILURE", "next": "STARTING"}
