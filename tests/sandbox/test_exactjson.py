"""The sandbox's JSON writer: every Decimal a bare number with exactly its own digits."""

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ml_connector_sandbox.exactjson import dumps

amounts = st.decimals(
    allow_nan=False, allow_infinity=False, places=2, min_value=-(10**12), max_value=10**12
)
payloads = st.recursive(
    amounts | st.text(max_size=5) | st.integers() | st.none(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(payloads)
def test_every_amount_is_written_with_exactly_its_own_digits(payload) -> None:
    read = json.loads(dumps(payload), parse_float=str, parse_int=str)
    assert _same(read, payload)


def _same(read, written) -> bool:
    """Numbers are read back as their text: a Decimal's must be ``f"{d:f}"`` to the digit."""
    if isinstance(written, Decimal):
        return read == f"{written:f}"
    if isinstance(written, bool) or written is None:
        return read == written
    if isinstance(written, int):
        return read == str(written)
    if isinstance(written, list):
        return len(read) == len(written) and all(map(_same, read, written))
    if isinstance(written, dict):
        return read.keys() == written.keys() and all(_same(read[k], written[k]) for k in written)
    return read == written


def test_trailing_zeros_and_nesting_are_kept_and_non_finite_is_refused() -> None:
    assert dumps({"a": Decimal("10.50"), "b": [(Decimal("0.000"), "é")]}) == (
        '{"a": 10.50, "b": [[0.000, "é"]]}'
    )
    with pytest.raises(ValueError, match="non-finite"):
        dumps([Decimal("NaN")])
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps({"when": object()})
