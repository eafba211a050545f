"""Largest-remainder allocation: parts in cents that always add up to the whole."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ml_connector_dagster.ledger.allocation import allocate

cents = st.integers(min_value=-(10**9), max_value=10**9).map(lambda c: Decimal(c) / 100)
weights = st.lists(st.integers(min_value=0, max_value=10_000).map(Decimal), min_size=1, max_size=12)


@given(amount=cents, weights=weights)
def test_parts_sum_exactly_and_are_whole_cents(amount: Decimal, weights: list[Decimal]) -> None:
    parts = allocate(amount, weights)
    assert sum(parts, Decimal(0)) == amount
    assert all(p == p.quantize(Decimal("0.01")) for p in parts)
    assert len(parts) == len(weights)


@given(amount=cents, weights=weights)
def test_each_part_is_within_a_cent_of_its_exact_share(
    amount: Decimal, weights: list[Decimal]
) -> None:
    total = sum(weights)
    parts = allocate(amount, weights)
    for part, weight in zip(parts, weights, strict=True):
        exact = amount * weight / total if total else amount / len(weights)
        assert abs(part - exact) < Decimal("0.01")


def test_known_split_gives_leftover_cent_to_largest_remainder() -> None:
    assert allocate(Decimal("100.00"), [Decimal(1)] * 3) == [
        Decimal("33.34"),
        Decimal("33.33"),
        Decimal("33.33"),
    ]
    assert allocate(Decimal("-0.05"), [Decimal(1), Decimal(1)]) == [
        Decimal("-0.03"),
        Decimal("-0.02"),
    ]
    assert allocate(Decimal("10.00"), [Decimal(3), Decimal(1)]) == [
        Decimal("7.50"),
        Decimal("2.50"),
    ]


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        allocate(Decimal("1.00"), [])
    with pytest.raises(ValueError):
        allocate(Decimal("1.00"), [Decimal(-1)])
    with pytest.raises(ValueError, match="cents"):
        allocate(Decimal("1.005"), [Decimal(1)])
