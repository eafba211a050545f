"""Retry schedules (jittered backoff without Retry-After, the exact wait with it) and the
``retry_on`` decisions: what is final, what is sent again, what is an ambiguous write."""

import random

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ml_connector_dagster.transport.retry import (
    ANY_SERVER_ERROR,
    RetryPolicy,
    Verdict,
    parse_retry_after,
)


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


@pytest.mark.parametrize(
    "method, status, idempotent, expected",
    [
        ("GET", 200, None, Verdict.DONE),
        ("GET", 429, None, Verdict.RETRY),
        ("POST", 429, None, Verdict.RETRY),  # a 429 was never processed
        ("POST", 429, False, Verdict.RETRY),
        ("GET", 503, None, Verdict.RETRY),
        ("GET", 500, None, Verdict.RETRY),
        ("DELETE", 502, None, Verdict.RETRY),  # idempotent by definition
        ("POST", 503, None, Verdict.AMBIGUOUS),
        ("PATCH", 504, None, Verdict.AMBIGUOUS),  # PATCH is not idempotent by default ...
        ("PATCH", 504, True, Verdict.RETRY),  # ... unless the caller knows it is
        ("GET", 503, False, Verdict.AMBIGUOUS),  # the caller's word beats the method's
        ("GET", 501, None, Verdict.DONE),  # retrying will not implement it
        ("POST", 501, None, Verdict.AMBIGUOUS),  # any 5xx to a write: it may have landed
        ("GET", 401, None, Verdict.DONE),  # the auth flow, not the retry loop, refreshes
        ("GET", 404, None, Verdict.DONE),
        ("POST", 400, None, Verdict.DONE),
    ],
)
def test_retry_on(method: str, status: int, idempotent: bool | None, expected: Verdict) -> None:
    assert RetryPolicy().retry_on(method, status, idempotent=idempotent) is expected


def test_which_server_errors_are_transient_is_the_caller_s_choice() -> None:
    policy = RetryPolicy()
    assert policy.retry_on("GET", 507) is Verdict.DONE
    assert policy.retry_on("GET", 507, server_errors=ANY_SERVER_ERROR) is Verdict.RETRY
    assert policy.retry_on("POST", 507, server_errors=ANY_SERVER_ERROR) is Verdict.AMBIGUOUS
    assert policy.retry_on("GET", 404, server_errors=ANY_SERVER_ERROR) is Verdict.DONE


@pytest.mark.parametrize(
    "method, error, idempotent, expected",
    [
        ("GET", httpx.ReadTimeout("t"), None, Verdict.RETRY),
        ("GET", httpx.RemoteProtocolError("gone"), None, Verdict.RETRY),
        ("POST", httpx.ConnectError("refused"), None, Verdict.RETRY),  # nothing left the host
        ("POST", httpx.ConnectTimeout("t"), None, Verdict.RETRY),
        ("POST", httpx.ReadTimeout("t"), None, Verdict.AMBIGUOUS),
        ("POST", httpx.RemoteProtocolError("gone"), None, Verdict.AMBIGUOUS),
        ("POST", httpx.ReadError("reset"), True, Verdict.RETRY),
        ("GET", httpx.UnsupportedProtocol("ftp"), None, Verdict.DONE),  # not a transient error
    ],
)
def test_retry_on_error(
    method: str, error: Exception, idempotent: bool | None, expected: Verdict
) -> None:
    assert RetryPolicy().retry_on_error(method, error, idempotent=idempotent) is expected
