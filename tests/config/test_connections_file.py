"""The connections file: what an entry may set, and the environment a connection sees."""

from pathlib import Path

import pytest
import yaml

from ml_connector_dagster.config.settings import ConnectorSettings
from ml_connector_dagster.connections_file import (
    SCOPED,
    ConnectionsFileError,
    connection_environment,
    load_connections,
    selected_connection,
)
from ml_connector_dagster.credentials.store import store_path

MAPPING = {"ML_CONNECTOR_MAPPING": "/etc/acme/mapping.yaml"}


def _write(tmp_path: Path, connections: object) -> Path:
    path = tmp_path / "connections.yaml"
    path.write_text(yaml.safe_dump({"connections": connections}))
    return path


def _entries(tmp_path: Path, connections: dict):
    return load_connections(_write(tmp_path, connections))


def test_an_entry_sets_literals_and_secret_references(tmp_path: Path) -> None:
    entries = _entries(
        tmp_path,
        {
            "acme": {
                **MAPPING,
                "DYNAMICS_ENVIRONMENT_URL": "https://acme.operations.dynamics.com",
                "DYNAMICS_CLIENT_SECRET": "${ACME_SECRET}",
                "ML_CONNECTOR_SENSOR_INTERVAL": 45,
                "ML_CONNECTOR_AUTOMATION_ON": True,
            }
        },
    )
    env = {"ACME_SECRET": "s3cret", "DAGSTER_HOME": "/srv/home"}
    view = connection_environment(env, entries, "acme")
    assert view["DYNAMICS_CLIENT_SECRET"] == "s3cret"
    assert view["ML_CONNECTOR_SENSOR_INTERVAL"] == "45"
    assert view["ML_CONNECTOR_AUTOMATION_ON"] == "true"
    assert view["ML_CONNECTOR_CONNECTION"] == "acme"
    assert view["DAGSTER_HOME"] == "/srv/home"  # not scoped: inherited
    settings = ConnectorSettings.from_env(view)
    assert settings.sensor_interval == 45 and settings.automation_on is True


@pytest.mark.parametrize(
    "variable",
    [
        "RIPPLING_API_TOKEN",
        "DYNAMICS_CLIENT_SECRET",
        "ML_CONNECTOR_AUDIT_URL",
        "ML_CONNECTOR_CREDENTIALS_KEY",
        "ML_CONNECTOR_TEAMS_WEBHOOK_URL",
        "RIPPLING_OAUTH_REFRESH_TOKEN",
    ],
)
def test_a_secret_written_literally_is_refused_without_echoing_it(
    tmp_path: Path, variable: str
) -> None:
    with pytest.raises(ConnectionsFileError) as caught:
        _entries(tmp_path, {"acme": {**MAPPING, variable: "literal-value-xyz"}})
    message = str(caught.value)
    assert variable in message and "'acme'" in message and "secret" in message
    assert "literal-value-xyz" not in message


def test_scoped_variables_never_come_from_the_shared_environment(tmp_path: Path) -> None:
    entries = _entries(
        tmp_path,
        {"acme": {**MAPPING, "RIPPLING_API_TOKEN": "${ACME_TOKEN}"}, "globex": dict(MAPPING)},
    )
    shared = {
        "ACME_TOKEN": "acme-token",
        "RIPPLING_API_TOKEN": "someone-elses-token",
        "DYNAMICS_CLIENT_SECRET": "someone-elses-secret",
        "ML_CONNECTOR_CREDENTIALS_FILE": "/shared/credentials.enc",
        "ML_CONNECTOR_AUDIT_URL": "postgresql://shared/audit",
        "ML_CONNECTOR_MAPPING": "/shared/mapping.yaml",
        "ML_CONNECTOR_CA_BUNDLE": "/etc/ca.pem",
    }
    acme = connection_environment(shared, entries, "acme")
    globex = connection_environment(shared, entries, "globex")
    assert acme["RIPPLING_API_TOKEN"] == "acme-token"
    for view in (acme, globex):
        assert "DYNAMICS_CLIENT_SECRET" not in view
        assert "ML_CONNECTOR_CREDENTIALS_FILE" not in view
        assert "ML_CONNECTOR_AUDIT_URL" not in view
        assert view["ML_CONNECTOR_MAPPING"] == "/etc/acme/mapping.yaml"
        assert view["ML_CONNECTOR_CA_BUNDLE"] == "/etc/ca.pem"
    assert "RIPPLING_API_TOKEN" not in globex
    assert {"RIPPLING_API_TOKEN", "DYNAMICS_CLIENT_SECRET", "ML_CONNECTOR_AUDIT_URL"} <= SCOPED


def test_applying_a_view_again_gives_the_same_view(tmp_path: Path) -> None:
    """A code server or run worker applies its parent's view again: nothing changes."""
    entries = _entries(
        tmp_path,
        {"acme": {**MAPPING, "RIPPLING_API_TOKEN": "${ACME_TOKEN}", "DYNAMICS_TENANT_ID": "t"}},
    )
    shared = {"ACME_TOKEN": "a", "RIPPLING_API_TOKEN": "b", "DYNAMICS_TENANT_ID": "c", "X": "y"}
    once = connection_environment(shared, entries, "acme")
    assert connection_environment(once, entries, "acme") == once


