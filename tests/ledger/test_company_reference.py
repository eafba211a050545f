"""Reference rows resolved per legal entity and date: the pre-check's view of F&O."""

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from ml_connector_dagster.ledger.company_reference import (
    dimension_values_for,
    main_accounts_for,
    state_on,
)

NO_DATE = "1900-01-01T00:00:00Z"


def value(company: str = "", suspended: str = "No", start: str = NO_DATE, end: str = NO_DATE):
    return {
        "FinancialDimension": "Department",
        "DimensionValue": "022",
        "LegalEntityId": company,
        "IsSuspended": suspended,
        "ActiveFrom": start,
        "ActiveTo": end,
    }


def override(company: str, suspended: str = "No", start: str = NO_DATE, end: str = NO_DATE):
    row = value(company, suspended, start, end)
    return row


KEY = ("Department", "022")
DAY = dt.date(2026, 11, 15)


def test_a_shared_value_governs_every_company() -> None:
    for company in ("USMF", "DEMF"):
        resolved = dimension_values_for([value()], [], company)
        assert state_on(resolved[KEY], DAY) is None


def test_the_companys_own_row_wins_over_the_shared_one_in_either_order() -> None:
    rows = [value(), value("usmf", suspended="Yes")]
    for ordered in (rows, rows[::-1]):
        assert state_on(dimension_values_for(ordered, [], "USMF")[KEY], DAY) == "suspended"
        assert state_on(dimension_values_for(ordered, [], "DEMF")[KEY], DAY) is None


def test_another_companys_row_is_not_visible() -> None:
    assert dimension_values_for([value("demf")], [], "USMF") == {}


def test_an_override_suspends_the_shared_value_for_its_company_only() -> None:
    overrides = [override("usmf", suspended="Yes")]
    usmf = dimension_values_for([value()], overrides, "USMF")[KEY]
    assert state_on(usmf, DAY) == "suspended"
    assert usmf["overridden_for"] == "USMF"
    assert state_on(dimension_values_for([value()], overrides, "DEMF")[KEY], DAY) is None


def test_dates_are_inclusive_and_no_date_means_unbounded() -> None:
    row = dimension_values_for(
        [value(start="2026-11-01T00:00:00Z", end="2026-11-30T00:00:00Z")], [], "USMF"
    )[KEY]
    assert state_on(row, dt.date(2026, 11, 1)) is None
    assert state_on(row, dt.date(2026, 11, 30)) is None
    assert state_on(row, dt.date(2026, 10, 31)) == "not active before 2026-11-01"
    assert state_on(row, dt.date(2026, 12, 1)) == "not active after 2026-11-30"
    open_ended = dimension_values_for([value()], [], "USMF")[KEY]
    assert state_on(open_ended, dt.date(1901, 1, 1)) is None
    assert state_on(open_ended, dt.date(2154, 12, 31)) is None


_days = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 12, 31))


@given(_days, _days, _days, _days, _days)
def test_an_override_narrows_the_window_to_the_intersection(a, b, c, d, day) -> None:
    start, end = sorted((a, b))
    o_start, o_end = sorted((c, d))
    stamp = "{}T00:00:00Z".format
    resolved = dimension_values_for(
        [value(start=stamp(start), end=stamp(end))],
        [override("usmf", start=stamp(o_start), end=stamp(o_end))],
        "USMF",
    )[KEY]
    inside_both = start <= day <= end and o_start <= day <= o_end
    assert (state_on(resolved, day) is None) == inside_both


def test_main_accounts_take_the_companys_suspension_manual_entry_and_dates() -> None:
    accounts = [
        {
            "MainAccountId": "600100",
            "IsSuspended": "No",
            "ActiveFrom": NO_DATE,
            "ActiveTo": NO_DATE,
        },
        {
            "MainAccountId": "600200",
            "IsSuspended": "No",
            "ActiveFrom": NO_DATE,
            "ActiveTo": NO_DATE,
        },
    ]
    overrides = [
        {"MainAccountId": "600100", "LegalEntityId": "usmf", "IsSuspended": "Yes"},
        {
            "MainAccountId": "600200",
            "LegalEntityId": "usmf",
            "DoNotAllowManualEntry": "Yes",
            "ActiveTo": "2026-06-30T00:00:00Z",
        },
        {"MainAccountId": "600200", "LegalEntityId": "demf", "IsSuspended": "Yes"},
    ]
    usmf = main_accounts_for(accounts, overrides, "USMF")
    assert state_on(usmf["600100"], DAY) == "suspended"
    assert usmf["600200"]["DoNotAllowManualEntry"] == "Yes"
    assert state_on(usmf["600200"], DAY) == "not active after 2026-06-30"
    demf = main_accounts_for(accounts, overrides, "DEMF")
    assert state_on(demf["600100"], DAY) is None
    assert state_on(demf["600200"], DAY) == "suspended"
