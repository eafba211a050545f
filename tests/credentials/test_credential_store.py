"""The encrypted store: round trip, envelope, wrong key, permissions, atomic writes."""

import datetime as dt
import json
import os
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from ml_connector_dagster.credentials.errors import (
    CorruptStoreError,
    InsecureFileError,
    WrongKeyError,
)
from ml_connector_dagster.credentials.keys import KeyRing
from ml_connector_dagster.credentials.models import DynamicsCredentials, RipplingCredentials
from ml_connector_dagster.credentials.store import (
    STORE_FORMAT,
    CredentialStore,
    StoredCredentials,
    StoredDynamics,
    StoredRippling,
    store_path,
)


def _full(secrets) -> StoredCredentials:
    return StoredCredentials(
        rippling=StoredRippling(api_token=SecretStr(secrets.rippling_token), api_version="v2"),
        dynamics=StoredDynamics(
            environment_url="https://contoso.operations.dynamics.com",
            tenant_id="tenant-1",
            client_id="client-1",
            client_secret=SecretStr(secrets.dynamics_secret),
            allow_any_host=False,
        ),
        ca_bundle="/etc/ssl/extra.pem",
    )


def test_round_trip_keeps_every_field_and_secret(store: CredentialStore, secrets) -> None:
    store.save(_full(secrets))
    loaded = store.load()
    assert loaded == _full(secrets)
    assert loaded.rippling.api_token.get_secret_value() == secrets.rippling_token
    assert loaded.dynamics.client_secret.get_secret_value() == secrets.dynamics_secret
    assert loaded.dynamics.allow_any_host is False
    assert loaded.ca_bundle == "/etc/ssl/extra.pem"


def test_file_is_an_envelope_with_nothing_readable_outside_the_token(
    store: CredentialStore, secrets
) -> None:
    store.save(_full(secrets))
    raw = store.path.read_text()
    envelope = json.loads(raw)
    assert set(envelope) == {"format", "token"}
    assert envelope["format"] == STORE_FORMAT
    for value in (*secrets.all(), "tenant-1", "contoso", "extra.pem"):
        assert value not in raw


def test_missing_file_loads_as_empty(store: CredentialStore) -> None:
    assert not store.exists()
    assert store.load() == StoredCredentials()


def test_partial_sides_are_allowed(store: CredentialStore, secrets) -> None:
    store.save(StoredCredentials(dynamics=StoredDynamics(client_secret=secrets.dynamics_secret)))
    loaded = store.load()
    assert loaded.rippling is None
    assert loaded.side("dynamics") == {"client_secret": SecretStr(secrets.dynamics_secret)}


def test_wrong_key_is_a_clear_error_and_the_store_is_unchanged(
    store: CredentialStore, secrets
) -> None:
    store.save(_full(secrets))
    before = store.path.read_bytes()
    other = CredentialStore(store.path, KeyRing([Fernet.generate_key()], source="OTHER_KEY"))
    with pytest.raises(WrongKeyError) as caught:
        other.load()
    message = str(caught.value)
    assert "cannot decrypt" in message
    assert "ML_CONNECTOR_CREDENTIALS_KEY" in message
    assert "OTHER_KEY" in message
    with pytest.raises(WrongKeyError):
        other.write_rotated_refresh_token(SecretStr(secrets.rotated_refresh_token))
    with pytest.raises(WrongKeyError):
        other.delete("dynamics")
    assert store.path.read_bytes() == before
    assert store.load() == _full(secrets)


def test_store_file_is_0600_and_its_new_directory_0700(store: CredentialStore, secrets) -> None:
    store.save(_full(secrets))
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700


def test_store_readable_by_others_is_refused(store: CredentialStore, secrets) -> None:
    store.save(_full(secrets))
    store.path.chmod(0o644)
    with pytest.raises(InsecureFileError, match=r"chmod 600"):
        store.load()


