"""`ml-connector run` submits a run of the real job through the run queue, quietly.

The run is one of ``payroll_to_ledger`` (not ``__ephemeral_asset_job__``) with the partition
tags the UI and sensors give it, executed by a run worker (not this process); Dagster's event
lines go to the log file the command names, not to the terminal, unless ``--verbose``.
"""

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from benchmarks.concurrent_runs import postgres_env
from ml_connector_dagster import clock
from ml_connector_dagster.cli import main
from ml_connector_dagster.defs.payroll.jobs import payroll_job
from ml_connector_dagster.defs.payroll.partitions import partition_key, payroll_partitions
from ml_connector_dagster.defs.stale_runs import PID_TAG
from ml_connector_dagster.defs.submit import (
    QueueStalled,
    QueueState,
    code_location,
    follow_run,
    submit_job_run,
)
from ml_connector_dagster.instance import prepare_dagster_home

COMPANY = "USMF"
DEBUG_LINE = re.compile(r"\bDEBUG\b")
WORKSPACE = Path(__file__).resolve().parents[2] / "workspace.yaml"


def _log_named(output: str) -> Path:
    [named] = re.findall(r"Dagster log: (\S+)", output)
    return Path(named)


def test_run_is_a_queued_run_of_the_real_job_with_its_partition(home_env) -> None:
    result = CliRunner().invoke(
        main,
        ["run", "--pay-period", home_env["period"], "--legal-entity", COMPANY],
        env={"COLUMNS": "250"},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    key = str(partition_key(home_env["period"], COMPANY))
    with dg.DagsterInstance.get() as instance:
        [run] = instance.get_runs()
        assert run.job_name == payroll_job.name
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert run.tags["dagster/partition"] == key
        for tag, value in payroll_partitions.get_tags_for_partition_key(key).items():
            assert run.tags[tag] == value
        assert run.tags["dagster/partition/legal_entity"] == COMPANY
        assert run.tags["ml_connector/trigger"] == "cli"
        # Executed by a run worker the launcher started, not by the command's process.
        assert run.tags[PID_TAG] != str(os.getpid())
        enqueued = instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.RUN_ENQUEUED
        ).records
        assert enqueued, "the run never went through the run queue"
    assert run.run_id in result.output
    # The terminal: progress and the table, no Dagster event lines.
    assert not DEBUG_LINE.search(result.output), result.output
    assert "BetaWarning" not in result.output and "PreviewWarning" not in result.output
    assert "dynamics__posted_journals" in result.output  # the progress named the steps
    log = _log_named(result.output)
    assert log.parent == home_env["home"] / "ml-connector" / "logs"
    text = log.read_text()
    assert DEBUG_LINE.search(text) and run.run_id in text


