import datetime as dt

import pytest

from ml_connector_dagster.month_end.month import Month


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("2026-11", dt.date(2026, 11, 1), dt.date(2026, 11, 30)),
        ("2026-12", dt.date(2026, 12, 1), dt.date(2026, 12, 31)),
        ("2028-02", dt.date(2028, 2, 1), dt.date(2028, 2, 29)),
        ("2027-02-01", dt.date(2027, 2, 1), dt.date(2027, 2, 28)),
    ],
)
def test_month_span(text, first, last):
    month = Month.parse(text)
    assert (month.first_day, month.last_day) == (first, last)
    assert first in month and last in month
    assert first - dt.timedelta(days=1) not in month
    assert last + dt.timedelta(days=1) not in month


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "26-11", "2026-11-15", "November"])
def test_bad_month_is_refused(text):
    with pytest.raises(ValueError, match="2026-11"):
        Month.parse(text)


def test_str_round_trips():
    assert str(Month.parse("2026-03")) == "2026-03"


def test_a_place_reads_like_an_f_and_o_display_value() -> None:
    from ml_connector_dagster.defs.month_end.places import place_text

    order = ("BusinessUnit", "Department", "CostCenter")
    dims = (("BusinessUnit", "001"), ("CostCenter", "CCBDV"), ("Department", "D160"))
    assert place_text("600100", dims, order, "-") == "600100-001-D160-CCBDV"
    assert place_text("600100", (("BusinessUnit", "001"),), order, "-") == "600100-001--"
    assert place_text("600100", (("Project", "P7"),), order, ".") == "600100... Project=P7"
