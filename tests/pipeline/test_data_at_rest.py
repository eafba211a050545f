"""Payroll data at rest, after a real materialization against the sandbox.

What the connector stores between steps holds every worker's pay: it must be owner-only
(0600 files, 0700 directories), encrypted (no worker id or amount in the bytes), typed (a
value comes back exactly, Decimal to the cent), refused by name when its format is unknown,
and the UI metadata must speak of totals and counts, not of one person's pay.
"""

import contextlib
import json
import stat
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet, InvalidToken

from ml_connector_dagster.cli import main
from ml_connector_dagster.defs.io_manager import CODEC
from ml_connector_dagster.defs.payroll.assets import (
    labor_cost_journals,
    payroll_cost_snapshot,
    posted_journals,
)
from ml_connector_dagster.ledger.inputs import PayrollRecord
from ml_connector_dagster.payroll.snapshot import PeriodSnapshot
from ml_connector_dagster.storage.sealed import SUFFIX, SealedValues, storage_keyring
from ml_connector_sandbox.server import Sandbox
from tests.pipeline_support import PAYROLL, materialize, pipeline_env, table_rows

COMPANY = "USMF"


@pytest.fixture
def env(fresh_sandbox: Sandbox, sandbox_env, tmp_path: Path, monkeypatch) -> dict:
    return pipeline_env(fresh_sandbox, tmp_path, monkeypatch)


@pytest.fixture
def materialized(env) -> dict[str, Any]:
    """One real payroll run of the newest paid USMF period; its result and storage root."""
    with dg.instance_for_test() as instance:
        result = materialize(instance, env["resources"], env["period"], COMPANY)
        assert result.success
        events = {
            event.asset_key: event.materialization.metadata
            for event in result.get_asset_materialization_events()
        }
        snapshots = result.output_for_node("rippling__payroll_cost_snapshot")
        journals = result.output_for_node("ledger__labor_cost_journals")
        yield {
            **env,
            "instance": instance,
            "result": result,
            "metadata": events,
            "snapshot": next(iter(snapshots.values())),
            "journals": next(iter(journals.values())),
            "root": env["tmp"] / "storage",
        }


def _stored(root: Path, *asset: str) -> Path:
    files = sorted(root.joinpath(*asset).glob("*" + SUFFIX))
    assert len(files) == 1, files
    return files[0]


def pay_amounts(record: PayrollRecord) -> set[Decimal]:
    """Every amount of one worker's record: gross, net, summary and each line."""
    amounts = {record.gross_pay, record.net_pay, *vars(record.summary).values()}
    amounts |= {line.amount for line in (*record.earnings, *record.taxes)}
    amounts |= {d.employee_amount for d in record.deductions}
    amounts |= {d.employer_amount for d in record.deductions}
    amounts |= set(record.garnishments)
    return {a for a in amounts if a != 0}


def test_stored_files_are_owner_only(materialized) -> None:
    root = materialized["root"]
    paths = [root, *root.rglob("*")]
    assert any(p.name.endswith(SUFFIX) for p in paths)
    assert not list(root.rglob("*.pickle"))
    for path in paths:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path}: {mode:04o}"


def test_stored_bytes_hold_no_worker_id_or_amount_in_clear(materialized) -> None:
    snapshot: PeriodSnapshot = materialized["snapshot"]
    records = snapshot.all_records()
    assert records
    secrets = {r.worker_id for r in records} | {str(a) for r in records for a in pay_amounts(r)}
    for path in materialized["root"].rglob("*" + SUFFIX):
        raw = path.read_text()
        envelope = json.loads(raw)
        assert set(envelope) == {"format", "version", "token"}
        leaked = sorted(s for s in secrets if s in raw)
        assert not leaked, f"{path} holds {leaked[:5]} in clear"


def test_a_value_survives_the_round_trip_exactly(materialized) -> None:
    root = materialized["root"]
    values = SealedValues(root, storage_keyring(), CODEC)
    snapshot = values.read(_stored(root, "rippling", "payroll_cost_snapshot"))
    journals = values.read(_stored(root, "ledger", "labor_cost_journals"))
    assert snapshot == materialized["snapshot"]
    assert journals == materialized["journals"]
    # Equal Decimals can differ in exponent (1.1 == 1.10): the text must be the same too.
    assert repr(snapshot) == repr(materialized["snapshot"])
    assert repr(journals) == repr(materialized["journals"])
    cents = [r.gross_pay for r in snapshot.all_records()]
    assert all(isinstance(a, Decimal) and a.as_tuple().exponent == -2 for a in cents)


def numbers_shown(value: Any) -> set[Decimal]:
    """Every number a metadata value shows (table cells, JSON, text), to the cent."""
    found: set[Decimal] = set()
    if isinstance(value, dg.TableMetadataValue):
        for record in value.records:
            found |= numbers_shown(list(record.data.values()))
    elif isinstance(value, dg.MetadataValue):
        found |= numbers_shown(value.value)
    elif isinstance(value, dict):
        found |= numbers_shown(list(value.keys()) + list(value.values()))
    elif isinstance(value, list | tuple):
        for item in value:
            found |= numbers_shown(item)
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int | float | Decimal):
        found.add(Decimal(str(value)).quantize(Decimal("0.01")))
    elif isinstance(value, str):
        for word in value.replace(",", " ").split():
            with contextlib.suppress(ArithmeticError):
                found.add(Decimal(word).quantize(Decimal("0.01")))
    return found


