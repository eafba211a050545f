"""A Rippling refresh token rotated during a run is written back, encrypted, and wins next time."""

import logging

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from ml_connector_dagster.connections import refresh_token_writer
from ml_connector_dagster.credentials.resolve import resolve_rippling

OAUTH_ENV = {
    "RIPPLING_OAUTH_CLIENT_ID": "client",
    "RIPPLING_OAUTH_CLIENT_SECRET": "client-secret-value",
    "RIPPLING_OAUTH_REFRESH_TOKEN": "refresh-token-from-env",
}


def test_rotated_token_is_stored_and_beats_the_environment(tmp_path) -> None:
    env = {
        **OAUTH_ENV,
        "DAGSTER_HOME": str(tmp_path / "home"),
        "ML_CONNECTOR_CREDENTIALS_KEY": Fernet.generate_key().decode(),
        "HOME": str(tmp_path),
    }
    refresh_token_writer(env)(SecretStr("rotated-refresh-token"))
    store_file = tmp_path / "home" / "ml-connector" / "credentials.enc"
    assert store_file.exists()
    assert b"rotated-refresh-token" not in store_file.read_bytes()  # encrypted at rest
    resolved = resolve_rippling(env)
    assert resolved.oauth_refresh_token.get_secret_value() == "rotated-refresh-token"


def test_without_a_key_the_rotation_is_logged_not_the_token(tmp_path, caplog) -> None:
    env = {
        **OAUTH_ENV,
        "DAGSTER_HOME": str(tmp_path / "home"),
        "HOME": str(tmp_path),
        "ML_CONNECTOR_CREDENTIALS_KEY_FILE": str(tmp_path / "absent.key"),
    }
    caplog.set_level(logging.DEBUG)
    refresh_token_writer(env)(SecretStr("rotated-refresh-token"))
    assert "rotated the OAuth refresh token" in caplog.text
    assert "rotated-refresh-token" not in caplog.text
    assert not (tmp_path / "home" / "ml-connector" / "credentials.enc").exists()


def test_writer_takes_only_secret_strings(tmp_path) -> None:
    env = {
        "DAGSTER_HOME": str(tmp_path),
        "HOME": str(tmp_path),
        "ML_CONNECTOR_CREDENTIALS_KEY": Fernet.generate_key().decode(),
    }
    with pytest.raises(TypeError):
        refresh_token_writer(env)("plain-string")  # type: ignore[arg-type]
