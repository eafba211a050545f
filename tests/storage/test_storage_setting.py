"""``ML_CONNECTOR_STORAGE_URL`` picks where values are kept, and refuses what it cannot use."""

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from ml_connector_dagster.config.settings import ConnectorSettings, SettingsError
from ml_connector_dagster.defs.io_manager import CODEC
from ml_connector_dagster.defs.value_storage import value_backend
from ml_connector_dagster.storage.database import DatabaseBackend
from ml_connector_dagster.storage.local import LocalBackend


def test_unset_means_files_audit_means_the_audit_database(tmp_path: Path) -> None:
    home = {"DAGSTER_HOME": str(tmp_path)}
    assert ConnectorSettings.from_env(home).storage_database_url() is None
    assert ConnectorSettings.from_env({**home, "ML_CONNECTOR_STORAGE_URL": ""}).storage_url is None
    audit = f"sqlite:///{tmp_path / 'trail.sqlite'}"
    settings = ConnectorSettings.from_env(
        {**home, "ML_CONNECTOR_STORAGE_URL": "audit", "ML_CONNECTOR_AUDIT_URL": audit}
    )
    assert settings.storage_database_url() == audit
    default_audit = ConnectorSettings.from_env({**home, "ML_CONNECTOR_STORAGE_URL": "audit"})
    assert default_audit.storage_database_url() == default_audit.audit_database_url()
    other = "postgresql+psycopg2://u:pw@db.internal/values"
    assert (
        ConnectorSettings.from_env(
            {**home, "ML_CONNECTOR_STORAGE_URL": other}
        ).storage_database_url()
        == other
    )


@pytest.mark.parametrize(
    "value", ["s3://bucket/values", "mysql://u:hunter2@db/values", "pg-values-db", "/srv/values"]
)
def test_an_unusable_value_is_refused_by_name_without_echoing_it(value: str) -> None:
    with pytest.raises(SettingsError) as refused:
        ConnectorSettings.from_env({"ML_CONNECTOR_STORAGE_URL": value})
    assert "ML_CONNECTOR_STORAGE_URL" in str(refused.value)
    assert value not in str(refused.value) and "hunter2" not in str(refused.value)


def test_the_setting_picks_the_backend_and_base_dir_wins(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ML_CONNECTOR_CREDENTIALS_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.delenv("ML_CONNECTOR_STORAGE_URL", raising=False)
    local = value_backend(CODEC)
    assert isinstance(local, LocalBackend)
    assert local.root == tmp_path / "storage" / "ml_connector"
    url = f"sqlite:///{tmp_path / 'values.sqlite'}"
    monkeypatch.setenv("ML_CONNECTOR_STORAGE_URL", url)
    database = value_backend(CODEC)
    assert isinstance(database, DatabaseBackend)
    assert str(database.engine.url) == url
    assert isinstance(value_backend(CODEC, str(tmp_path / "explicit")), LocalBackend)
    from ml_connector_dagster.audit.stored_values import dispose_engines

    dispose_engines()
