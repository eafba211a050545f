"""The IO manager behaves the same on every storage backend, and the shared ones are shared.

Each contract test runs on local files, a SQLite table and a PostgreSQL table: a value comes
back exactly, replacing it keeps one value, an unreadable one is named (not fatal) where only
history is wanted, an unknown format is refused by name, nothing is at rest in clear, and a
single-run output of several partitions is loaded partition by partition. Then what sharing
means: another process and another Dagster instance see what one stored, and a reader never
sees half of a value being replaced.
"""

import json
import os
import subprocess
import sys
import textwrap
import threading
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
from cryptography.fernet import Fernet

from ml_connector_dagster.defs.io_manager import CODEC, PartitionFilesIOManager
from ml_connector_dagster.defs.value_storage import value_backend
from ml_connector_dagster.storage.backend import MissingValue
from tests.processes import wait_for_exit
from tests.storage_support import BACKENDS, SHARED, Stored, stored_on

ASSET = dg.AssetKey(["rippling", "payroll_cost_snapshot"])
PATH = tuple(ASSET.path)
SECRET_WORKER = "wrk-confidential-4711"
SECRET_PAY = Decimal("98765.43")


@pytest.fixture(params=BACKENDS)
def stored(request, tmp_path: Path, monkeypatch, empty_database) -> Stored:
    with stored_on(request.param, tmp_path, monkeypatch, empty_database) as on:
        yield on


@pytest.fixture(params=SHARED)
def shared(request, tmp_path: Path, monkeypatch, empty_database) -> Stored:
    with stored_on(request.param, tmp_path, monkeypatch, empty_database) as on:
        yield on


def pay(worker: str, amount: Decimal) -> dict:
    return {"worker": worker, "gross": amount, "lines": [amount / 2, amount / 2]}


def test_a_value_comes_back_exactly_and_replacing_it_keeps_one(stored: Stored) -> None:
    manager = stored.manager()
    first = pay(SECRET_WORKER, Decimal("1200.10"))
    manager.store_value(ASSET, "USMF|2026-11-15", first)
    back = manager.load_value(ASSET, "USMF|2026-11-15")
    assert back == first and repr(back) == repr(first)  # 1200.10, not 1200.1
    second = pay(SECRET_WORKER, Decimal("1300.00"))
    manager.store_value(ASSET, "USMF|2026-11-15", second)
    assert manager.load_value(ASSET, "USMF|2026-11-15") == second
    assert stored.count() == 1
    manager.store_value(ASSET, None, first)  # the unpartitioned value is a value of its own
    assert manager.load_previous(ASSET) == first
    assert manager.load_value(ASSET, "USMF|2026-11-15") == second
    assert stored.count() == 2


def test_history_skips_missing_partitions_and_names_unreadable_ones(stored: Stored) -> None:
    manager = stored.manager()
    for key in ("USMF|2026-10-31", "USMF|2026-11-15"):
        manager.store_value(ASSET, key, pay(SECRET_WORKER, SECRET_PAY))
    raw = stored.raw(PATH, "USMF|2026-11-15")
    stored.overwrite(PATH, "USMF|2026-11-15", raw[:-12] + b'tampered"}\n')
    found, unreadable = manager.load_partitions(
        ASSET, ["USMF|2026-10-31", "USMF|2026-11-15", "USMF|2026-09-30"]
    )
    assert list(found) == ["USMF|2026-10-31"] and unreadable == ["USMF|2026-11-15"]
    assert manager.load_value(ASSET, "USMF|2026-11-15") is None  # the caller reads again
    assert manager.load_value(ASSET, "USMF|2026-09-30") is None
    with pytest.raises(MissingValue):
        value_backend(CODEC, stored.base_dir).load(PATH, "USMF|2026-09-30")


def test_an_unknown_format_version_is_refused_by_name(stored: Stored) -> None:
    manager = stored.manager()
    manager.store_value(ASSET, None, pay(SECRET_WORKER, SECRET_PAY))
    envelope = json.loads(stored.raw(PATH, None))
    envelope["version"] = 99
    stored.overwrite(PATH, None, json.dumps(envelope).encode())
    with pytest.raises(dg.Failure) as failure:
        manager.load_previous(ASSET)
    text = failure.value.description
    assert "version 99" in text and "re-materialize" in text
    assert "rippling/payroll_cost_snapshot" in text or "payroll_cost_snapshot" in text