@pytest.mark.parametrize(
    ("connections", "expected"),
    [
        ({"acme": {"ML_CONNECTOR_SENSOR_INTERVAL": "30"}}, "ML_CONNECTOR_MAPPING is required"),
        ({"acme": {**MAPPING, "ML_CONNECTOR_NOPE": "1"}}, "ML_CONNECTOR_NOPE is not a variable"),
        ({"acme": {**MAPPING, "ML_CONNECTOR_CONNECTION": "x"}}, "cannot be set inside"),
        ({"ac-me": dict(MAPPING)}, "a name is a letter"),
        ({"1acme": dict(MAPPING)}, "a name is a letter"),
        ({"acme": dict(MAPPING), "ACME": dict(MAPPING)}, "listed twice"),
        ({"acme": ["not", "a", "mapping"]}, "expected a mapping of variables"),
        ({"acme": {**MAPPING, "DYNAMICS_TENANT_ID": ["a"]}}, "must be a single value"),
        ({}, "lists no connection"),
    ],
)
def test_a_bad_entry_is_refused_naming_the_connection_and_variable(
    tmp_path: Path, connections: dict, expected: str
) -> None:
    with pytest.raises(ConnectionsFileError, match=expected):
        _entries(tmp_path, connections)


def test_a_file_that_is_not_a_connections_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "connections.yaml"
    path.write_text("- a list\n")
    with pytest.raises(ConnectionsFileError, match="'connections:'"):
        load_connections(path)
    path.write_text("connections: {}\nextra: 1\n")
    with pytest.raises(ConnectionsFileError, match="unknown top-level key"):
        load_connections(path)
    with pytest.raises(ConnectionsFileError, match="cannot read"):
        load_connections(tmp_path / "missing.yaml")


def test_a_missing_reference_or_an_unknown_connection_is_an_error(tmp_path: Path) -> None:
    entries = _entries(tmp_path, {"acme": {**MAPPING, "RIPPLING_API_TOKEN": "${ACME_TOKEN}"}})
    with pytest.raises(ConnectionsFileError, match=r"refers to \$\{ACME_TOKEN\}, which is not set"):
        connection_environment({}, entries, "acme")
    with pytest.raises(ConnectionsFileError, match="'globex' is not in the connections file"):
        connection_environment({"ACME_TOKEN": "a"}, entries, "globex")


def test_a_connections_file_needs_a_chosen_connection(tmp_path: Path) -> None:
    path = _write(tmp_path, {"acme": dict(MAPPING), "globex": dict(MAPPING)})
    assert selected_connection({}) is None
    assert (
        selected_connection(
            {"ML_CONNECTOR_CONNECTIONS": str(path), "ML_CONNECTOR_CONNECTION": "acme"}
        )
        == "acme"
    )
    with pytest.raises(ConnectionsFileError, match="acme, globex"):
        selected_connection({"ML_CONNECTOR_CONNECTIONS": str(path)})


def test_each_connection_of_a_file_has_its_own_directory_and_store(tmp_path: Path) -> None:
    one = ConnectorSettings.from_env({"DAGSTER_HOME": str(tmp_path)})
    assert one.connection_directory() == tmp_path / "ml-connector"
    acme = ConnectorSettings.from_env(
        {
            "DAGSTER_HOME": str(tmp_path),
            "ML_CONNECTOR_CONNECTIONS": "/etc/connections.yaml",
            "ML_CONNECTOR_CONNECTION": "acme",
        }
    )
    assert acme.connection_directory() == tmp_path / "ml-connector" / "connections" / "acme"
    assert acme.audit_database_url().endswith("/ml-connector/connections/acme/audit.sqlite")
    assert store_path({"DAGSTER_HOME": str(tmp_path)}) == tmp_path / "ml-connector/credentials.enc"
    assert (
        store_path(
            {
                "DAGSTER_HOME": str(tmp_path),
                "ML_CONNECTOR_CONNECTIONS": "/etc/connections.yaml",
                "ML_CONNECTOR_CONNECTION": "acme",
            }
        )
        == tmp_path / "ml-connector/connections/acme/credentials.enc"
    )
    # An explicit store file wins, as it always did.
    assert store_path({"ML_CONNECTOR_CREDENTIALS_FILE": "/x/c.enc"}) == Path("/x/c.enc")


def test_messages_name_the_connection_an_operator_must_choose() -> None:
    one = ConnectorSettings.from_env({"ML_CONNECTOR_CONNECTION": "acme"})
    assert one.command() == "ml-connector"
    assert one.dagster_name("approve_journals") == "approve_journals"
    assert one.name_prefix() is None
    acme = ConnectorSettings.from_env(
        {"ML_CONNECTOR_CONNECTIONS": "/etc/c.yaml", "ML_CONNECTOR_CONNECTION": "acme"}
    )
    assert acme.command() == "ml-connector --connection acme"
    assert acme.dagster_name("approve_journals") == "acme__approve_journals"
