"""`ml-connector run` submits a run of the real job through the run queue, quietly.

The run is one of ``payroll_to_ledger`` (not ``__ephemeral_asset_job__``) with the partition
tags the UI and sensors give it, executed by a run worker (not this process); Dagster's event
lines go to the log file the command names, not to the terminal, unless ``--verbose``.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
from click.testing import CliRunner

from ml_connector_dagster.cli import main
from ml_connector_dagster.defs.payroll.jobs import payroll_job
from ml_connector_dagster.defs.payroll.partitions import partition_key, payroll_partitions
from ml_connector_dagster.defs.stale_runs import PID_TAG

COMPANY = "USMF"
DEBUG_LINE = re.compile(r"\bDEBUG\b")


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
