"""Key rings and where keys come from: variable, key file, permissions, placement."""

import os
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from ml_connector_dagster.credentials.errors import (
    InsecureFileError,
    InvalidKeyError,
    KeyBesideStoreError,
    MissingKeyError,
)
from ml_connector_dagster.credentials.keys import (
    KeyRing,
    key_file_path,
    load_keyring,
    write_key_file,
)
from ml_connector_dagster.credentials.locate import existing_store, open_or_create_store


def _keys(count: int) -> list[bytes]:
    return [Fernet.generate_key() for _ in range(count)]


def test_variable_with_several_keys_first_encrypts_all_decrypt() -> None:
    first, second = _keys(2)
    ring = load_keyring({"ML_CONNECTOR_CREDENTIALS_KEY": f" {first.decode()} , {second.decode()}"})
    assert len(ring) == 2
    token = ring.encrypt(b"payload")
    assert Fernet(first).decrypt(token) == b"payload"
    assert ring.decrypt(Fernet(second).encrypt(b"old")) == b"old"


def test_variable_wins_over_key_file(paths, key: str) -> None:
    write_key_file(KeyRing(_keys(1), source="file"), paths.key_file)
    ring = load_keyring({"ML_CONNECTOR_CREDENTIALS_KEY": key, "HOME": str(paths.home)})
    assert ring.source == "ML_CONNECTOR_CREDENTIALS_KEY"
    assert ring.path is None


def test_key_file_default_location_and_format(paths) -> None:
    first, second = _keys(2)
    write_key_file(KeyRing([first, second], source="x"), paths.key_file)
    assert key_file_path(os.environ) == paths.key_file
    assert stat.S_IMODE(paths.key_file.stat().st_mode) == 0o600
    ring = load_keyring(os.environ)
    assert ring.reveal() == [first.decode(), second.decode()]
    assert ring.path == paths.key_file
    # Comment lines (which may contain commas) are skipped.
    assert paths.key_file.read_text().splitlines()[0].startswith("#")


def test_missing_key_names_what_to_set(paths) -> None:
    with pytest.raises(MissingKeyError) as caught:
        load_keyring(os.environ)
    message = str(caught.value)
    assert "ML_CONNECTOR_CREDENTIALS_KEY" in message
    assert "ML_CONNECTOR_CREDENTIALS_KEY_FILE" in message
    assert str(paths.key_file) in message


def test_invalid_key_is_named_but_not_shown() -> None:
    good = Fernet.generate_key().decode()
    with pytest.raises(InvalidKeyError) as caught:
        load_keyring({"ML_CONNECTOR_CREDENTIALS_KEY": f"{good},not-a-real-key-value"})
    assert "key 2 of ML_CONNECTOR_CREDENTIALS_KEY" in str(caught.value)
    assert "not-a-real-key-value" not in str(caught.value)
    assert caught.value.__cause__ is None


def test_key_file_readable_by_others_is_refused(paths) -> None:
    write_key_file(KeyRing(_keys(1), source="x"), paths.key_file)
    paths.key_file.chmod(0o644)
    with pytest.raises(InsecureFileError) as caught:
        load_keyring(os.environ)
    assert f"chmod 600 {paths.key_file}" in str(caught.value)


def test_key_file_beside_the_store_is_refused_unless_allowed(
    paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    beside = paths.store.parent / "credentials.key"
    write_key_file(KeyRing(_keys(1), source="x"), beside)
    monkeypatch.setenv("ML_CONNECTOR_CREDENTIALS_KEY_FILE", str(beside))
    with pytest.raises(KeyBesideStoreError, match="ML_CONNECTOR_ALLOW_KEY_BESIDE_STORE"):
        load_keyring(os.environ, store_path=paths.store)
    monkeypatch.setenv("ML_CONNECTOR_ALLOW_KEY_BESIDE_STORE", "true")
    assert len(load_keyring(os.environ, store_path=paths.store)) == 1


def test_no_key_is_created_beside_the_store(paths, monkeypatch: pytest.MonkeyPatch) -> None:
    beside = paths.store.parent / "credentials.key"
    monkeypatch.setenv("ML_CONNECTOR_CREDENTIALS_KEY_FILE", str(beside))
    with pytest.raises(KeyBesideStoreError):
        open_or_create_store(os.environ)
    assert not beside.exists()


def test_a_key_is_created_only_when_there_is_neither_key_nor_store(paths) -> None:
    store, created = open_or_create_store(os.environ)
    assert created == paths.key_file
    assert stat.S_IMODE(paths.key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.key_file.parent.stat().st_mode) == 0o700
    store.save(store.load())
    paths.key_file.unlink()
    # A store without its key must not silently get a fresh (useless) key.
    with pytest.raises(MissingKeyError):
        open_or_create_store(os.environ)
    with pytest.raises(MissingKeyError):
        existing_store(os.environ)
    assert not paths.key_file.exists()


def test_existing_store_is_none_without_a_file(paths) -> None:
    assert existing_store(os.environ) is None


def test_key_ring_repr_shows_no_key() -> None:
    keys = _keys(2)
    ring = KeyRing(keys, source="key file /somewhere")
    for text in (repr(ring), str(ring), f"{ring}"):
        assert "2 key(s) from key file /somewhere" in text
        for key in keys:
            assert key.decode() not in text


def test_rotated_ring_has_the_new_key_first_and_trims_to_two(tmp_path: Path) -> None:
    first, second = _keys(2)
    ring = KeyRing([first, second], source="x").with_new_primary()
    assert len(ring) == 3
    assert ring.reveal()[1:] == [first.decode(), second.decode()]
    assert ring.trimmed(2).reveal() == ring.reveal()[:2]
