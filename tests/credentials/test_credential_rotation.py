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


# --- stored asset values (storage/sealed.py) share the key and its rotation -----------------
def _sealed(root, ring):
    from ml_connector_dagster.defs.io_manager import CODEC
    from ml_connector_dagster.storage.sealed import SealedValues

    return SealedValues(root, ring, CODEC)


def _pay_value():
    """A small stand-in for a snapshot: typed, with amounts whose exponent matters."""
    import datetime as dt
    from decimal import Decimal

    from ml_connector_dagster.ledger.inputs import EarningLine, PayrollRecord

    record = PayrollRecord(
        id="rec-1",
        worker_id="wrk-secret-1",
        currency="USD",
        gross_pay=Decimal("4210.50"),
        net_pay=Decimal("3100.10"),
        earnings=(EarningLine(amount=Decimal("4210.50"), code="regular"),),
    )
    return {"records": [record], "check_date": dt.date(2026, 11, 13)}


def test_a_value_stored_under_the_previous_key_still_loads_after_rotation(
    paths, filed_store
) -> None:
    """MultiFernet: rotating the key alone (no re-encryption) leaves values readable."""
    store, old = filed_store
    root = paths.dagster_home / "storage" / "ml_connector"
    path = root / "rippling" / "payroll_cost_snapshot" / ("USMF__2026-11-14" + ".sealed.json")
    value = _pay_value()
    _sealed(root, store.keyring).write(path, value)

    rotated = store.rotate_key()  # the key file now holds new, old
    loaded = _sealed(root, load_keyring(os.environ)).read(path)
    assert loaded == value
    assert str(loaded["records"][0].net_pay) == "3100.10"
    token = json.loads(path.read_text())["token"].encode()
    Fernet(old).decrypt(token)  # not re-encrypted by this call: still under the old key
    assert rotated.keyring.reveal()[1] == old.decode()


def test_cli_rotate_key_re_encrypts_the_stored_values(paths, filed_store) -> None:
    from ml_connector_dagster.storage.sealed import SUFFIX

    store, old = filed_store
    root = paths.dagster_home / "storage" / "ml_connector"
    path = root / "rippling" / "workers" / ("value" + SUFFIX)
    value = _pay_value()
    _sealed(root, store.keyring).write(path, value)
    (root / "rippling" / "workers" / "old.pickle").write_bytes(b"clear")

    result = CliRunner().invoke(main, ["credentials", "rotate-key"])
    assert result.exit_code == 0, result.output
    assert "1 stored asset value(s)" in result.stderr
    assert "pickle" in result.stderr  # a leftover of an earlier release is pointed out
    new = load_keyring(os.environ).reveal()[0].encode()
    token = json.loads(path.read_text())["token"].encode()
    Fernet(new).decrypt(token)
    with pytest.raises(InvalidToken):
        Fernet(old).decrypt(token)
    assert (path.stat().st_mode & 0o777) == 0o600
    assert _sealed(root, KeyRing([new], source="new only")).read(path) == value

    # A second rotation retires the first key; the values follow the store, still readable.
    assert CliRunner().invoke(main, ["credentials", "rotate-key"]).exit_code == 0
    assert _sealed(root, load_keyring(os.environ)).read(path) == value


def test_cli_rotate_key_re_encrypts_values_kept_in_a_database(
    paths, filed_store, monkeypatch
) -> None:
    """With ML_CONNECTOR_STORAGE_URL, the rows are re-encrypted by the same command."""
    from ml_connector_dagster.audit.stored_values import database_backend, dispose_engines
    from ml_connector_dagster.defs.io_manager import CODEC
    from ml_connector_dagster.storage.envelope import token_of

    store, old = filed_store
    url = f"sqlite:///{paths.dagster_home / 'values.sqlite'}"
    monkeypatch.setenv("ML_CONNECTOR_STORAGE_URL", url)
    value = _pay_value()
    asset = ["rippling", "payroll_cost_snapshot"]
    database_backend(url, store.keyring, CODEC).store(asset, "USMF|2026-11-14", value)
    try:
        result = CliRunner().invoke(main, ["credentials", "rotate-key"])
        assert result.exit_code == 0, result.output
        assert "1 stored asset value(s) in the storage database re-encrypted" in result.stderr
        new = load_keyring(os.environ).reveal()[0].encode()
        backend = database_backend(url, KeyRing([new], source="new only"), CODEC)
        assert backend.load(asset, "USMF|2026-11-14") == value
        raw = backend._envelope(asset, "USMF|2026-11-14")
        token = token_of(raw.encode(), "the row")
        with pytest.raises(InvalidToken):
            Fernet(old).decrypt(token)
    finally:
        dispose_engines()
