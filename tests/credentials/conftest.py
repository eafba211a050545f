"""Fixtures for the credentials tests: a private HOME and DAGSTER_HOME, a clean environment."""

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from ml_connector_dagster.credentials.keys import KeyRing
from ml_connector_dagster.credentials.store import CredentialStore


@dataclass(frozen=True)
class Secrets:
    """Long enough for the mask to show their last four characters, and distinct enough that
    finding one in captured output is certainly a leak."""

    rippling_token: str = "rtok-Zq8yW3vN5mK2pL7xJ4cR9tB6"
    dynamics_secret: str = "dsec-Hd7Gf2Ks9Lp4Qw6Er1Ty8Ui3"
    oauth_secret: str = "osec-Mn5Bv8Cx2Zl7Ak4Sj9Dh3Fg6"
    refresh_token: str = "rfsh-Po9Iu6Yt3Re8Wq1Lk5Jh2Gf4"
    rotated_refresh_token: str = "rfsh2-Xc4Vb7Nm1As6Df9Gh2Jk5L"
    # The Teams webhook URL is secret as a whole: its path and query carry the signature.
    teams_webhook_url: str = (
        "https://acme.webhook.office.com/webhookb2/9f1c-Wq1Lk5Jh2Gf4/IncomingWebhook/Ty8Ui3Mn5Bv8"
    )
    smtp_password: str = "smtp-Bv8Cx2Zl7Ak4Sj9Dh3Fg6Mn5"

    def all(self) -> list[str]:
        return list(vars(self).values())


@dataclass
class Paths:
    home: Path
    dagster_home: Path
    store: Path
    key_file: Path


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    """HOME and DAGSTER_HOME under tmp_path, and no connector variable from the real env."""
    for name in list(os.environ):
        if name.startswith(("RIPPLING_", "DYNAMICS_", "ML_CONNECTOR_")):
            monkeypatch.delenv(name)
    home, dagster_home = tmp_path / "home", tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    monkeypatch.setenv("COLUMNS", "200")  # rich tables wide enough not to wrap values
    return Paths(
        home=home,
        dagster_home=dagster_home,
        store=dagster_home / "ml-connector" / "credentials.enc",
        key_file=home / ".config" / "ml-connector" / "credentials.key",
    )


@pytest.fixture
def key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def store(paths: Paths, key: str) -> CredentialStore:
    """A store at the default path, keyed by one key held in memory."""
    return CredentialStore(paths.store, KeyRing([key.encode()], source="test"))


@pytest.fixture
def secrets() -> Secrets:
    return Secrets()
