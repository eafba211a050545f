"""Retry schedules: jittered backoff without Retry-After, the exact wait with it."""

import random

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ml_connector_dagster.transport.retry import RetryPolicy, parse_retry_after


@given(attempt=st.integers(min_value=0, max_value=20), seed=st.integers(min_value=0))
def test_backoff_is_within_the_growing_capped_ceiling(attempt: int, seed: int) -> None:
    policy = RetryPolicy(base=1.0, cap=60.0, rng=random.Random(seed))
    wait = policy.backoff(attempt)
    assert 0.0 <= wait <= min(60.0, 2.0**attempt)


def test_backoff_is_jittered_not_fixed() -> None:
    policy = RetryPolicy(base=1.0, cap=60.0, rng=random.Random(1))
    waits = {round(policy.backoff(5), 6) for _ in range(20)}
    assert len(waits) > 10


def test_retry_after_is_honoured_exactly_and_bounded() -> None:
    policy = RetryPolicy(max_wait=30.0)
    assert policy.wait_for(httpx.Response(429, headers={"Retry-After": "7"}), attempt=4) == 7.0
    assert policy.wait_for(httpx.Response(429, headers={"Retry-After": "600"}), attempt=0) == 30.0


def test_retry_after_http_date_and_garbage() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: 1445412470.0) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(base=10, cap=1)
