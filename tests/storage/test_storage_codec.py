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


def test_nested_values_round_trip_with_every_tag() -> None:
    """Tags inside tags (a tuple of tuples in a dict keyed by tuples, a set in a list, a
    plain dict holding the tag's own key) come back equal and of the same types: the reader
    rebuilds innermost first, so each level must see its members already rebuilt."""
    value = [
        {("a", ("b", 1)): (RECORD, (Decimal("0.10"), Decimal("-0.00")))},
        {"$t": "decimal", "value": "not a tag: a plain dict with the tag's key"},
        {frozenset({"x"}), "y"},
        (dt.date(2026, 1, 1), [LineRole.EARNINGS, None, True, 1.5, 7]),
        {"nested": {"deeper": {"worker": WorkerContext("w", department_key="D")}}},
    ]
    back = CODEC.loads(CODEC.dumps(value))
    assert back == value
    # repr shows each Decimal's exponent (0.10 is not 0.1); a set's order follows the hash
    # seed, so the set is compared by members and types instead.
    assert repr(back[:2] + back[3:]) == repr(value[:2] + value[3:])
    assert type(back[2]) is set and {type(x) for x in back[2]} == {frozenset, str}
    assert type(back[0]) is dict and type(next(iter(back[0]))) is tuple
    assert type(back[3]) is tuple and type(back[3][1][0]) is LineRole


def test_an_amount_stored_as_a_json_number_is_refused_not_rounded() -> None:
    """A decimal whose value is a JSON number (a hand edit, another writer) would come back
    through a float; the reader refuses it and names the tag."""
    data = CODEC.dumps(RECORD).replace(b'"value":"1200.10"', b'"value":1200.1')
    with pytest.raises(CodecError, match="decimal"):
        CODEC.loads(data)


@pytest.mark.parametrize(
    ("original", "tampered", "named"),
    [
        (b'"type":"PayrollRecord"', b'"type":"Payroll"', "Payroll"),
        (b'"$t":"tuple","items":[', b'"$t":"tuple","items":{"a":[', "tuple"),
        (b'"$t":"decimal"', b'"$t":"money"', "money"),
    ],
)
def test_a_tampered_tag_is_a_codec_error_naming_it(
    original: bytes, tampered: bytes, named: str
) -> None:
    data = CODEC.dumps({"r": RECORD})
    assert original in data
    broken = data.replace(original, tampered, 1)
    if tampered.endswith(b"["):
        broken = broken.replace(b"]", b"]}", 1)
    with pytest.raises(CodecError, match=named):
        CODEC.loads(broken)


def test_a_value_of_another_version_is_named_even_if_its_tags_are_unknown() -> None:
    data = json.dumps({"codec": 2, "value": {"$t": "future", "x": 1}}).encode()
    with pytest.raises(CodecError, match="codec version 2"):
        CODEC.loads(data)


def test_text_that_is_no_stored_value_is_refused() -> None:
    for data in (b"", b"[1, 2]", b'{"value": 1}', b"\xff\xfe"):
        with pytest.raises(CodecError, match="not a stored value"):
            CODEC.loads(data)


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
