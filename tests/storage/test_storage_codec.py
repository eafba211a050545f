"""The typed, versioned, encrypted form of stored values, without Dagster or a sandbox."""

import dataclasses
import datetime as dt
import json
import pickle
import stat
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from ml_connector_dagster.credentials.keys import KeyRing
from ml_connector_dagster.defs.io_manager import CODEC
from ml_connector_dagster.ledger.inputs import EarningLine, PayrollRecord, WorkerContext
from ml_connector_dagster.ledger.vocabulary import LineRole
from ml_connector_dagster.storage.codec import Codec, CodecError
from ml_connector_dagster.storage.sealed import (
    SUFFIX,
    SealedValues,
    StorageKeyError,
    UnknownFormatError,
    storage_keyring,
)

RECORD = PayrollRecord(
    id="rec-1",
    worker_id="wrk-7",
    currency="USD",
    gross_pay=Decimal("1200.10"),
    net_pay=Decimal("900.00"),
    earnings=(EarningLine(amount=Decimal("1200.10"), code="regular"),),
)


def _ring() -> KeyRing:
    return KeyRing([Fernet.generate_key()], source="test")


def test_values_round_trip_exactly_with_their_types() -> None:
    value = {
        "record": RECORD,
        "worker": WorkerContext("wrk-7", job_codes=(("JC1", 1),)),
        "role": LineRole.NET_PAY,
        ("USD", LineRole.EARNINGS): Decimal("1E+2"),
        "when": dt.datetime(2026, 11, 14, 18, 0, tzinfo=dt.UTC),
        "day": dt.date(2026, 11, 14),
        "ids": frozenset({"a", "b"}),
        "plain": [{"$x": 1, "n": None}],
    }
    back = CODEC.loads(CODEC.dumps(value))
    assert back == value
    assert repr(back) == repr(value)  # 1200.10 stays 1200.10, 1E+2 stays 1E+2
    assert type(back["role"]) is LineRole


def test_amounts_are_text_and_dates_iso_in_the_json() -> None:
    body = json.loads(CODEC.dumps(RECORD))
    assert body["codec"] == 1
    fields = body["value"]["fields"]
    assert body["value"]["type"] == "PayrollRecord"
    assert fields["gross_pay"] == {"$t": "decimal", "value": "1200.10"}


def test_a_type_outside_the_allowlist_is_refused_when_written() -> None:
    @dataclasses.dataclass
    class Stranger:
        x: int

    with pytest.raises(CodecError, match="Stranger"):
        CODEC.dumps(Stranger(1))


def test_a_value_of_a_renamed_field_is_refused_not_half_read() -> None:
    data = CODEC.dumps(RECORD).replace(b'"gross_pay"', b'"gross"')
    with pytest.raises(CodecError, match=r"PayrollRecord.*gross"):
        CODEC.loads(data)


def test_another_codec_version_is_refused() -> None:
    data = json.dumps({"codec": 2, "value": 1}).encode()
    with pytest.raises(CodecError, match="codec version 2"):
        Codec(()).loads(data)


def test_sealed_files_are_owner_only_encrypted_and_tighten_an_old_tree(tmp_path: Path) -> None:
    root = tmp_path / "values"
    (root / "rippling").mkdir(parents=True)
    (root / "rippling").chmod(0o755)  # as an earlier release left it
    values = SealedValues(root, _ring(), CODEC)
    path = values.path("rippling", "payroll_cost_snapshot", "USMF__2026-11-14")
    values.write(path, RECORD)
    raw = path.read_text()
    assert "wrk-7" not in raw and "1200.10" not in raw
    for level in (root, root / "rippling", path.parent):
        assert stat.S_IMODE(level.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert values.read(path) == RECORD


def test_an_unknown_version_is_refused_by_file_and_version(tmp_path: Path) -> None:
    values = SealedValues(tmp_path, _ring(), CODEC)
    path = values.path("ledger", "labor_cost_journals", "USMF__2026-11-14")
    values.write(path, RECORD)
    envelope = json.loads(path.read_text())
    envelope["version"] = 7
    path.write_text(json.dumps(envelope))
    with pytest.raises(UnknownFormatError) as caught:
        values.read(path)
    message = str(caught.value)
    assert str(path) in message and "version 7" in message and "re-materialize" in message


def test_a_pickle_of_an_earlier_release_is_refused_never_loaded(tmp_path: Path) -> None:
    values = SealedValues(tmp_path, _ring(), CODEC)
    path = values.path("rippling", "workers", "value")
    path.parent.mkdir(parents=True)
    legacy = path.with_name("value.pickle")
    legacy.write_bytes(pickle.dumps({"boom": 1}))
    with pytest.raises(UnknownFormatError, match="pickle"):
        values.read(path)
    values.write(path, [1])  # a new value replaces it, and the clear-text pickle goes
    assert not legacy.exists() and path.name.endswith(SUFFIX)


def test_a_value_under_an_unknown_key_names_the_key_source(tmp_path: Path) -> None:
    path = tmp_path / ("value" + SUFFIX)
    SealedValues(tmp_path, _ring(), CODEC).write(path, 1)
    with pytest.raises(StorageKeyError, match="key\\(s\\) from other"):
        SealedValues(tmp_path, KeyRing([Fernet.generate_key()], source="other"), CODEC).read(path)


def test_no_key_is_an_error_naming_the_settings(tmp_path: Path) -> None:
    env = {"ML_CONNECTOR_CREDENTIALS_KEY_FILE": str(tmp_path / "missing.key")}
    with pytest.raises(StorageKeyError, match="ML_CONNECTOR_CREDENTIALS_KEY"):
        storage_keyring(env)
