"""Rippling time splits and time entries turned into job shares (``payroll/time_sources.py``)."""

from decimal import Decimal

import pytest

from ml_connector_dagster.payroll.time_sources import (
    TimeDataError,
    enabled_split_shares,
    entry_hours,
)
from ml_connector_dagster.rippling.models import TimeEntry, WorkerTimeSplit

KEYS = {"jc_1": "ENG"}  # jc_2 has no external id: it is shown by its id


def _split(split_id: str, worker: str, enabled: bool, rows: list[tuple[str, list[str]]]):
    return WorkerTimeSplit.model_validate(
        {
            "id": split_id,
            "worker_id": worker,
            "is_enabled": enabled,
            "splits": [{"split_percentage": p, "job_code_ids": c} for p, c in rows],
        }
    )


def _entry(entry_id: str, worker: str, status: str, shifts: list[tuple[str, str, list[str]]]):
    return TimeEntry.model_validate(
        {
            "id": entry_id,
            "worker_id": worker,
            "status": status,
            "job_shifts": [
                {"start_time": s, "end_time": e, "job_codes_id": c} for s, e, c in shifts
            ],
        }
    )


def test_enabled_splits_become_shares_and_disabled_ones_nothing() -> None:
    shares = enabled_split_shares(
        [
            _split("s1", "w1", True, [("33.33", ["jc_2"]), ("66.67", ["jc_1"])]),
            _split("s2", "w2", False, []),
        ],
        KEYS,
    )
    assert set(shares) == {"w1"}
    assert [(s.job_codes, s.weight, s.tie_key) for s in shares["w1"]] == [
        (("ENG",), Decimal("66.67"), ("jc_1",)),
        (("jc_2",), Decimal("33.33"), ("jc_2",)),
    ]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("60.00", ["jc_1"]), ("30.00", ["jc_2"])], "sum to 90.00, not 100.00"),
        ([("abc", ["jc_1"])], r"s1: splits\[0\].split_percentage is not a number"),
        ([("0", ["jc_1"]), ("100.00", ["jc_2"])], "must be above zero"),
        ([("100.00", [])], "has no job code"),
    ],
)
def test_a_bad_enabled_split_is_refused_naming_it(rows, message) -> None:
    with pytest.raises(TimeDataError, match=message):
        enabled_split_shares([_split("s1", "w1", True, rows)], KEYS)


def test_hours_are_the_shifts_lengths_summed_per_job_code_without_drafts() -> None:
    day = "2026-11-02T"
    hours = entry_hours(
        [
            _entry("e1", "w1", "PAID", [(day + "08:00:00Z", day + "12:30:00Z", ["jc_1"])]),
            _entry(
                "e2",
                "w1",
                "APPROVED",
                [
                    (day + "13:00:00+00:00", day + "15:00:00+00:00", ["jc_2"]),
                    (day + "15:00:00+00:00", day + "16:15:00+00:00", ["jc_1"]),
                ],
            ),
            _entry("e3", "w1", "DRAFT", [(day + "08:00:00Z", day + "18:00:00Z", ["jc_2"])]),
            _entry("e4", "w2", "DRAFT", [(day + "08:00:00Z", day + "18:00:00Z", ["jc_2"])]),
        ],
        KEYS,
    )
    assert set(hours) == {"w1"}  # w2 logged drafts only
    assert {s.job_codes: s.weight for s in hours["w1"]} == {("ENG",): 5.75, ("jc_2",): 2}


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2026-11-02T10:00:00Z", "2026-11-02T09:00:00Z", "ends before it starts"),
        ("yesterday", "2026-11-02T09:00:00Z", "is not a timestamp"),
        (None, "2026-11-02T09:00:00Z", "has no start_time"),
    ],
)
def test_a_bad_shift_is_refused_naming_entry_and_shift(start, end, message) -> None:
    entry = _entry("e9", "w1", "PAID", [("2026-11-02T08:00:00Z", "2026-11-02T09:00:00Z", [])])
    broken = entry.model_copy(
        update={
            "job_shifts": (
                entry.job_shifts[0].model_copy(update={"start_time": start, "end_time": end}),
            )
        }
    )
    with pytest.raises(TimeDataError, match=r"time entry e9: job_shifts\[0\]"):
        entry_hours([broken], KEYS)
    with pytest.raises(TimeDataError, match=message):
        entry_hours([broken], KEYS)
