"""Fault switches: parsing, determinism from the seed, nth and share, bounds."""

from pathlib import Path

import pytest

from ml_connector_dagster.sandbox.faults import (
    FaultBoard,
    FaultConfigError,
    FaultRule,
    load_fault_file,
    parse_fault_flag,
)


def test_flag_parses_service_kind_and_typed_options() -> None:
    service, rule = parse_fault_flag(
        "dynamics:throttle:share=0.25,retry_after=3,path_prefix=/data/$batch"
    )
    assert service == "dynamics"
    assert rule.kind == "throttle"
    assert rule.share == 0.25
    assert rule.retry_after == 3
    assert rule.path_prefix == "/data/$batch"


@pytest.mark.parametrize(
    "flag, message",
    [
        ("nowhere:throttle:share=1", "unknown service"),
        ("rippling:explode:share=1", "unknown fault kind"),
        ("rippling:throttle", "give share"),
        ("rippling:throttle:share=2", "within 0..1"),
        ("rippling:server_error:nth=1,status=404", "must be 5xx"),
        ("rippling:throttle:bogus=1", "unknown fault option"),
        ("rippling:throttle:share", "needs key=value"),
    ],
)
def test_bad_flags_say_what_is_wrong(flag: str, message: str) -> None:
    with pytest.raises(FaultConfigError, match=message):
        parse_fault_flag(flag)


def test_nth_fires_exactly_once_on_that_request() -> None:
    board = FaultBoard()
    board.set("rippling", [FaultRule(kind="server_error", nth=3)])
    fired = [bool(board.decide("rippling", "/workers/")) for _ in range(6)]
    assert fired == [False, False, True, False, False, False]


def test_path_prefix_counts_only_matching_requests() -> None:
    board = FaultBoard()
    board.set("dynamics", [FaultRule(kind="throttle", nth=2, path_prefix="/data/$batch")])
    assert not board.decide("dynamics", "/data/$batch")
    assert not board.decide("dynamics", "/data/LedgerJournalHeaders")
    assert board.decide("dynamics", "/data/$batch")


def test_share_is_reproducible_from_the_seed_and_bounded_by_times() -> None:
    def pattern(seed: int) -> list[bool]:
        board = FaultBoard()
        board.set("dynamics", [FaultRule(kind="throttle", share=0.3)], seed=seed)
        return [bool(board.decide("dynamics", "/data/x")) for _ in range(200)]

    assert pattern(7) == pattern(7)
    assert pattern(7) != pattern(8)
    assert 30 <= sum(pattern(7)) <= 90  # about 30% of 200

    board = FaultBoard()
    board.set("dynamics", [FaultRule(kind="throttle", share=1.0, times=2)])
    assert [bool(board.decide("dynamics", "/")) for _ in range(4)] == [True, True, False, False]


def test_fault_file_loads_all_services_and_rejects_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "faults.yaml"
    path.write_text(
        "seed: 3\n"
        "rippling:\n  - {kind: throttle, share: 1.0}\n"
        "dynamics:\n  - {kind: latency, nth: 1, latency_ms: 5}\n"
    )
    board = FaultBoard()
    board.load(load_fault_file(path))
    assert board.describe("rippling")["rules"][0]["kind"] == "throttle"
    assert board.describe("dynamics")["seed"] == 3
    assert board.describe("entra")["rules"] == []
    with pytest.raises(FaultConfigError, match="unknown key"):
        board.load({"ripling": []})
    with pytest.raises(FaultConfigError, match="dynamics rule 1"):
        board.load({"dynamics": [{"kind": "throttle"}]})
