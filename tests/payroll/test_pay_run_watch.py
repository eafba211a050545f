"""The pay-run sensor's rules without Dagster: sync-from, run keys, digests, its cursor."""

from ledger_factories import mapping, period_run

from ml_connector_dagster.payroll.pay_run_watch import (
    REQUESTED_KEPT,
    WatchState,
    choose_sync_from,
    new_requests,
    run_key,
)

M = mapping()


_run = period_run  # (run id, period, state, company entity)


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
    found, state = new_requests(runs, M, WatchState(), since="2026-11-14")
    assert [(f.pay_period, f.company) for f in found] == [
        ("2026-11-14", "USMF"),
        ("2026-11-28", "USMF"),
    ]
    assert found[0].run_key.startswith("2026-11-14:USMF:r1+r2:")  # runs named by id, sorted
    assert state.requested == tuple(f.run_key for f in found)

    again, state2 = new_requests(runs, M, state, since="2026-11-14")
    assert again == []
    assert state2 == state


def test_a_new_state_gets_a_new_run_key_and_the_same_state_back_does_not() -> None:
    runs = [_run("r1", "2026-11-14")]
    first, state = new_requests(runs, M, WatchState(), since="2026-11-14")
    closed = [_run("r1", "2026-11-14", "CLOSED")]
    second, state = new_requests(closed, M, state, since="2026-11-14")
    assert len(second) == 1 and second[0].run_key != first[0].run_key
    assert second[0].run_key.startswith("2026-11-14:USMF:r1:")
    third, _ = new_requests(runs, M, state, since="2026-11-14")  # PAID again: requested before
    assert third == []


def test_the_run_key_hashes_ids_and_states() -> None:
    group = [_run("r1", "2026-11-14"), _run("r2", "2026-11-14")]
    key = run_key("2026-11-14", "USMF", group, {})
    assert key.rsplit(":", 1)[0] == "2026-11-14:USMF:r1+r2"
    assert key == run_key("2026-11-14", "USMF", list(group), {})
    other_state = [group[0], _run("r2", "2026-11-14", "CLOSED")]
    assert key != run_key("2026-11-14", "USMF", other_state, {})
    other_run = [group[0], _run("r9", "2026-11-14")]
    assert key != run_key("2026-11-14", "USMF", other_run, {})


def test_digests_remembered_by_an_earlier_release_keep_their_keys() -> None:
    """A cursor written when the sensor hashed records: its (run, state) keep the key they had,
    so the upgrade asks for no partition again; a new (run, state) needs no digest."""
    runs = [_run("r1", "2026-11-14"), _run("r2", "2026-11-28")]
    remembered = {"r1:PAID": "d41d8cd98f00b204"}
    old_key = run_key("2026-11-14", "USMF", [runs[0]], remembered)
    assert old_key != run_key("2026-11-14", "USMF", [runs[0]], {})
    state = WatchState(sync_from="2026-11-14", digests=remembered, requested=(old_key,))
    found, after = new_requests(runs, M, state, since="2026-11-14")
    assert [(f.pay_period, f.run_key) for f in found] == [
        ("2026-11-28", run_key("2026-11-28", "USMF", [runs[1]], {}))
    ]
    assert after.digests == remembered


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
