"""The environment is read by one model: one name, default, parser and error per setting."""

import datetime as dt
from pathlib import Path

import pytest

from ml_connector_dagster.config.settings import (
    ConnectorSettings,
    SettingsError,
    parse_bool,
    variable_name,
)
from ml_connector_dagster.credentials import envvars
from ml_connector_dagster.credentials.models import CredentialsError
from ml_connector_dagster.posting.settings import PostingSettings


def test_an_empty_environment_gives_the_documented_defaults() -> None:
    settings = ConnectorSettings.from_env({})
    assert settings.connection == "default"
    assert settings.mapping is None and settings.audit_url is None
    assert settings.dagster_home == Path(".dagster_home")
    assert settings.automation_on is False and settings.webhooks is False
    assert settings.dynamics_changeset_size == 1000
    assert settings.dynamics_batch_timeout_seconds >= 600  # above a few thousand lines
    assert PostingSettings.from_settings(settings) == PostingSettings()


def test_values_are_read_and_typed_and_empty_counts_as_unset() -> None:
    settings = ConnectorSettings.from_env(
        {
            "ML_CONNECTOR_CONNECTION": "eu-prod",
            "ML_CONNECTOR_MAPPING": "/etc/mlc/mapping.yaml",
            "ML_CONNECTOR_SENSOR_INTERVAL": "",  # compose files define variables as empty
            "ML_CONNECTOR_SYNC_FROM": "2026-11-15",
            "ML_CONNECTOR_DYNAMICS_CHANGESET_SIZE": "250",
            "ML_CONNECTOR_CLAIM_LEASE_SECONDS": "120",
            "DAGSTER_HOME": "/var/dagster",
            "UNRELATED": "x",
        }
    )
    assert settings.connection == "eu-prod"
    assert settings.mapping == Path("/etc/mlc/mapping.yaml")
    assert settings.sensor_interval == 60
    assert settings.sync_from == dt.date(2026, 11, 15)
    assert settings.dynamics_changeset_size == 250
    assert settings.dagster_home == Path("/var/dagster")
    assert PostingSettings.from_settings(settings).claim_lease == dt.timedelta(seconds=120)


def test_the_process_environment_is_read_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ML_CONNECTOR_WEBHOOKS", "on")
    monkeypatch.setenv("ML_CONNECTOR_AUTOMATION_ON", "")
    settings = ConnectorSettings.from_env()
    assert settings.webhooks is True and settings.automation_on is False


@pytest.mark.parametrize(
    "name,value",
    [
        ("ML_CONNECTOR_DYNAMICS_CHANGESET_SIZE", "0"),
        ("ML_CONNECTOR_DYNAMICS_CHANGESET_SIZE", "5001"),
        ("ML_CONNECTOR_DYNAMICS_CHANGESET_SIZE", "ten"),
        ("ML_CONNECTOR_DYNAMICS_BATCH_TIMEOUT_SECONDS", "5"),
        ("ML_CONNECTOR_DYNAMICS_BATCH_TIMEOUT_SECONDS", "soon"),
        ("ML_CONNECTOR_CLAIM_LEASE_SECONDS", "5"),
        ("ML_CONNECTOR_RECHECK_SECONDS", "a minute"),
        ("ML_CONNECTOR_SENSOR_INTERVAL", "0"),
        ("ML_CONNECTOR_AUTOMATION_ON", "maybe"),
        ("ML_CONNECTOR_INSTANCE", "mysql"),
        ("ML_CONNECTOR_SYNC_FROM", "2026-02-30"),
        ("ML_CONNECTOR_CONNECTION", "two words"),
        ("ML_CONNECTOR_RIPPLING_TIMEOUT_SECONDS", "0"),
        ("ML_CONNECTOR_RIPPLING_TIMEOUT_SECONDS", "-5"),
        ("ML_CONNECTOR_DYNAMICS_TIMEOUT_SECONDS", "0"),
        ("ML_CONNECTOR_DYNAMICS_TIMEOUT_SECONDS", "two minutes"),
        ("ML_CONNECTOR_TOKEN_TIMEOUT_SECONDS", "0"),
        ("ML_CONNECTOR_TOKEN_TIMEOUT_SECONDS", "inf"),  # no timeout at all is the bug itself
        ("ML_CONNECTOR_TOKEN_TIMEOUT_SECONDS", "nan"),
        ("ML_CONNECTOR_RIPPLING_MAX_IN_FLIGHT", "-1"),
        ("ML_CONNECTOR_DYNAMICS_MAX_IN_FLIGHT", "65"),
        ("ML_CONNECTOR_SCHEDULE_TIMEZONE", "Mars/Olympus_Mons"),
        ("ML_CONNECTOR_SCHEDULE_TIMEZONE", "+02:00"),
        ("ML_CONNECTOR_FO_JOURNAL_URL", "{environment}/?cmp={company}&batch={batch}"),
        ("ML_CONNECTOR_FO_JOURNAL_URL", "http://fo.example/?cmp={company}"),
        ("ML_CONNECTOR_RIPPLING_PAY_RUN_URL", "https://app.rippling.com/runs/{company}"),
        ("ML_CONNECTOR_RIPPLING_PAY_RUN_URL", "https://app.rippling.com/runs/{run_id"),
    ],
)
def test_a_bad_value_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        ConnectorSettings.from_env({name: value})


