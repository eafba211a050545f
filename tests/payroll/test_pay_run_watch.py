"""The pay-run sensor's rules without Dagster: sync-from, run keys, digests, its cursor."""

import datetime as dt

from ledger_factories import mapping, rippling_record

from ml_connector_dagster.payroll.pay_run_watch import (
    REQUESTED_KEPT,
    WatchState,
    choose_sync_from,
    new_requests,
    records_digest,
    run_key,
)
from ml_connector_dagster.rippling.models import PayrollRun

M = mapping()


def _run(run_id: str, period: str, state: str = "PAID", entity: str = "cle_us") -> PayrollRun:
    end = dt.date.fromisoformat(period)
    return PayrollRun.model_validate(
        {
            "id": run_id,
            "run_state": state,
            "check_date": (end + dt.timedelta(days=5)).isoformat(),
            "company_entity_id": entity,
            "pay_period": {
                "start_date": (end - dt.timedelta(days=13)).isoformat(),
                "end_date": period,
            },
        }
    )


class Digests:
    """``digest_of`` as the sensor passes it, counting how often Rippling would be read."""

    def __init__(self, values: dict[str, str] | None = None) -> None:
        self.values = values or {}
        self.asked: list[str] = []

    def __call__(self, run_id: str) -> str:
        self.asked.append(run_id)
        return self.values.get(run_id, f"digest-{run_id}")


def test_sync_from_is_the_cursors_then_the_setting_then_the_newest_settled_period() -> None:
    runs = [
        _run("r1", "2026-10-31", "PAID"),
        _run("r2", "2026-11-14", "CLOSED"),
        _run("r3", "2026-11-28", "APPROVED"),  # not settled: not a start
    ]
    assert choose_sync_from("2026-01-15", "2026-10-31", runs) == "2026-01-15"
    assert choose_sync_from(None, "2026-10-31", runs) == "2026-10-31"
    assert choose_sync_from(None, None, runs) == "2026-11-14"
    assert choose_sync_from(None, None, [_run("r4", "2026-11-28", "DRAFT")]) is None


def test_one_request_per_partition_then_none_while_nothing_changes() -> None:
    runs = [
        _run("r2", "2026-11-14"),
        _run("r1", "2026-11-14"),
        _run("r3", "2026-11-28"),
        _run("r4", "2026-10-31"),  # before sync-from
        _run("r5", "2026-11-28", entity="cle_unknown"),  # not in the mapping
    ]
    digests = Digests()
    found, state = new_requests(runs, M, WatchState(), since="2026-11-14", digest_of=digests)
    assert [(f.pay_period, f.company) for f in found] == [
        ("2026-11-14", "USMF"),
        ("2026-11-28", "USMF"),
    ]
    assert found[0].run_key.startswith("2026-11-14:USMF:r1+r2:")  # runs named by id, sorted
    assert sorted(digests.asked) == ["r1", "r2", "r3"]
    assert state.requested == tuple(f.run_key for f in found)

    again, state2 = new_requests(runs, M, state, since="2026-11-14", digest_of=digests)
    assert again == []
    assert len(digests.asked) == 3  # a (run, state) is digested once
    assert state2 == state


def test_corrected_records_or_a_new_state_get_a_new_run_key() -> None:
    runs = [_run("r1", "2026-11-14")]
    first, state = new_requests(runs, M, WatchState(), since="2026-11-14", digest_of=Digests())
    # The digest is remembered per (run, state): a new state reads the records again, and
    # records that changed with it give the partition a new key.
    closed = [_run("r1", "2026-11-14", "CLOSED")]
    changed = Digests({"r1": "other"})
    second, state = new_requests(closed, M, state, since="2026-11-14", digest_of=changed)
    assert changed.asked == ["r1"]
    assert len(second) == 1 and second[0].run_key != first[0].run_key
    assert second[0].run_key.startswith("2026-11-14:USMF:r1:")


def test_the_run_key_hashes_ids_states_and_digests() -> None:
    group = [_run("r1", "2026-11-14"), _run("r2", "2026-11-14")]
    digests = {"r1:PAID": "a", "r2:PAID": "b"}
    key = run_key("2026-11-14", "USMF", group, digests)
    assert key.rsplit(":", 1)[0] == "2026-11-14:USMF:r1+r2"
    assert key == run_key("2026-11-14", "USMF", group, dict(digests))
    assert key != run_key("2026-11-14", "USMF", group, {**digests, "r2:PAID": "c"})


def test_the_records_digest_ignores_redaction_notes_but_not_amounts() -> None:
    record = rippling_record("rec_1", "wkr_1", [("SALARY", "1000.00")], ee_taxes=["100.00"])
    noted = record.model_copy(update={"redacted": ("compensation",)})
    raised = rippling_record("rec_1", "wkr_1", [("SALARY", "1000.01")], ee_taxes=["100.00"])
    assert records_digest([record]) == records_digest([noted])
    assert records_digest([record]) != records_digest([raised])
    assert len(records_digest([])) == 16


def test_the_cursor_round_trips_and_keeps_the_newest_run_keys() -> None:
    keys = tuple(f"k{i}" for i in range(REQUESTED_KEPT + 10))
    state = WatchState(
        sync_from="2026-11-14", digests={"r1:PAID": "d"}, requested=keys, retries={"seen": {}}
    )
    back = WatchState.from_cursor(state.to_cursor())
    assert back.sync_from == "2026-11-14" and back.digests == {"r1:PAID": "d"}
    assert back.requested == keys[-REQUESTED_KEPT:]
    assert back.retries == {"seen": {}}
    assert WatchState.from_cursor(None) == WatchState()


def test_a_cursor_written_before_the_move_still_reads() -> None:
    """The JSON the sensor wrote when these rules lived in its body: same keys, same meaning."""
    old = (
        '{"sync_from": "2026-11-14", "digests": {"r1:PAID": "d"}, "requested": ["k1"],'
        ' "retries": {"mapping_hash": "h", "seen": {}}}'
    )
    state = WatchState.from_cursor(old)
    assert state == WatchState(
        "2026-11-14", {"r1:PAID": "d"}, ("k1",), {"mapping_hash": "h", "seen": {}}
    )
