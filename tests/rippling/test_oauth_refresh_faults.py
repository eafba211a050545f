"""The Rippling OAuth refresh meets a throttle, an outage or a lost answer (the fault matrix's
"Rippling token refresh" stage): retried where that is safe, and named right where it is not.

Rippling rotates the refresh token on use (the sandbox too), so a refresh whose answer was lost
after Rippling processed it leaves us holding a dead token: the error must say that, not blame
the install.
"""

import pytest
from pydantic import SecretStr
from recording_sleeper import RecordingSleeper

from ml_connector_dagster.credentials.models import RipplingCredentials
from ml_connector_dagster.rippling.auth import OAuthAuth
from ml_connector_dagster.rippling.client import RipplingClient
from ml_connector_dagster.rippling.errors import RipplingAuthError, RipplingUnavailableError
from ml_connector_dagster.transport.retry import RetryPolicy
from ml_connector_sandbox.server import Sandbox


def _client(sandbox: Sandbox, waits: RecordingSleeper, rotated: list[SecretStr]) -> RipplingClient:
    info = sandbox.rippling.credentials()
    oauth = info["oauth_clients"][0]
    auth = OAuthAuth(
        oauth["client_id"],
        SecretStr(oauth["client_secret"]),
        SecretStr(oauth["refresh_token"]),
        info["token_url"],
        on_refresh_token=rotated.append,
        retry=RetryPolicy(attempts=4, base=1.0, cap=30.0, sleep=waits),
    )
    credentials = RipplingCredentials(base_url=sandbox.urls["rippling"], api_token=SecretStr("x"))
    return RipplingClient(credentials, ssl_context=sandbox.client_ssl_context(), auth=auth)


def _token_fault(sandbox: Sandbox, **rule) -> None:
    sandbox.faults.load(
        {"rippling": [{"path_prefix": "/o/token", "method": "POST", "share": 1.0, **rule}]}
    )


def _token_requests(sandbox: Sandbox) -> int:
    return sum(r["fired"] for r in sandbox.faults.describe("rippling")["rules"])


def test_a_throttled_refresh_backs_off_and_gets_its_token(fresh_sandbox: Sandbox) -> None:
    _token_fault(fresh_sandbox, kind="throttle", times=2)
    waits, rotated = RecordingSleeper(), []
    with _client(fresh_sandbox, waits, rotated) as client:
        assert list(client.departments())
    assert _token_requests(fresh_sandbox) == 2
    assert len(waits.waits) == 2  # Rippling sends no Retry-After: jittered backoff
    assert 0 <= waits.waits[0] <= 1.0 and 0 <= waits.waits[1] <= 2.0
    assert len(rotated) == 1  # the third try got the token, and its rotated refresh token


def test_a_token_endpoint_that_stays_down_is_named_unavailable_not_a_removed_install(
    fresh_sandbox: Sandbox,
) -> None:
    _token_fault(fresh_sandbox, kind="server_error", status=503)
    waits, rotated = RecordingSleeper(), []
    with (
        _client(fresh_sandbox, waits, rotated) as client,
        pytest.raises(RipplingUnavailableError) as raised,
    ):
        list(client.departments())
    message = str(raised.value)
    assert "did not give a token in 4 tries (last: HTTP 503)" in message
    assert "install" not in message
    assert len(waits.waits) == 3 and rotated == []


def test_a_refresh_whose_answer_was_lost_after_rotation_says_so(fresh_sandbox: Sandbox) -> None:
    """Processed (rotated) and then the connection cut: the retry's token is dead."""
    _token_fault(fresh_sandbox, kind="drop", when="after", times=1)
    waits, rotated = RecordingSleeper(), []
    with (
        _client(fresh_sandbox, waits, rotated) as client,
        pytest.raises(RipplingAuthError) as raised,
    ):
        list(client.departments())
    message = str(raised.value)
    assert "after an earlier refresh whose answer was lost" in message
    assert "credentials set rippling" in message
    assert rotated == [] and len(waits.waits) == 1


def test_a_refresh_cut_before_it_reached_rippling_is_simply_sent_again(
    fresh_sandbox: Sandbox,
) -> None:
    _token_fault(fresh_sandbox, kind="drop", times=1)  # before: Rippling never saw it
    waits, rotated = RecordingSleeper(), []
    with _client(fresh_sandbox, waits, rotated) as client:
        assert list(client.departments())
    assert len(rotated) == 1 and len(waits.waits) == 1


def test_a_refused_refresh_token_still_points_at_the_install(fresh_sandbox: Sandbox) -> None:
    info = fresh_sandbox.rippling.credentials()
    oauth = info["oauth_clients"][0]
    auth = OAuthAuth(
        oauth["client_id"],
        SecretStr(oauth["client_secret"]),
        SecretStr("not-the-refresh-token"),
        info["token_url"],
        retry=RetryPolicy(attempts=4, sleep=RecordingSleeper()),
    )
    credentials = RipplingCredentials(
        base_url=fresh_sandbox.urls["rippling"], api_token=SecretStr("x")
    )
    with (
        RipplingClient(
            credentials, ssl_context=fresh_sandbox.client_ssl_context(), auth=auth
        ) as client,
        pytest.raises(RipplingAuthError, match="install may have been removed"),
    ):
        list(client.departments())