def test_the_service_timeouts_default_and_parse() -> None:
    defaults = ConnectorSettings.from_env({})
    assert defaults.rippling_timeout_seconds == 30.0
    assert defaults.dynamics_timeout_seconds == 120.0
    assert defaults.token_timeout_seconds == 30.0
    settings = ConnectorSettings.from_env(
        {
            "ML_CONNECTOR_RIPPLING_TIMEOUT_SECONDS": "45",
            "ML_CONNECTOR_DYNAMICS_TIMEOUT_SECONDS": " 300.5 ",
            "ML_CONNECTOR_TOKEN_TIMEOUT_SECONDS": "0.5",  # any positive value, even below 1 s
        }
    )
    assert settings.rippling_timeout_seconds == 45.0
    assert settings.dynamics_timeout_seconds == 300.5
    assert settings.token_timeout_seconds == 0.5
    assert variable_name("token_timeout_seconds") == "ML_CONNECTOR_TOKEN_TIMEOUT_SECONDS"


def test_a_secret_setting_never_shows_in_repr_or_errors() -> None:
    url = "postgresql://mlc:s3cr3t-pw@db/mlc"
    settings = ConnectorSettings.from_env(
        {"ML_CONNECTOR_AUDIT_URL": url, "ML_CONNECTOR_WEBHOOK_TOKEN": "tok-123456"}
    )
    assert "s3cr3t-pw" not in repr(settings) and "tok-123456" not in repr(settings)
    assert settings.audit_database_url() == url
    with pytest.raises(SettingsError) as caught:
        ConnectorSettings.from_env(
            {"ML_CONNECTOR_AUDIT_URL": url, "ML_CONNECTOR_SENSOR_INTERVAL": "s3cr3t-pw"}
        )
    assert "s3cr3t-pw" not in str(caught.value)


def test_the_default_audit_store_lives_under_dagster_home(tmp_path: Path) -> None:
    settings = ConnectorSettings.from_env({"DAGSTER_HOME": str(tmp_path)})
    url = settings.audit_database_url()
    assert url == f"sqlite:///{tmp_path.resolve() / 'ml-connector' / 'audit.sqlite'}"
    assert (tmp_path / "ml-connector").is_dir()


@pytest.mark.parametrize(
    "text,expected",
    [("true", True), ("ON", True), ("1", True), ("yes", True), (" false ", False), ("off", False)],
)
def test_one_boolean_rule_for_settings_and_credentials(text: str, expected: bool) -> None:
    assert parse_bool("X", text) is expected
    assert envvars.parse_bool("X", text) is expected
    assert ConnectorSettings.from_env({"ML_CONNECTOR_WEBHOOKS": text}).webhooks is expected


def test_a_credential_boolean_error_stays_a_credentials_error() -> None:
    with pytest.raises(CredentialsError, match="DYNAMICS_ALLOW_ANY_HOST"):
        envvars.parse_bool("DYNAMICS_ALLOW_ANY_HOST", "sometimes")


def test_every_field_has_the_variable_name_the_readme_documents() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    missing = [
        variable_name(field)
        for field in ConnectorSettings.model_fields
        if variable_name(field) not in readme
    ]
    assert missing == []


def test_the_schedule_time_zone_is_utc_unless_finance_names_theirs() -> None:
    assert ConnectorSettings.from_env({}).schedule_timezone == "UTC"
    chosen = {"ML_CONNECTOR_SCHEDULE_TIMEZONE": " America/Chicago "}
    assert ConnectorSettings.from_env(chosen).schedule_timezone == "America/Chicago"


def test_link_templates_default_to_the_fo_journals_and_no_rippling_link() -> None:
    defaults = ConnectorSettings.from_env({})
    assert defaults.fo_journal_url.startswith("{environment}/?cmp={company}&mi=")
    assert defaults.rippling_pay_run_url == ""
    chosen = {"ML_CONNECTOR_RIPPLING_PAY_RUN_URL": "https://app.rippling.com/x/{run_id}"}
    assert ConnectorSettings.from_env(chosen).rippling_pay_run_url.endswith("/x/{run_id}")
