"""Runs whose process died are found, marked failed and their pool slots freed; others never.

The first test is the reproduction: the run worker of an `ml-connector run` (the process the
run's tags name; the command itself only submitted the run and follows it) is SIGKILLed, with
the command, while its posting step holds the Dynamics pool slot, and the next `ml-connector run`
(a fresh process) frees the dead run and completes. The kill lands at a known point without
timing luck: the sandbox throttles the posting step's first F&O request with a 300-second
Retry-After, which the client honours, and the test learns that the throttle fired from the
sandbox's fault board in this process. The other tests build runs and slot claims directly in a
real instance, on SQLite and on PostgreSQL.

No ``time.sleep`` and no timed waits (libfaketime breaks them): the waits below have no timeout
and end when the throttle fires or the child exits, whichever comes first.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner
from dagster._core.test_utils import create_run_for_test
from pipeline_support import admin

from ml_connector_dagster.cli import main
from ml_connector_dagster.connections import Connection
from ml_connector_dagster.defs.pools import DYNAMICS_POOL
from ml_connector_dagster.defs.stale_runs import (
    HOST_TAG,
    PID_TAG,
    PROCESS_START_TAG,
    Process,
    RunStillAlive,
    find_dead_runs,
    free_dead_runs,
    free_run,
    process_state,
    process_tags,
    slot_uses,
)
from ml_connector_dagster.instance import prepare_dagster_home

COMPANY = "USMF"
GONE = "The process running this run is gone"


# --- the reproduction ----------------------------------------------------------------------


@pytest.fixture
def env(home_env: dict) -> dict:
    return home_env


def _cli(env: dict, log: Path) -> subprocess.Popen:
    command = [
        str(Path(sys.executable).parent / "ml-connector"),
        "run",
        "--pay-period",
        env["period"],
        "--legal-entity",
        COMPANY,
    ]
    # Output to a file, not a pipe: Dagster's compute-log tailers may outlive the process.
    with log.open("w") as out:
        return subprocess.Popen(
            command,
            env={**os.environ, "COLUMNS": "250"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _cli_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    return list(instance.get_runs(filters=dg.RunsFilter(tags={"ml_connector/trigger": "cli"})))


def _holders(instance: dg.DagsterInstance, pool: str) -> set[str]:
    return {
        slot.run_id for slot in instance.event_log_storage.get_concurrency_info(pool).claimed_slots
    }


def _failure_messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [
        entry.dagster_event.message or ""
        for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    ]


def test_a_killed_cli_run_is_freed_by_the_next_run_which_completes(env, monkeypatch) -> None:
    sandbox = env["sandbox"]
    throttled = threading.Event()
    decide = sandbox.faults.decide

    def watching(service: str, path: str, method: str = "GET"):
        rules = decide(service, path, method)
        if any(rule.kind == "throttle" for rule in rules):
            throttled.set()
        return rules

    monkeypatch.setattr(sandbox.faults, "decide", watching)
    # Only the posting step reads or writes journal headers: its first request is answered 429
    # with Retry-After 300, and the client waits (in the step, holding the pool slot).
    with admin(sandbox, "dynamics") as fo:
        answer = fo.put(
            "/_sandbox/faults",
            json={
                "dynamics": [
                    {
                        "kind": "throttle",
                        "share": 1.0,
                        "retry_after": 300,
                        "path_prefix": "/data/LedgerJournalHeaders",
                    }
                ]
            },
        )
        assert answer.status_code == 200, answer.text

    first_log = env["home"] / "first.log"
    first = _cli(env, first_log)
    waiter = threading.Thread(target=lambda: (first.wait(), throttled.set()), daemon=True)
    waiter.start()
    throttled.wait()  # no timeout: set by the throttle or by the child's exit
    assert first.poll() is None, first_log.read_text()[-3000:]
    with dg.DagsterInstance.get() as instance:
        [running] = _cli_runs(instance)
        assert running.job_name == "payroll_to_ledger"
        worker = int(running.tags[PID_TAG])  # the run worker tagged itself (ConnectorResource)
        assert worker != first.pid and running.tags[HOST_TAG] == socket.gethostname()
        assert _holders(instance, DYNAMICS_POOL) == {running.run_id}
    os.kill(worker, signal.SIGKILL)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    waiter.join()
    assert first.returncode == -signal.SIGKILL

    with dg.DagsterInstance.get() as instance:
        [dead] = _cli_runs(instance)
        # The code server that started the worker may already have marked the run failed; the
        # slot stays held either way until someone frees it.
        assert _holders(instance, DYNAMICS_POOL) == {dead.run_id}
        found = find_dead_runs(instance)
        assert [d.run_id for d in found] == [dead.run_id]
        assert found[0].slots == [f"{DYNAMICS_POOL} (dynamics__posted_journals)"]

    with admin(sandbox, "dynamics") as fo:
        fo.delete("/_sandbox/faults")
    second_log = env["home"] / "second.log"
    second = _cli(env, second_log)
    second.wait()  # no timeout: libfaketime breaks timed waits
    output = second_log.read_text()
    assert second.returncode == 0, output[-3000:]
    assert f"freed run {dead.run_id[:8]}" in output
    assert "created in F&O, not posted" in output

    with dg.DagsterInstance.get() as instance:
        runs = {r.run_id: r for r in _cli_runs(instance)}
        assert runs[dead.run_id].status == dg.DagsterRunStatus.FAILURE
        messages = _failure_messages(instance, dead.run_id)
        assert len(messages) == 1, messages
        if GONE in messages[0]:  # ours, when the code server had not marked it first
            assert f"pid {worker}" in messages[0] and "ml-connector run" in messages[0]
        [after] = [r for r in runs.values() if r.run_id != dead.run_id]
        assert after.status == dg.DagsterRunStatus.SUCCESS
        assert _holders(instance, DYNAMICS_POOL) == set()
        assert find_dead_runs(instance) == []
    with Connection.from_environment().dynamics() as client:
        headers = client.list_entities("LedgerJournalHeaders")
    assert headers and all(h["JournalTotalDebit"] == h["JournalTotalCredit"] > 0 for h in headers)


# --- runs built directly in an instance ------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def instance(request, tmp_path: Path, monkeypatch) -> Iterator[dg.DagsterInstance]:
    if request.param == "postgres":
        settings = request.getfixturevalue("postgres")
        for key in ("host", "port", "username", "password", "db"):
            monkeypatch.setenv(f"DAGSTER_PG_{key.upper()}", settings[key])
    home = prepare_dagster_home(tmp_path / "home", kind=request.param)
    instance = dg.DagsterInstance.from_config(str(home))
    created: list[str] = []
    instance.created_for_test = created  # type: ignore[attr-defined]
    try:
        yield instance
    finally:
        for run_id in created:  # PostgreSQL is shared: leave nothing behind
            instance.delete_run(run_id)
        instance.dispose()


@pytest.fixture
def pool(instance: dg.DagsterInstance) -> str:
    name = f"test_pool_{uuid.uuid4().hex[:8]}"
    instance.event_log_storage.set_concurrency_slots(name, 1)
    return name


def _run(
    instance: dg.DagsterInstance,
    tags: dict[str, str],
    status: dg.DagsterRunStatus = dg.DagsterRunStatus.STARTED,
) -> str:
    run = create_run_for_test(
        instance,
        job_name="__ephemeral_asset_job__",
        status=status,
        tags={"ml_connector/trigger": "cli", "dagster/partition": "USMF|2026-11-15", **tags},
    )
    instance.created_for_test.append(run.run_id)  # type: ignore[attr-defined]
    return run.run_id


def _claim(instance: dg.DagsterInstance, pool: str, run_id: str) -> None:
    status = instance.event_log_storage.claim_concurrency_slot(pool, run_id, "posting_step")
    assert status.is_claimed


def _status(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRunStatus:
    run = instance.get_run_by_id(run_id)
    assert run is not None
    return run.status


def test_a_dead_process_run_is_failed_with_a_message_and_its_slot_freed(
    instance, pool, dead_pid_tags
) -> None:
    run_id = _run(instance, dead_pid_tags)
    _claim(instance, pool, run_id)
    assert [u.run_id for u in slot_uses(instance) if u.pool == pool] == [run_id]
    [use] = [u for u in slot_uses(instance) if u.pool == pool]
    assert use.holds and use.process_state == Process.DEAD and use.run_status == "STARTED"

    freed = [d for d in free_dead_runs(instance, actor="a test") if d.run_id == run_id]
    assert len(freed) == 1
    assert freed[0].marked == "failed" and freed[0].freed
    assert freed[0].slots == [f"{pool} (posting_step)"]
    assert "no longer exists" in freed[0].describe()
    assert _status(instance, run_id) == dg.DagsterRunStatus.FAILURE
    [message] = _failure_messages(instance, run_id)
    assert GONE in message and "a test" in message and pool in message
    assert instance.event_log_storage.get_concurrency_info(pool).claimed_slots == []
    # The slot is usable again, and a second pass has nothing left to do.
    _claim(instance, pool, "next-run")
    instance.event_log_storage.free_concurrency_slots_for_run("next-run")
    assert run_id not in {d.run_id for d in free_dead_runs(instance)}
    assert len(_failure_messages(instance, run_id)) == 1


def test_a_live_process_and_another_host_are_never_touched(instance, pool, dead_pid_tags) -> None:
    live = _run(instance, process_tags())  # this test's own process
    elsewhere = _run(instance, {**dead_pid_tags, HOST_TAG: "elsewhere.example"})
    untagged = _run(instance, {})
    _claim(instance, pool, live)
    other_pool = f"{pool}_b"
    instance.event_log_storage.set_concurrency_slots(other_pool, 2)
    _claim(instance, other_pool, elsewhere)
    _claim(instance, other_pool, untagged)

    freed = {d.run_id for d in free_dead_runs(instance)}
    assert not freed & {live, elsewhere, untagged}
    for run_id in (live, elsewhere, untagged):
        assert _status(instance, run_id) == dg.DagsterRunStatus.STARTED
        assert _failure_messages(instance, run_id) == []
    assert _holders(instance, pool) == {live}
    assert _holders(instance, other_pool) == {elsewhere, untagged}
    states = {u.run_id: u.process_state for u in slot_uses(instance)}
    assert states[live] == Process.ALIVE
    assert states[elsewhere] == Process.OTHER_HOST
    assert states[untagged] == Process.UNTAGGED

    # By hand: a live process is refused; another host's run is freed when the operator says so.
    with pytest.raises(RunStillAlive, match="is running"):
        free_run(instance, live)
    assert _holders(instance, pool) == {live}
    freed_by_hand = free_run(instance, elsewhere, actor="an operator")
    assert freed_by_hand.marked == "failed" and freed_by_hand.freed
    assert _status(instance, elsewhere) == dg.DagsterRunStatus.FAILURE
    [message] = _failure_messages(instance, elsewhere)
    assert "marked this run failed by hand" in message and "elsewhere.example" in message
    assert _holders(instance, other_pool) == {untagged}


def test_a_zombie_and_a_recycled_pid_count_as_dead() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    tags = process_tags(child.pid)
    # Block until the child has exited without reaping it (no timeout): it is now a zombie.
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
    try:
        state, why = process_state(tags)
        assert state == Process.DEAD and "zombie" in why
    finally:
        child.wait()
    assert process_state(tags)[0] == Process.DEAD
    mine = process_tags()
    assert process_state(mine) == (Process.ALIVE, f"process {os.getpid()} is running")
    if PROCESS_START_TAG in mine:  # Linux: our pid, but tagged by an earlier process
        boot, _, ticks = mine[PROCESS_START_TAG].partition("/")
        recycled = {**mine, PROCESS_START_TAG: f"{boot}/{int(ticks) - 1}"}
        state, why = process_state(recycled)
        assert state == Process.DEAD and "another process" in why
        rebooted = {**mine, PROCESS_START_TAG: f"another-boot/{ticks}"}
        assert process_state(rebooted)[0] == Process.DEAD


def test_an_ended_run_still_holding_a_slot_is_freed_without_a_second_failure(
    instance, pool, dead_pid_tags
) -> None:
    run_id = _run(instance, dead_pid_tags, status=dg.DagsterRunStatus.CANCELED)
    _claim(instance, pool, run_id)
    [dead] = [d for d in free_dead_runs(instance) if d.run_id == run_id]
    assert dead.marked == "" and dead.freed
    assert _status(instance, run_id) == dg.DagsterRunStatus.CANCELED
    assert _failure_messages(instance, run_id) == []
    assert _holders(instance, pool) == set()


def test_runs_commands_show_the_holders_and_free_the_dead(
    instance, pool, dead_pid_tags, monkeypatch
) -> None:
    dead = _run(instance, dead_pid_tags)
    live = _run(instance, process_tags())
    instance.event_log_storage.set_concurrency_slots(pool, 2)
    _claim(instance, pool, dead)
    _claim(instance, pool, live)
    monkeypatch.setenv("DAGSTER_HOME", str(Path(instance.root_directory)))
    runner = CliRunner()
    shown = runner.invoke(main, ["runs", "slots"], env={"COLUMNS": "300"})
    assert shown.exit_code == 0, shown.output
    assert dead in shown.output and live in shown.output and pool in shown.output
    assert "no longer exists" in shown.output and "is running" in shown.output

    listed = runner.invoke(main, ["runs", "stale"], env={"COLUMNS": "300"})
    assert listed.exit_code == 0, listed.output
    assert f"dead run {dead[:8]}" in listed.output and live[:8] not in listed.output
    assert _holders(instance, pool) == {dead, live}  # listing changes nothing

    freed = runner.invoke(main, ["runs", "stale", "--free"], env={"COLUMNS": "300"})
    assert freed.exit_code == 0, freed.output
    assert f"freed run {dead[:8]}" in freed.output and "marked failed" in freed.output
    assert _holders(instance, pool) == {live}
    assert _status(instance, dead) == dg.DagsterRunStatus.FAILURE

    refused = runner.invoke(main, ["runs", "free", live], env={"COLUMNS": "300"})
    assert refused.exit_code == 1 and "stop that process first" in refused.output
    assert _holders(instance, pool) == {live}


def test_the_connector_resource_tags_a_run_with_the_process_executing_it() -> None:
    from ml_connector_dagster.defs.resources import ConnectorResource

    @dg.asset
    def uses_connector(connector: ConnectorResource) -> int:
        return 1

    with dg.instance_for_test() as test_instance:
        result = dg.materialize(
            [uses_connector], instance=test_instance, resources={"connector": ConnectorResource()}
        )
        assert result.success
        run = test_instance.get_run_by_id(result.run_id)
        assert run is not None
    assert run.tags[PID_TAG] == str(os.getpid())
    assert run.tags[HOST_TAG] == socket.gethostname()