def test_ui_metadata_carries_no_per_person_pay_at_the_summary_level(materialized) -> None:
    snapshot: PeriodSnapshot = materialized["snapshot"]
    records = snapshot.all_records()
    assert len({r.worker_id for r in records}) > 1
    for key in (payroll_cost_snapshot.key, labor_cost_journals.key, posted_journals.key):
        metadata = materialized["metadata"][key]
        shown = set().union(*(numbers_shown(v) for v in metadata.values()))
        for record in records:
            # A worker's own gross and net are that person's pay; none is shown.
            personal = {record.gross_pay, record.net_pay} & shown
            assert not personal, f"{key.to_user_string()} shows {record.worker_id}'s {personal}"
        for name, value in metadata.items():
            if name in ("redactions",):  # which workers' fields were withheld: no amounts
                continue
            text = json.dumps(_plain(value), default=str)
            named = [r.worker_id for r in records if r.worker_id in text]
            assert not named, f"{key.to_user_string()} {name} names workers {named[:3]}"


def _plain(value: Any) -> Any:
    if isinstance(value, dg.TableMetadataValue):
        return [dict(r.data) for r in value.records]
    return value.value if isinstance(value, dg.MetadataValue) else value


def test_an_unknown_format_version_is_refused_by_name(materialized) -> None:
    root = materialized["root"]
    path = _stored(root, "rippling", "payroll_cost_snapshot")
    envelope = json.loads(path.read_text())
    envelope["version"] = 99
    path.write_text(json.dumps(envelope))
    path.chmod(0o600)
    result = dg.materialize(
        PAYROLL,
        selection=[labor_cost_journals.key],
        instance=materialized["instance"],
        resources=materialized["resources"],
        partition_key=materialized["result"].dagster_run.tags["dagster/partition"],
        raise_on_error=False,
    )
    assert not result.success
    failures = [str(e.event_specific_data.error) for e in result.get_step_failure_events()]
    text = " ".join(failures)
    assert str(path) in text and "version 99" in text and "re-materialize" in text


def test_without_a_key_nothing_is_stored_and_the_setting_is_named(env, monkeypatch) -> None:
    monkeypatch.delenv("ML_CONNECTOR_CREDENTIALS_KEY")
    monkeypatch.setenv("ML_CONNECTOR_CREDENTIALS_KEY_FILE", str(env["tmp"] / "no-such.key"))
    with dg.instance_for_test() as instance:
        result = materialize(instance, env["resources"], env["period"], COMPANY)
    assert not result.success
    failures = " ".join(str(e.event_specific_data.error) for e in result.get_step_failure_events())
    assert "ML_CONNECTOR_CREDENTIALS_KEY" in failures
    assert not list((env["tmp"] / "storage").rglob("*" + SUFFIX))


def test_rotate_key_re_encrypts_the_stored_values(materialized, monkeypatch) -> None:
    root = materialized["root"]
    old = storage_keyring().reveal()[0]
    path = _stored(root, "rippling", "payroll_cost_snapshot")
    run = CliRunner().invoke(
        main, ["credentials", "rotate-key", "--print-new-key", "--values-dir", str(root)]
    )
    assert run.exit_code == 0, run.output
    new, previous = run.stdout.strip().split(",")
    assert previous == old
    assert "re-encrypted" in run.stderr
    token = json.loads(path.read_text())["token"].encode()
    Fernet(new.encode()).decrypt(token)  # the new key alone opens every value
    with pytest.raises(InvalidToken):
        Fernet(old.encode()).decrypt(token)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    monkeypatch.setenv("ML_CONNECTOR_CREDENTIALS_KEY", new)
    values = SealedValues(root, storage_keyring(), CODEC)
    assert values.read(path) == materialized["snapshot"]


def test_check_metadata_carries_no_per_person_pay_at_the_summary_level(materialized) -> None:
    """The checks of the same run, warnings included: the period's off-cycle run pays a bonus
    far above one worker's regular gross, so ``plausible`` names that record and field, and
    shows neither its gross nor its net (nor any other record's)."""
    records = materialized["snapshot"].all_records()
    evaluations = materialized["result"].get_asset_check_evaluations()
    [plausible] = [c for c in evaluations if c.check_name == "plausible"]
    assert not plausible.passed
    warned = table_rows(plausible.metadata["details"])
    assert warned and all(row["subject"].startswith("record ") for row in warned)
    assert "gross_pay" in {row["item"] for row in warned}
    for check in evaluations:
        shown = set().union(*(numbers_shown(v) for v in check.metadata.values()))
        for record in records:
            personal = {record.gross_pay, record.net_pay} & shown
            assert not personal, f"{check.check_name} shows {record.worker_id}'s {personal}"


def test_history_reads_skip_an_unreadable_partition_and_name_it(materialized) -> None:
    """The plausibility history looks back only: a stored snapshot that cannot be read (tampered
    with, or sealed with a retired key) is named, not fatal to the journals of today."""
    from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager

    manager = PartitionFilesIOManager(base_dir=str(materialized["root"]))
    key = f"{COMPANY}|{materialized['period']}"
    found, unreadable = manager.load_partitions(
        payroll_cost_snapshot.key, [key, f"{COMPANY}|2026-01-15"]
    )
    assert list(found) == [key] and unreadable == []  # a partition never stored is just absent
    assert found[key].all_records() == materialized["snapshot"].all_records()
    path = _stored(materialized["root"], "rippling", "payroll_cost_snapshot")
    path.write_bytes(path.read_bytes()[:-8] + b"tampered")
    found, unreadable = manager.load_partitions(payroll_cost_snapshot.key, [key])
    assert found == {} and unreadable == [key]
