"""Decimals survive JSON both ways with every digit; floats are refused."""

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ml_connector_dagster.transport.jsonmoney import dumps, loads

amounts = st.decimals(
    allow_nan=False, allow_infinity=False, places=2, min_value=-(10**12), max_value=10**12
)


@given(amount=amounts, text=st.text())
def test_decimal_round_trips_exactly_as_a_json_number(amount: Decimal, text: str) -> None:
    if text.startswith("\u0000"):
        return
    encoded = dumps({"DebitAmount": amount, "Text": text, "n": [amount]})
    assert json.loads(encoded)["Text"] == text  # valid JSON
    assert isinstance(json.loads(encoded)["DebitAmount"], int | float)  # a number, not a string
    decoded = loads(encoded)
    assert decoded["DebitAmount"] == amount and decoded["n"] == [amount]


def test_trailing_zeros_are_kept_on_the_wire() -> None:
    assert dumps({"a": Decimal("10.50")}) == '{"a": 10.50}'


def test_floats_and_non_finite_are_refused() -> None:
    with pytest.raises(TypeError):
        dumps({"a": 0.1})
    with pytest.raises(ValueError):
        dumps({"a": Decimal("NaN")})
