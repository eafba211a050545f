"""When a sensor's run may take another run's read of the payroll runs list: only a fresh read
that shows exactly the runs and states the sensor saw for its partition (issue 12)."""

import datetime as dt

import pytest
from ledger_factories import mapping, period_run

from ml_connector_dagster.payroll.pay_run_watch import WatchState, new_requests
from ml_connector_dagster.payroll.runs_seen import (
    RUNS_LIST_MAX_AGE,
    RunsListRead,
    parse_runs_seen,
    runs_seen_tag,
)
from ml_connector_dagster.rippling.models import PayrollRun

M = mapping()
PERIOD = "2026-11-14"
NOON = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def _run(run_id: str, state: str = "PAID", period: str = PERIOD, entity: str = "cle_us"):
    return period_run(run_id, period, state, entity)


def test_the_sensors_request_names_its_partitions_runs_and_states() -> None:
    runs = [_run("r2"), _run("r1"), _run("r3", "APPROVED"), _run("r4", period="2026-11-28")]
    found, _ = new_requests(runs, M, WatchState(), since=PERIOD)
    by_period = {f.pay_period: f.runs_seen for f in found}
    # r3 is not in a trigger state: not a run the partition posts, so not named
    assert by_period == {PERIOD: "r1:PAID+r2:PAID", "2026-11-28": "r4:PAID"}
    assert parse_runs_seen(by_period[PERIOD]) == {("r1", "PAID"), ("r2", "PAID")}


@pytest.mark.parametrize("text", [None, "", "r1", "r1:", ":PAID", "r1:PAID+", "r1:PAID++r2:PAID"])
def test_a_tag_not_in_the_form_names_nothing(text) -> None:
    assert parse_runs_seen(text) is None


def test_run_ids_with_colons_keep_them() -> None:
    assert parse_runs_seen(runs_seen_tag([_run("a:b")])) == {("a:b", "PAID")}


def _read(*runs: PayrollRun, at: dt.datetime = NOON) -> RunsListRead:
    return RunsListRead(at, list(runs))


def test_a_fresh_read_showing_what_the_sensor_saw_stands_for_it() -> None:
    read = _read(_run("r1"), _run("r2"), _run("r9", "DRAFT"), _run("r4", period="2026-11-28"))
    seen = parse_runs_seen("r1:PAID+r2:PAID")
    assert read.shows(seen, M, PERIOD, "USMF", NOON + RUNS_LIST_MAX_AGE)


@pytest.mark.parametrize(
    ("runs", "why"),
    [
        ([_run("r1"), _run("r2", "APPROVED")], "r2 was not paid yet when the list was read"),
        ([_run("r1")], "r2 is not in the list at all"),
        ([_run("r1"), _run("r2"), _run("r3")], "r3 was paid after the sensor looked"),
        ([_run("r1"), _run("r2", "CLOSED")], "r2 moved on to another trigger state"),
    ],
)
def test_a_read_that_differs_from_the_sensors_view_does_not(runs, why) -> None:
    seen = parse_runs_seen("r1:PAID+r2:PAID")
    assert not _read(*runs).shows(seen, M, PERIOD, "USMF", NOON), why


def test_a_stale_or_future_read_or_no_tag_does_not() -> None:
    read = _read(_run("r1"))
    seen = parse_runs_seen("r1:PAID")
    assert read.shows(seen, M, PERIOD, "USMF", NOON)
    assert not read.shows(seen, M, PERIOD, "USMF", NOON + RUNS_LIST_MAX_AGE + dt.timedelta(1))
    assert not read.shows(seen, M, PERIOD, "USMF", NOON - dt.timedelta(seconds=1))
    assert not read.shows(None, M, PERIOD, "USMF", NOON)  # a UI, backfill or retry run
    assert not read.shows(seen, M, PERIOD, "OTHER", NOON)  # another partition's runs
