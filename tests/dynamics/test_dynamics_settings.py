"""Changeset size, ``$batch`` timeout and the poster's waits come from the environment, checked."""

import datetime as dt

import httpx
import pytest

from ml_connector_dagster.dynamics.client import DEFAULT_BATCH_TIMEOUT, DEFAULT_CHANGESET_SIZE
from ml_connector_dagster.dynamics.settings import DynamicsSettingError, client_settings
from ml_connector_dagster.posting.settings import PostingSettings, SettingError


def test_defaults_are_conservative() -> None:
    settings = client_settings({})
    assert settings["changeset_size"] == DEFAULT_CHANGESET_SIZE <= 1000
    assert settings["batch_timeout"] == DEFAULT_BATCH_TIMEOUT
    assert DEFAULT_BATCH_TIMEOUT.read >= 600  # well above a few thousand validated lines


def test_values_from_the_environment_are_used() -> None:
    settings = client_settings(
        {
            "ML_CONNECTOR_DYNAMICS_CHANGESET_SIZE": "250",
            "ML_CONNECTOR_DYNAMICS_BATCH_TIMEOUT_SECONDS": "1800",
        }
    )
    assert settings["changeset_size"] == 250
    assert settings["batch_timeout"] == httpx.Timeout(1800.0, connect=10.0)


@pytest.mark.parametrize(
    "name,value",
    [
        ("ML_CONNECTOR_DYNAMICS_CHANGESET_SIZE", "0"),
        ("ML_CONNECTOR_DYNAMICS_CHANGESET_SIZE", "5001"),
        ("ML_CONNECTOR_DYNAMICS_CHANGESET_SIZE", "ten"),
        ("ML_CONNECTOR_DYNAMICS_BATCH_TIMEOUT_SECONDS", "5"),
        ("ML_CONNECTOR_DYNAMICS_BATCH_TIMEOUT_SECONDS", "soon"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(DynamicsSettingError, match=name):
        client_settings({name: value})


def test_posting_settings_read_and_check_the_environment() -> None:
    settings = PostingSettings.from_env(
        {"ML_CONNECTOR_CLAIM_WAIT_SECONDS": "30", "ML_CONNECTOR_CLAIM_LEASE_SECONDS": "120"}
    )
    assert settings.claim_wait_seconds == 30
    assert settings.claim_lease == dt.timedelta(seconds=120)
    assert PostingSettings.from_env({}) == PostingSettings()
    with pytest.raises(SettingError, match="ML_CONNECTOR_CLAIM_LEASE_SECONDS"):
        PostingSettings.from_env({"ML_CONNECTOR_CLAIM_LEASE_SECONDS": "5"})
    with pytest.raises(SettingError, match="ML_CONNECTOR_RECHECK_SECONDS"):
        PostingSettings.from_env({"ML_CONNECTOR_RECHECK_SECONDS": "a minute"})