def test_crash_during_replace_leaves_the_old_store_intact(
    store: CredentialStore, secrets, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.save(_full(secrets))
    before = store.path.read_bytes()

    def crash(*_args: object) -> None:
        raise OSError("simulated crash")

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", crash)
        with pytest.raises(OSError, match="simulated crash"):
            store.write_rotated_refresh_token(SecretStr(secrets.rotated_refresh_token))
    assert store.path.read_bytes() == before
    assert store.load() == _full(secrets)
    leftovers = [p.name for p in store.path.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_not_an_envelope_is_a_clear_error(store: CredentialStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text("RIPPLING_API_TOKEN=plain\n")
    store.path.chmod(0o600)
    with pytest.raises(CorruptStoreError, match="not an ml-connector credentials store"):
        store.load()


def test_unknown_format_is_refused(store: CredentialStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(json.dumps({"format": "ml-connector-credentials/9", "token": "x"}))
    store.path.chmod(0o600)
    with pytest.raises(CorruptStoreError, match="this version reads"):
        store.load()


def test_write_rotated_refresh_token_records_token_and_time(
    store: CredentialStore, secrets
) -> None:
    store.save(
        StoredCredentials(
            rippling=StoredRippling(
                oauth_client_id="cid",
                oauth_client_secret=secrets.oauth_secret,
                oauth_refresh_token=secrets.refresh_token,
            )
        )
    )
    at = dt.datetime(2026, 11, 20, 8, 30, tzinfo=dt.UTC)
    store.write_rotated_refresh_token(SecretStr(secrets.rotated_refresh_token), at=at)
    rippling = store.load().rippling
    assert rippling.oauth_refresh_token.get_secret_value() == secrets.rotated_refresh_token
    assert rippling.refresh_token_rotated_at == at
    assert rippling.oauth_client_id == "cid"  # the rest of the side is kept


def test_write_rotated_refresh_token_creates_a_missing_store(
    store: CredentialStore, secrets
) -> None:
    store.write_rotated_refresh_token(SecretStr(secrets.rotated_refresh_token))
    rippling = store.load().rippling
    assert rippling.oauth_refresh_token.get_secret_value() == secrets.rotated_refresh_token
    assert rippling.refresh_token_rotated_at is not None


def test_write_rotated_refresh_token_refuses_a_plain_string(store: CredentialStore) -> None:
    with pytest.raises(TypeError):
        store.write_rotated_refresh_token("plain")  # type: ignore[arg-type]


def test_operator_refresh_token_clears_the_rotation_mark(secrets) -> None:
    rotated = StoredCredentials(
        rippling=StoredRippling(
            oauth_refresh_token=secrets.rotated_refresh_token,
            refresh_token_rotated_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        )
    )
    kept = rotated.merged("rippling", {"oauth_client_id": "cid"})
    assert kept.rippling.refresh_token_rotated_at is not None
    replaced = rotated.merged("rippling", {"oauth_refresh_token": SecretStr("new-token")})
    assert replaced.rippling.refresh_token_rotated_at is None


def test_delete_one_side_then_all(store: CredentialStore, secrets) -> None:
    store.save(_full(secrets))
    store.delete("rippling")
    loaded = store.load()
    assert loaded.rippling is None
    assert loaded.dynamics is not None
    store.delete("all")
    assert not store.path.exists()


def test_default_path_follows_dagster_home_or_the_configured_file(tmp_path: Path) -> None:
    assert store_path({"DAGSTER_HOME": str(tmp_path)}) == (
        tmp_path / "ml-connector" / "credentials.enc"
    )
    assert store_path({}) == Path(".dagster_home/ml-connector/credentials.enc")
    configured = tmp_path / "elsewhere.enc"
    env = {"DAGSTER_HOME": str(tmp_path), "ML_CONNECTOR_CREDENTIALS_FILE": str(configured)}
    assert store_path(env) == configured


@pytest.mark.parametrize(
    ("partial", "full"),
    [(StoredRippling, RipplingCredentials), (StoredDynamics, DynamicsCredentials)],
)
def test_partial_sides_mirror_the_credential_models(partial, full) -> None:
    """A field added to a model but not to its partial could never be stored."""
    own = set(partial.model_fields) - {"refresh_token_rotated_at"}
    assert own == set(full.model_fields)


def _with_token(store: CredentialStore, token: str) -> None:
    store.path.write_text(json.dumps({"format": STORE_FORMAT, "token": token}) + "\n")


def test_a_tampered_token_names_both_possible_causes_and_the_way_out(
    store: CredentialStore, secrets
) -> None:
    """A changed byte fails the HMAC exactly as another key does: the message says both."""
    store.save(_full(secrets))
    token = json.loads(store.path.read_text())["token"]
    middle = len(token) // 2
    _with_token(
        store, token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    )
    with pytest.raises(WrongKeyError) as caught:
        store.load()
    message = str(caught.value)
    assert "tampered with or encrypted with another key" in message
    assert "ML_CONNECTOR_CREDENTIALS_KEY" in message  # if it is another key
    assert "restore it from a backup" in message and "ml-connector credentials set" in message
    assert secrets.dynamics_secret not in message


@pytest.mark.parametrize(
    ("token", "why"),
    [
        ("gAAAA-not?base64!", "not url-safe base64"),
        (
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "does not start like a Fernet token",
        ),
    ],
)
def test_a_token_no_key_could_open_is_called_damaged(
    store: CredentialStore, secrets, token: str, why: str
) -> None:
    store.save(_full(secrets))
    _with_token(store, token)
    with pytest.raises(CorruptStoreError) as caught:
        store.load()
    message = str(caught.value)
    assert "is damaged" in message and why in message
    assert "another key" not in message  # known: no key could open it
    assert "ml-connector credentials set" in message


def test_a_truncated_token_is_called_damaged(store: CredentialStore, secrets) -> None:
    store.save(_full(secrets))
    token = json.loads(store.path.read_text())["token"]
    _with_token(store, token[:-8])
    with pytest.raises(CorruptStoreError, match="is damaged"):
        store.load()
