"""The read timeouts are settings, and the clients built from the environment honour them.

Against the real sandbox over HTTPS: a latency fault makes a service answer later than the
configured timeout, so a client that ignored the setting would simply wait and succeed. The
retry policies are given a recording ``sleep``, so the backoff between attempts costs nothing
and the tests wait only for the timeouts themselves (about a second each).
"""

import time

import httpx
import pytest
from recording_sleeper import RecordingSleeper

from ml_connector_dagster.connections import Connection
from ml_connector_dagster.dynamics.auth import TIMEOUT_ATTEMPTS
from ml_connector_dagster.dynamics.errors import DynamicsTimeoutError, DynamicsUnavailableError
from ml_connector_dagster.rippling.errors import RipplingUnavailableError
from ml_connector_dagster.transport.retry import RetryPolicy
from ml_connector_sandbox.server import Sandbox


def _fired(sandbox: Sandbox, service: str) -> int:
    return sum(rule["fired"] for rule in sandbox.faults.describe(service)["rules"])


def _token_path(sandbox: Sandbox) -> str:
    return f"/{sandbox.entra.tenant_id}/oauth2/v2.0/token"


# --- Entra ID -----------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["every request", "token request"])
def test_a_token_endpoint_slower_than_the_timeout_every_time_ends_in_a_clear_error(
    fresh_sandbox: Sandbox, sandbox_env: dict, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    monkeypatch.setenv("ML_CONNECTOR_TOKEN_TIMEOUT_SECONDS", "1")
    prefix = _token_path(fresh_sandbox) if where == "token request" else ""
    # "every request" includes MSAL's discovery of the authority, the first call it makes.
    fresh_sandbox.faults.load(
        {"entra": [{"kind": "latency", "latency_ms": 3000, "share": 1.0, "path_prefix": prefix}]}
    )
    sleeper = RecordingSleeper()
    started = time.monotonic()
    with (
        Connection.from_environment().dynamics(retry=RetryPolicy(sleep=sleeper)) as client,
        pytest.raises(DynamicsTimeoutError) as caught,
    ):
        assert client.tokens.timeout == (1.0, 1.0)  # the setting reached the token provider
        client.metadata_ok()
    elapsed = time.monotonic() - started
    message = str(caught.value)
    assert "Entra ID token endpoint" in message and "did not answer within 1 s" in message
    assert "ML_CONNECTOR_TOKEN_TIMEOUT_SECONDS" in message
    assert "could not connect" not in message and "DNS" not in message  # not a network error
    # Bounded: asked again, but only TIMEOUT_ATTEMPTS times, each cut off after one second
    # (without the timeout each would have waited three seconds and then succeeded).
    assert _fired(fresh_sandbox, "entra") == TIMEOUT_ATTEMPTS
    assert len(sleeper.waits) == TIMEOUT_ATTEMPTS - 1
    assert elapsed < TIMEOUT_ATTEMPTS * 3
    assert client.requests_sent == 0  # F&O was never asked without a token


@pytest.mark.parametrize("where", ["first request", "token request"])
def test_one_slow_token_answer_is_asked_again_and_the_token_obtained(
    fresh_sandbox: Sandbox, sandbox_env: dict, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    monkeypatch.setenv("ML_CONNECTOR_TOKEN_TIMEOUT_SECONDS", "1")
    prefix = _token_path(fresh_sandbox) if where == "token request" else ""
    fresh_sandbox.faults.load(
        {
            "entra": [
                {
                    "kind": "latency",
                    "latency_ms": 3000,
                    "share": 1.0,
                    "times": 1,
                    "path_prefix": prefix,
                }
            ]
        }
    )
    sleeper = RecordingSleeper()
    with Connection.from_environment().dynamics(retry=RetryPolicy(sleep=sleeper)) as client:
        assert client.metadata_ok()
        assert client.token_accepted
    assert _fired(fresh_sandbox, "entra") == 1
    assert len(sleeper.waits) == 1  # one timed-out request, asked again once


# --- F&O ----------------------------------------------------------------------------------


def test_the_dynamics_client_from_the_environment_carries_the_configured_timeout(
    fresh_sandbox: Sandbox, sandbox_env: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ML_CONNECTOR_DYNAMICS_TIMEOUT_SECONDS", "1")
    fresh_sandbox.faults.load(
        {
            "dynamics": [
                {"kind": "latency", "latency_ms": 3000, "share": 1.0, "path_prefix": "/data"}
            ]
        }
    )
    sleeper = RecordingSleeper()
    with (
        Connection.from_environment().dynamics(
            retry=RetryPolicy(attempts=2, sleep=sleeper)
        ) as client,
        pytest.raises(DynamicsUnavailableError) as caught,
    ):
        client.metadata_ok()
    assert "ReadTimeout" in str(caught.value)
    assert _fired(fresh_sandbox, "dynamics") == 2
    assert len(sleeper.waits) == 1


def test_a_timeout_given_by_the_caller_wins_over_the_setting(
    fresh_sandbox: Sandbox, sandbox_env: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ML_CONNECTOR_DYNAMICS_TIMEOUT_SECONDS", "1")
    fresh_sandbox.faults.load(
        {
            "dynamics": [
                {
                    "kind": "latency",
                    "latency_ms": 2000,
                    "share": 1.0,
                    "times": 1,
                    "path_prefix": "/data",
                }
            ]
        }
    )
    sleeper = RecordingSleeper()
    connection = Connection.from_environment()
    with connection.dynamics(
        retry=RetryPolicy(attempts=2, sleep=sleeper), timeout=httpx.Timeout(10.0)
    ) as client:
        assert client.metadata_ok()
    assert _fired(fresh_sandbox, "dynamics") == 1
    assert sleeper.waits == []  # answered within the caller's 10 s: no timeout, no retry


# --- Rippling -----------------------------------------------------------------------------


def test_the_rippling_client_from_the_environment_carries_the_configured_timeout(
    fresh_sandbox: Sandbox, sandbox_env: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ML_CONNECTOR_RIPPLING_TIMEOUT_SECONDS", "1")
    fresh_sandbox.faults.load({"rippling": [{"kind": "latency", "latency_ms": 3000, "share": 1.0}]})
    sleeper = RecordingSleeper()
    with (
        Connection.from_environment().rippling(
            retry=RetryPolicy(attempts=2, sleep=sleeper)
        ) as client,
        pytest.raises(RipplingUnavailableError) as caught,
    ):
        list(client.legal_entities())
    assert "ReadTimeout" in str(caught.value)
    assert _fired(fresh_sandbox, "rippling") == 2
    assert len(sleeper.waits) == 1
