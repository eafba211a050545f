"""rotate-key: the store re-encrypted under a new key, the previous key kept second."""

import json
import os

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr

from ml_connector_dagster.cli import main
from ml_connector_dagster.credentials.errors import WrongKeyError
from ml_connector_dagster.credentials.keys import KeyRing, load_keyring, write_key_file
from ml_connector_dagster.credentials.locate import open_store
from ml_connector_dagster.credentials.store import (
    CredentialStore,
    StoredCredentials,
    StoredRippling,
)


def _token(path) -> bytes:
    return json.loads(path.read_text())["token"].encode()


@pytest.fixture
def filed_store(paths, secrets) -> tuple[CredentialStore, bytes]:
    """A store keyed by the default key file; returns it and its (old) key."""
    old = Fernet.generate_key()
    write_key_file(KeyRing([old], source="x"), paths.key_file)
    store = open_store(os.environ)
    store.save(StoredCredentials(rippling=StoredRippling(api_token=secrets.rippling_token)))
    return store, old


def test_rotation_with_a_key_file(paths, secrets, filed_store) -> None:
    store, old = filed_store
    rotated = store.rotate_key()

    on_disk = load_keyring(os.environ).reveal()
    assert len(on_disk) == 2
    new = on_disk[0].encode()
    assert on_disk[1] == old.decode()  # an unrotated copy stays readable
    assert rotated.keyring.reveal() == on_disk

    token = _token(paths.store)
    # The new key alone reads the store; the old key alone no longer does.
    payload = json.loads(Fernet(new).decrypt(token))
    assert payload["rippling"]["api_token"] == secrets.rippling_token
    with pytest.raises(InvalidToken):
        Fernet(old).decrypt(token)
    alone = CredentialStore(paths.store, KeyRing([new], source="new key only"))
    assert alone.load().rippling.api_token == SecretStr(secrets.rippling_token)


def test_second_rotation_retires_the_oldest_key(paths, filed_store) -> None:
    store, old = filed_store
    store = store.rotate_key().rotate_key()
    keys = load_keyring(os.environ).reveal()
    assert len(keys) == 2
    assert old.decode() not in keys
    with pytest.raises(WrongKeyError):
        CredentialStore(paths.store, KeyRing([old], source="old")).load()


def test_rotation_with_the_wrong_key_changes_nothing(paths, filed_store) -> None:
    wrong = Fernet.generate_key()
    write_key_file(KeyRing([wrong], source="x"), paths.key_file)
    before_store, before_key = paths.store.read_bytes(), paths.key_file.read_bytes()
    with pytest.raises(WrongKeyError):
        open_store(os.environ).rotate_key()
    assert paths.store.read_bytes() == before_store
    assert paths.key_file.read_bytes() == before_key


def test_cli_rotation_with_a_key_file(paths, filed_store) -> None:
    _, old = filed_store
    result = CliRunner().invoke(main, ["credentials", "rotate-key"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted" in result.stderr
    assert "previous key kept second" in result.stderr
    keys = load_keyring(os.environ).reveal()
    assert keys[1] == old.decode()
    for key in keys:
        assert key not in result.output


def test_cli_rotation_with_the_key_in_the_environment(
    paths, secrets, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = Fernet.generate_key().decode()
    monkeypatch.setenv("ML_CONNECTOR_CREDENTIALS_KEY", old)
    store = open_store(os.environ)
    store.save(StoredCredentials(rippling=StoredRippling(api_token=secrets.rippling_token)))
    before = paths.store.read_bytes()

    refused = CliRunner().invoke(main, ["credentials", "rotate-key"])
    assert refused.exit_code == 1
    assert "--print-new-key" in refused.output
    assert paths.store.read_bytes() == before

    result = CliRunner().invoke(main, ["credentials", "rotate-key", "--print-new-key"])
    assert result.exit_code == 0, result.output
    printed = result.stdout.strip()
    new, previous = printed.split(",")
    assert previous == old
    assert not paths.key_file.exists()  # nothing written but the store
    monkeypatch.setenv("ML_CONNECTOR_CREDENTIALS_KEY", new)
    assert open_store(os.environ).load().rippling.api_token == SecretStr(secrets.rippling_token)


def test_cli_rotation_without_any_key_is_a_clear_error(paths) -> None:
    result = CliRunner().invoke(main, ["credentials", "rotate-key"])
    assert result.exit_code == 1
    assert "ML_CONNECTOR_CREDENTIALS_KEY" in result.output
    assert "Traceback" not in result.output