def test_nothing_is_at_rest_in_clear(stored: Stored) -> None:
    stored.manager().store_value(ASSET, "USMF|2026-11-15", pay(SECRET_WORKER, SECRET_PAY))
    raw = stored.raw(PATH, "USMF|2026-11-15")
    assert set(json.loads(raw)) == {"format", "version", "token"}
    for clear in (SECRET_WORKER, str(SECRET_PAY), "98765", "gross"):
        assert clear.encode() not in raw


def test_without_a_key_nothing_is_stored_and_the_setting_is_named(
    stored: Stored, monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ML_CONNECTOR_CREDENTIALS_KEY")
    monkeypatch.setenv("ML_CONNECTOR_CREDENTIALS_KEY_FILE", str(tmp_path / "no-such.key"))
    with pytest.raises(dg.Failure) as failure:
        stored.manager().store_value(ASSET, None, pay(SECRET_WORKER, SECRET_PAY))
    assert "ML_CONNECTOR_CREDENTIALS_KEY" in failure.value.description
    assert stored.count() == 0


# --- a single-run output of several partitions, loaded downstream ----------------------------
LETTERS = dg.StaticPartitionsDefinition(["a", "b", "c"])


@dg.asset(partitions_def=LETTERS, backfill_policy=dg.BackfillPolicy.single_run())
def amounts(context: dg.AssetExecutionContext) -> dict:
    return {key: Decimal(f"{ord(key)}.05") for key in context.partition_keys}


@dg.asset(partitions_def=LETTERS, backfill_policy=dg.BackfillPolicy.single_run())
def doubled(context: dg.AssetExecutionContext, amounts: dict) -> dict:
    assert sorted(amounts) == sorted(context.partition_keys)  # exactly the run's partitions
    return {key: amounts[key] * 2 for key in context.partition_keys}


def _run(
    instance: dg.DagsterInstance, selection: list, start: str, end: str, base_dir: str = ""
) -> dg.ExecuteInProcessResult:
    """A single run of ``selection`` over the partitions ``start``..``end``, as a backfill."""
    job = dg.define_asset_job("letters", selection=selection, partitions_def=LETTERS)
    manager = PartitionFilesIOManager(base_dir=base_dir)
    defs = dg.Definitions(assets=[amounts, doubled], jobs=[job], resources={"io_manager": manager})
    return defs.resolve_job_def("letters").execute_in_process(
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": start,
            "dagster/asset_partition_range_end": end,
        },
        raise_on_error=False,
    )


def test_a_run_of_several_partitions_stores_each_and_loads_them_downstream(
    stored: Stored,
) -> None:
    with dg.instance_for_test() as instance:
        result = _run(instance, [amounts, doubled], "a", "b", stored.base_dir)
        assert result.success
        manager = stored.manager()
        assert manager.load_value(amounts.key, "a") == Decimal("97.05")
        assert manager.load_value(doubled.key, "b") == Decimal("196.10")
        assert manager.load_value(amounts.key, "c") is None
        missing = _run(instance, [doubled], "b", "c", stored.base_dir)  # c never stored
    assert not missing.success
    errors = " ".join(str(e.event_specific_data.error) for e in missing.get_step_failure_events())
    assert "amounts has not been materialized for c" in errors


def test_a_value_one_instance_stored_is_read_by_another(shared: Stored) -> None:
    """Two Dagster instances, each with its own DAGSTER_HOME (two containers, as a run
    launcher starts them), share the values through the database alone."""
    with dg.instance_for_test() as one:
        assert _run(one, [amounts], "a", "c").success
    with dg.instance_for_test() as two:
        assert _run(two, [doubled], "a", "c").success
    assert shared.manager().load_value(doubled.key, "c") == Decimal("198.10")


def test_local_files_are_not_shared_between_two_homes(monkeypatch) -> None:
    """Why the database exists: the default files live under each DAGSTER_HOME."""
    monkeypatch.delenv("ML_CONNECTOR_STORAGE_URL", raising=False)
    monkeypatch.setenv("ML_CONNECTOR_CREDENTIALS_KEY", Fernet.generate_key().decode())
    with dg.instance_for_test() as one:
        assert _run(one, [amounts], "a", "a").success
    with dg.instance_for_test() as two:
        missing = _run(two, [doubled], "a", "a")
    assert not missing.success


# --- across processes ------------------------------------------------------------------------
CHILD = textwrap.dedent(
    """
    import json, sys
    from decimal import Decimal
    import dagster as dg
    from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager
    manager = PartitionFilesIOManager(base_dir=sys.argv[1])
    asset = dg.AssetKey(["rippling", "payroll_cost_snapshot"])
    manager.store_value(asset, "from-child", {"gross": Decimal("4242.42")})
    print("stored", flush=True)
    sys.stdin.readline()
    print(json.dumps(str(manager.load_value(asset, "from-parent")["gross"])), flush=True)
    """
)


