"""Fixtures shared by the pipeline tests."""

import subprocess
import sys
from pathlib import Path

import pytest
from pipeline_support import latest_paid_period

from ml_connector_dagster.defs.stale_runs import process_tags
from ml_connector_dagster.instance import prepare_dagster_home
from ml_connector_sandbox.mapping import write_sandbox_mapping
from ml_connector_sandbox.server import Sandbox


@pytest.fixture
def home_env(fresh_sandbox: Sandbox, sandbox_env, tmp_path: Path, monkeypatch) -> dict:
    """For tests of the commands: a prepared DAGSTER_HOME (its SQLite instance and audit
    store), the sandbox mapping, the newest paid USMF period and its runs."""
    home = prepare_dagster_home(tmp_path / "home", kind="sqlite")
    mapping = write_sandbox_mapping(fresh_sandbox.company, tmp_path / "mapping.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("ML_CONNECTOR_MAPPING", str(mapping))
    monkeypatch.delenv("ML_CONNECTOR_AUDIT_URL", raising=False)
    period, runs = latest_paid_period(fresh_sandbox)
    return {"sandbox": fresh_sandbox, "home": home, "period": period, "runs": runs}


@pytest.fixture
def dead_pid_tags() -> dict[str, str]:
    """The tags of a process that ran and was reaped: its pid no longer exists."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    tags = process_tags(child.pid)
    child.stdin.close()
    child.wait()
    return tags
