"""The instance templates: valid Dagster config on SQLite and on PostgreSQL."""

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from ml_connector_dagster.instance import (
    InstanceConfigError,
    instance_template,
    prepare_dagster_home,
)

REPO = Path(__file__).resolve().parent.parent


def test_sqlite_template_limits_runs_frees_dead_slots_and_disables_telemetry(
    tmp_path: Path,
) -> None:
    home = prepare_dagster_home(tmp_path / "home", kind="sqlite")
    config = yaml.safe_load((home / "dagster.yaml").read_text())
    assert config["telemetry"]["enabled"] is False
    assert config["concurrency"]["runs"]["max_concurrent_runs"] == 1
    assert config["run_monitoring"]["free_slots_after_run_end_seconds"] > 0
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        assert instance.run_monitoring_enabled
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"
    finally:
        instance.dispose()


def test_existing_instance_file_is_left_alone(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: true\n")
    prepare_dagster_home(home, kind="postgres")
    assert "enabled: true" in (home / "dagster.yaml").read_text()


def test_unknown_instance_kind_is_a_clear_error() -> None:
    with pytest.raises(InstanceConfigError, match="not one of"):
        instance_template("mysql")


def test_postgres_template_runs_an_instance_on_postgres(
    tmp_path: Path, postgres: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("host", "port", "username", "password", "db"):
        monkeypatch.setenv(f"DAGSTER_PG_{key.upper()}", postgres[key])
    home = prepare_dagster_home(tmp_path / "pg", kind="postgres")
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        name = f"test_partitions_{tmp_path.name[-12:]}"
        instance.add_dynamic_partitions(name, ["2026-11-15"])
        assert instance.get_dynamic_partitions(name) == ["2026-11-15"]
        instance.delete_dynamic_partition(name, "2026-11-15")
    finally:
        instance.dispose()


def test_dagster_definitions_validate_passes_on_the_code_location() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dagster",
            "definitions",
            "validate",
            "-w",
            str(REPO / "workspace.yaml"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_home_command_prepares_a_dagster_home_for_the_sandbox_dev_command(
    tmp_path: Path,
) -> None:
    """``ml-connector-dev`` (sandbox package) prepares its home through ``ml-connector home``."""
    from ml_connector_sandbox.cli import _prepare_dagster_home

    home = _prepare_dagster_home(tmp_path / "new-home")
    assert home == (tmp_path / "new-home").resolve()
    assert "run_monitoring" in (home / "dagster.yaml").read_text()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    assert _prepare_dagster_home(home) == home  # an operator's own file is kept
    assert (home / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"