def test_two_processes_see_each_others_values(stored: Stored) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, stored.base_dir],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "stored"
        manager = stored.manager()
        assert manager.load_value(ASSET, "from-child") == {"gross": Decimal("4242.42")}
        manager.store_value(ASSET, "from-parent", {"gross": Decimal("17.50")})
        child.stdin.write("go\n")
        child.stdin.flush()
        assert json.loads(child.stdout.readline()) == "17.50"
        assert wait_for_exit(child, 30) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_a_reader_never_sees_half_of_a_value_being_replaced(stored: Stored) -> None:
    manager = stored.manager()
    backend = value_backend(CODEC, stored.base_dir)
    big = {
        "old": [Decimal(f"{n}.01") for n in range(3000)],
        "new": [Decimal(f"{n}.99") for n in range(3000)],
    }
    manager.store_value(ASSET, "p", big["old"])
    seen: list[str] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                value = backend.load(PATH, "p")
            except BaseException as exc:  # any error is the failure reported
                errors.append(exc)
                return
            seen.append(next(name for name, v in big.items() if v == value))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(20):
            manager.store_value(ASSET, "p", big["new" if n % 2 == 0 else "old"])
    finally:
        stop.set()
        reader.join(60)
    assert errors == []  # StopIteration here would be a value that is neither
    assert seen and set(seen) <= {"old", "new"}
    assert stored.count() == 1


def test_rotate_key_re_encrypts_the_rows_and_names_what_it_cannot(
    shared: Stored, monkeypatch
) -> None:
    """``rotate-key``'s half for a database: every row under the new key, a row the ring
    cannot open listed and left as it was."""
    from cryptography.fernet import InvalidToken

    from ml_connector_dagster.credentials.keys import KeyRing
    from ml_connector_dagster.defs.value_storage import reencrypt_database_values

    old = os.environ["ML_CONNECTOR_CREDENTIALS_KEY"]
    manager = shared.manager()
    manager.store_value(ASSET, "kept", pay(SECRET_WORKER, SECRET_PAY))
    manager.store_value(ASSET, "foreign", pay(SECRET_WORKER, SECRET_PAY))
    foreign = Fernet(Fernet.generate_key()).encrypt(b"{}").decode()
    envelope = json.loads(shared.raw(PATH, "foreign"))
    shared.overwrite(PATH, "foreign", json.dumps({**envelope, "token": foreign}).encode())
    new = Fernet.generate_key()
    ring = KeyRing([new, old.encode()], source="test")
    done, skipped = reencrypt_database_values(CODEC, ring)
    assert done == 1 and skipped == ["rippling/payroll_cost_snapshot [foreign]"]
    token = json.loads(shared.raw(PATH, "kept"))["token"].encode()
    Fernet(new).decrypt(token)  # the new key alone opens it
    with pytest.raises(InvalidToken):
        Fernet(old.encode()).decrypt(token)
    monkeypatch.setenv("ML_CONNECTOR_CREDENTIALS_KEY", new.decode())
    assert manager.load_value(ASSET, "kept") == pay(SECRET_WORKER, SECRET_PAY)


HOLDER = textwrap.dedent(
    """
    import sys
    import dagster as dg
    from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager
    manager = PartitionFilesIOManager(base_dir=sys.argv[1])
    with manager.exclusive(dg.AssetKey(["rippling", "workforce_snapshot"])):
        print("holding", flush=True)
        sys.stdin.readline()
    print("released", flush=True)
    """
)


def test_the_shared_read_lock_excludes_another_process_until_it_lets_go(stored: Stored) -> None:
    """Another process's ``exclusive`` on the same asset holds this one off (on PostgreSQL an
    advisory lock: every container sharing the database), and another asset's does not."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, stored.base_dir],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    manager = stored.manager()
    taken = threading.Event()

    def take() -> None:
        with manager.exclusive(dg.AssetKey(["rippling", "workforce_snapshot"])):
            taken.set()

    waiter = threading.Thread(target=take)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with manager.exclusive(dg.AssetKey(["dynamics", "reference_read"])):
            pass  # another asset's lock is free meanwhile
        waiter.start()
        assert not taken.wait(0.5)  # held by the other process: this one waits
        holder.stdin.write("done\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "released"
        assert taken.wait(20)  # and takes it once the other lets go
        assert wait_for_exit(holder, 30) == 0
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        waiter.join(20)
