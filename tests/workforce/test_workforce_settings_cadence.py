"""Settings, the poll cadence tied to the payroll calendar, and headcount (all pure)."""

import datetime as dt

import pytest
from ledger_factories import MAPPING_YAML

from ml_connector_dagster.config.mapping import MappingError, parse_mapping
from ml_connector_dagster.config.workforce import WorkforceSettings
from ml_connector_dagster.rippling.models import PayrollRun
from ml_connector_dagster.workforce.cadence import (
    NO_CALENDAR_INTERVAL,
    CadenceSettings,
    next_poll_interval,
    no_calendar_decision,
    poll_decision,
)
from ml_connector_dagster.workforce.current import state_from_rows
from ml_connector_dagster.workforce.desired import build_desired
from ml_connector_dagster.workforce.headcount import headcount_differences

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
MIN, MAX = dt.timedelta(minutes=5), dt.timedelta(hours=6)


def run(run_id: str, deadline: dt.datetime | None, state: str = "DRAFT", check=None) -> PayrollRun:
    return PayrollRun.model_validate(
        {
            "id": run_id,
            "run_state": state,
            "approval_deadline": deadline.isoformat() if deadline else None,
            "check_date": check.isoformat() if check else None,
        }
    )


def test_settings_defaults_and_document_section() -> None:
    assert WorkforceSettings().personnel_number(1001) == "RP-1001"
    assert WorkforceSettings().vendor_account("RP-1001", 1001) == "RP-1001"
    settings = parse_mapping(MAPPING_YAML + "workforce:\n  vendor_group: FREELANCE\n").workforce
    assert settings.vendor_group == "FREELANCE"
    assert parse_mapping(MAPPING_YAML).workforce == WorkforceSettings()


@pytest.mark.parametrize(
    "line,key",
    [
        ('  vendor_group: ""', "workforce.vendor_group"),
        ("  unknown_key: 1", "workforce.unknown_key"),
        ('  vendor_account_template: "{secret}"', "workforce.vendor_account_template"),
    ],
)
def test_invalid_settings_name_the_line_and_key(line: str, key: str) -> None:
    text = MAPPING_YAML + f"workforce:\n{line}\n"
    number = text.splitlines().index(line) + 1
    with pytest.raises(MappingError, match=rf"m.yaml:{number}: {key}"):
        parse_mapping(text, source="m.yaml")


def test_frequent_inside_the_window_before_an_approval_deadline() -> None:
    runs = [run("r1", NOW + dt.timedelta(days=2))]
    assert next_poll_interval(runs, NOW) == MIN


def test_sparse_far_from_any_deadline() -> None:
    runs = [run("r1", NOW + dt.timedelta(days=12))]
    assert next_poll_interval(runs, NOW) == MAX


def test_never_sleeps_past_the_opening_of_the_next_window() -> None:
    runs = [run("r1", NOW + dt.timedelta(days=3, hours=2))]
    assert next_poll_interval(runs, NOW) == dt.timedelta(hours=2)
    runs = [run("r1", NOW + dt.timedelta(days=3, minutes=1))]
    assert next_poll_interval(runs, NOW) == MIN  # bounded below


def test_settled_and_past_runs_do_not_count() -> None:
    runs = [
        run("paid", NOW + dt.timedelta(days=1), state="PAID"),
        run("approved", NOW + dt.timedelta(days=1), state="APPROVED"),
        run("past", NOW - dt.timedelta(days=1)),
    ]
    decision = poll_decision(runs, NOW)
    assert decision.interval == MAX and decision.run_id is None


def test_check_date_stands_in_for_a_missing_deadline_and_bounds_are_configurable() -> None:
    settings = CadenceSettings(
        min_interval=dt.timedelta(minutes=1),
        max_interval=dt.timedelta(hours=1),
        frequent_window=dt.timedelta(days=1),
    )
    runs = [run("r1", None, check=dt.date(2026, 11, 21))]
    assert next_poll_interval(runs, NOW, settings) == dt.timedelta(minutes=1)
    assert next_poll_interval([], NOW, settings) == dt.timedelta(hours=1)
    with pytest.raises(ValueError):
        CadenceSettings(min_interval=dt.timedelta(hours=2), max_interval=dt.timedelta(hours=1))


def test_headcount_lists_who_differs_per_company() -> None:
    from workforce.test_workforce_plan import MAPPING, employment, worker

    workers = [
        worker("w1", 1001),
        worker("w2", 1002, user_id="u2"),
        worker("w3", 1003, user_id="u3", status="TERMINATED", end="2026-11-01"),
        worker("w4", 1004, user_id="u4", legal_entity="le_gb"),
    ]
    desired = build_desired(workers, MAPPING, WorkforceSettings())
    current = state_from_rows(
        [],
        [
            employment("RP-1001"),
            employment("RP-1003"),  # still open in Dynamics: termination not synced
            employment("RP-1004", company="GBSI"),
            employment("RP-0999", company="GBSI", end="2026-06-30T00:00:00Z"),  # left
        ],
        [],
        complete=True,
    )
    rows = headcount_differences(
        desired, current, as_of=dt.date(2026, 11, 20), companies=("USMF", "GBSI")
    )
    usmf, gbsi = rows
    assert (usmf.rippling, usmf.dynamics) == (2, 2)
    assert usmf.only_in_rippling == ("RP-1002",)
    assert usmf.only_in_dynamics == ("RP-1003",)
    assert gbsi.matches and (gbsi.rippling, gbsi.dynamics) == (1, 1)


def test_without_the_payroll_calendar_the_interval_is_fixed_and_says_why() -> None:
    decision = no_calendar_decision("no Global_Payroll")
    assert decision.interval == NO_CALENDAR_INTERVAL == dt.timedelta(hours=1)
    assert decision.calendar_unreadable and "no Global_Payroll" in decision.reason
    defaults = CadenceSettings()
    assert defaults.min_interval <= NO_CALENDAR_INTERVAL <= defaults.max_interval
