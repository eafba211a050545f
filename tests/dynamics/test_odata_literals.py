"""OData literals and keyed URLs as F&O parses them."""

import datetime as dt
from decimal import Decimal

import pytest

from ml_connector_dagster.dynamics.odata import Enum, all_of, any_of, eq, key_segment, literal


@pytest.mark.parametrize(
    "value, expected",
    [
        ("O'Brien", "'O''Brien'"),
        ("", "''"),
        (5, "5"),
        (Decimal("12.50"), "12.50"),
        (True, "true"),
        (None, "null"),
        (dt.date(2026, 11, 15), "2026-11-15T00:00:00Z"),
        (dt.datetime(2026, 11, 15, 12, 0, tzinfo=dt.UTC), "2026-11-15T12:00:00Z"),
        (Enum("NoYes", "Yes"), "Microsoft.Dynamics.DataEntities.NoYes'Yes'"),
    ],
)
def test_literals(value: object, expected: str) -> None:
    assert literal(value) == expected  # type: ignore[arg-type]


def test_float_literal_is_refused() -> None:
    with pytest.raises(TypeError):
        literal(1.5)  # type: ignore[arg-type]


def test_key_segment_names_every_field_and_escapes() -> None:
    assert (
        key_segment("VendorsV2", {"dataAreaId": "usmf", "VendorAccountNumber": "V-1001"})
        == "VendorsV2(dataAreaId='usmf',VendorAccountNumber='V-1001')"
    )
    assert key_segment("Workers", {"PersonnelNumber": "O'Neil #2"}) == (
        "Workers(PersonnelNumber='O''Neil%20%232')"
    )
    with pytest.raises(ValueError):
        key_segment("Workers", {})


def test_filters_use_or_instead_of_in() -> None:
    clause = all_of(eq("dataAreaId", "usmf"), any_of("Name", ["A", "B"]))
    assert clause == "dataAreaId eq 'usmf' and (Name eq 'A' or Name eq 'B')"
    assert " in " not in clause