def test_verbose_shows_dagster_lines_on_the_terminal(home_env) -> None:
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "ml-connector"),
            "run",
            "--pay-period",
            home_env["period"],
            "--legal-entity",
            COMPANY,
            "--verbose",
        ],
        env={**os.environ, "COLUMNS": "250"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    terminal = done.stdout + done.stderr
    assert DEBUG_LINE.search(terminal)
    assert "Dagster log:" not in terminal
    assert "created in F&O, not posted" in done.stdout


# --- the queue, without a sandbox: a submitted run that must wait -------------------------------


class _Stop(Exception):
    """Raised from ``on_queue`` to stop following once the waiting state was seen."""


def _heartbeat(instance: dg.DagsterInstance, age_seconds: float) -> None:
    from dagster._daemon.types import DaemonHeartbeat

    from ml_connector_dagster.defs.submit import QUEUE_DAEMON

    stamp = time.time() - age_seconds  # relative to Dagster's own clock, whatever the date
    instance.add_daemon_heartbeat(DaemonHeartbeat(stamp, QUEUE_DAEMON, "test-daemon", None))


@pytest.fixture
def queue_instance(tmp_path: Path, monkeypatch) -> Iterator[dg.DagsterInstance]:
    home = prepare_dagster_home(tmp_path / "home", kind="sqlite")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        yield instance


def test_a_run_waits_for_a_live_daemon_and_stops_when_its_heartbeat_does(queue_instance) -> None:
    instance = queue_instance
    _heartbeat(instance, 0)
    seen: list[QueueState] = []

    def daemon_dies(state: QueueState) -> None:
        seen.append(state)
        _heartbeat(instance, 100_000)  # its last heartbeat is now long past

    with code_location(instance) as workspace:
        run = submit_job_run(workspace, payroll_job.name, tags={})
        assert run.status == dg.DagsterRunStatus.QUEUED
        with pytest.raises(QueueStalled, match=run.run_id):
            follow_run(workspace, run.run_id, lambda _event: None, daemon_dies, poll_seconds=0)
    assert [s.by_daemon for s in seen] == [True]
    assert "waiting for the Dagster daemon" in seen[0].describe()
    after = instance.get_run_by_id(run.run_id)
    assert after is not None and after.status == dg.DagsterRunStatus.QUEUED  # left for the daemon


def test_without_a_daemon_a_run_waits_for_a_free_run_slot(queue_instance) -> None:
    from dagster._core.test_utils import create_run_for_test

    instance = queue_instance
    limit = instance.get_concurrency_config().run_queue_config.max_concurrent_runs
    busy = [
        create_run_for_test(instance, job_name="other", status=dg.DagsterRunStatus.STARTED)
        for _ in range(limit)
    ]
    seen: list[QueueState] = []

    def stop(state: QueueState) -> None:
        seen.append(state)
        raise _Stop

    with code_location(instance) as workspace:
        run = submit_job_run(workspace, payroll_job.name, tags={})
        with pytest.raises(_Stop):
            follow_run(workspace, run.run_id, lambda _event: None, stop, poll_seconds=0)
    [state] = seen
    assert (state.in_progress, state.limit, state.by_daemon) == (len(busy), limit, False)
    assert "waiting for a free run slot" in state.describe()
    after = instance.get_run_by_id(run.run_id)
    assert after is not None and after.status == dg.DagsterRunStatus.QUEUED  # not started


# --- PostgreSQL with a running daemon: the daemon, not the command, starts the run -------------


def test_on_postgres_with_a_daemon_the_daemon_starts_the_commands_run(
    home_env, empty_database, tmp_path: Path, monkeypatch
) -> None:
    from dagster._daemon.controller import get_daemon_statuses
    from processes import wait_for_exit

    from ml_connector_dagster.defs.submit import QUEUE_DAEMON

    with empty_database("postgres") as url:
        monkeypatch.setenv("DAGSTER_PG_DB", url.rsplit("/", 1)[1])
        for key, value in postgres_env().items():
            if key != "DAGSTER_PG_DB":
                monkeypatch.setenv(key, value)
        home = prepare_dagster_home(tmp_path / "pg-home", kind="postgres")
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        daemon_log = tmp_path / "daemon.log"
        with daemon_log.open("w") as out:
            daemon = subprocess.Popen(
                [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(WORKSPACE)],
                env=dict(os.environ),
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=home,
            )
        try:
            with dg.DagsterInstance.get() as instance:
                deadline = time.monotonic() + 120
                while not get_daemon_statuses(instance, [QUEUE_DAEMON])[QUEUE_DAEMON].healthy:
                    assert daemon.poll() is None, daemon_log.read_text()[-3000:]
                    assert time.monotonic() < deadline, "the daemon never sent a heartbeat"
                    clock.sleep(0.2)
            result = CliRunner().invoke(
                main,
                ["run", "--pay-period", home_env["period"], "--legal-entity", COMPANY],
                env={"COLUMNS": "250"},
                catch_exceptions=False,
            )
            assert result.exit_code == 0, result.output
            assert "created in F&O, not posted" in result.output
            with dg.DagsterInstance.get() as instance:
                [run] = instance.get_runs()
                assert run.job_name == payroll_job.name
                assert run.status == dg.DagsterRunStatus.SUCCESS
                assert run.tags["dagster/partition/legal_entity"] == COMPANY
            # The daemon took it from the queue: the run ran in its process tree, whose output
            # (the run worker's event lines) is the daemon's log, not the command's log file.
            assert run.run_id in daemon_log.read_text()
        finally:
            daemon.terminate()
            wait_for_exit(daemon, 60)
