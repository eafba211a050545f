"""`ml-connector --connection` and `ml-connector connections`: choosing and listing."""

import stat
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ml_connector_dagster.cli import main

MAPPING = "/etc/ml-connector/{}/mapping.yaml"


@pytest.fixture
def connections_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "connections.yaml"
    entries = {
        name: {"ML_CONNECTOR_MAPPING": MAPPING.format(name), "RIPPLING_API_TOKEN": "${TOKEN}"}
        for name in ("acme", "globex")
    }
    path.write_text(yaml.safe_dump({"connections": entries}))
    monkeypatch.setenv("ML_CONNECTOR_CONNECTIONS", str(path))
    # Set (empty counts as unset), not deleted: `--connection` writes the variable into this
    # process's environment, and only a variable monkeypatch set is removed again afterwards.
    monkeypatch.setenv("ML_CONNECTOR_CONNECTION", "")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    return path


def test_a_command_without_a_chosen_connection_is_refused(connections_file: Path) -> None:
    result = CliRunner().invoke(main, ["audit", "--pay-period", "2026-11-15"])
    assert result.exit_code == 2
    assert "choose a connection with --connection NAME" in result.output


def test_an_unknown_connection_is_refused_naming_the_listed_ones(connections_file: Path) -> None:
    result = CliRunner().invoke(main, ["--connection", "initech", "connections", "list"])
    assert result.exit_code == 1
    assert "'initech' is not in the connections file (it lists acme, globex)" in result.output


def test_list_shows_each_connection_without_values(connections_file: Path) -> None:
    result = CliRunner().invoke(main, ["connections", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name in ("acme", "globex"):
        assert f"ml_connector_dagster__{name}" in result.output
        assert MAPPING.format(name) in result.output
    assert "RIPPLING_API_TOKEN" in result.output and "${TOKEN}" not in result.output


def test_workspace_writes_a_launcher_per_connection(connections_file: Path, tmp_path: Path) -> None:
    output = tmp_path / "ws.yaml"
    result = CliRunner().invoke(main, ["connections", "workspace", "--output", str(output)])
    assert result.exit_code == 0, result.output
    locations = [
        entry["python_module"] for entry in yaml.safe_load(output.read_text())["load_from"]
    ]
    assert [loc["location_name"] for loc in locations] == [
        "ml_connector_dagster__acme",
        "ml_connector_dagster__globex",
    ]
    for location, name in zip(locations, ("acme", "globex"), strict=True):
        assert location["module_name"] == "ml_connector_dagster.definitions"
        launcher = Path(location["executable_path"])
        assert launcher.is_relative_to(tmp_path / "home")
        assert stat.S_IMODE(launcher.stat().st_mode) & stat.S_IXUSR
        text = launcher.read_text()
        assert f"ML_CONNECTOR_CONNECTION={name}\n" in text
        assert sys.executable in text


def test_without_a_connections_file_the_commands_say_there_is_one_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ML_CONNECTOR_CONNECTIONS", raising=False)
    result = CliRunner().invoke(main, ["connections", "list"])
    assert result.exit_code == 1
    assert "ML_CONNECTOR_CONNECTIONS is not set" in result.output
