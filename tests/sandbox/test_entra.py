"""The Entra ID stand-in, driven by MSAL itself over HTTPS."""

import msal
import pytest
import requests

from ml_connector_sandbox.server import Sandbox


def _session(sandbox: Sandbox) -> requests.Session:
    # requests ignores `verify` when REQUESTS_CA_BUNDLE is set unless trust_env is off.
    session = requests.Session()
    session.trust_env = False
    session.verify = str(sandbox.tls.ca_cert)
    return session


def _app(
    sandbox: Sandbox, *, secret: str | None = None, tenant: str | None = None, client_index: int = 0
) -> msal.ConfidentialClientApplication:
    client = sandbox.entra.credentials()["clients"][client_index]
    return msal.ConfidentialClientApplication(
        client["client_id"],
        client_credential=secret or client["client_secret"],
        authority=f"{sandbox.urls['entra']}/{tenant or sandbox.entra.tenant_id}",
        http_client=_session(sandbox),
        instance_discovery=False,
    )


def _scope(sandbox: Sandbox) -> list[str]:
    return [f"{sandbox.urls['dynamics']}/.default"]


def test_msal_gets_a_token_that_the_fo_stand_in_accepts_and_caches_it(
    fresh_sandbox: Sandbox,
) -> None:
    app = _app(fresh_sandbox)
    first = app.acquire_token_for_client(scopes=_scope(fresh_sandbox))
    assert first["token_type"] == "Bearer"
    assert first["expires_in"] >= 300  # MSAL refetches anything shorter on every call
    assert first["token_source"] == "identity_provider"
    assert fresh_sandbox.entra.validate_for_dynamics(first["access_token"])
    second = app.acquire_token_for_client(scopes=_scope(fresh_sandbox))
    assert second["token_source"] == "cache"
    assert second["access_token"] == first["access_token"]


def test_wrong_secret_is_refused_with_the_aadsts_code(fresh_sandbox: Sandbox) -> None:
    result = _app(fresh_sandbox, secret="not-the-secret").acquire_token_for_client(
        scopes=_scope(fresh_sandbox)
    )
    assert "access_token" not in result
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [7000215]
    assert result["error_description"].startswith("AADSTS7000215:")


def test_unknown_tenant_fails_discovery(fresh_sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="authority configuration"):
        _app(fresh_sandbox, tenant="00000000-0000-0000-0000-000000000000").acquire_token_for_client(
            scopes=_scope(fresh_sandbox)
        )


def test_scope_must_be_the_environment_with_default_suffix(fresh_sandbox: Sandbox) -> None:
    app = _app(fresh_sandbox)
    wrong_resource = app.acquire_token_for_client(scopes=["https://other.example/.default"])
    assert wrong_resource["error_codes"] == [500011]
    no_default = app.acquire_token_for_client(scopes=[f"{fresh_sandbox.urls['dynamics']}/read"])
    assert no_default["error"] == "invalid_scope"


def test_token_of_an_app_not_registered_in_fo_is_not_good_for_fo(fresh_sandbox: Sandbox) -> None:
    clients = fresh_sandbox.entra.credentials()["clients"]
    index = next(i for i, c in enumerate(clients) if not c["registered_in_dynamics"])
    result = _app(fresh_sandbox, client_index=index).acquire_token_for_client(
        scopes=_scope(fresh_sandbox)
    )
    assert "access_token" in result  # Entra issues it ...
    assert not fresh_sandbox.entra.validate_for_dynamics(result["access_token"])  # ... F&O refuses


def test_server_side_expiry_invalidates_tokens_msal_still_caches(fresh_sandbox: Sandbox) -> None:
    app = _app(fresh_sandbox)
    token = app.acquire_token_for_client(scopes=_scope(fresh_sandbox))["access_token"]
    session = _session(fresh_sandbox)
    expired = session.post(f"{fresh_sandbox.urls['entra']}/_sandbox/tokens/expire", timeout=10)
    assert expired.status_code == 200
    assert not fresh_sandbox.entra.validate_for_dynamics(token)
    cached = app.acquire_token_for_client(scopes=_scope(fresh_sandbox))
    assert cached["access_token"] == token  # the client only learns from a 401
    app.remove_tokens_for_client()
    renewed = app.acquire_token_for_client(scopes=_scope(fresh_sandbox))
    assert renewed["access_token"] != token
    assert fresh_sandbox.entra.validate_for_dynamics(renewed["access_token"])


def test_a_throttled_token_endpoint_answers_429_with_retry_after(fresh_sandbox: Sandbox) -> None:
    """The fault board's Entra throttle, which the Dynamics client's token retries are built on."""
    import httpx

    from ml_connector_sandbox.faults import FaultRule

    token_url = f"{fresh_sandbox.urls['entra']}/{fresh_sandbox.entra.tenant_id}/oauth2/v2.0/token"
    fresh_sandbox.faults.set(
        "entra",
        [FaultRule(kind="throttle", nth=1, retry_after=9, path_prefix=httpx.URL(token_url).path)],
    )
    with httpx.Client(verify=fresh_sandbox.client_ssl_context()) as http:
        answer = http.post(token_url, data={"grant_type": "client_credentials"})
    assert answer.status_code == 429 and answer.headers["retry-after"] == "9"
    # Entra's own form: a bare text body, not F&O's OData error (which an OAuth client would
    # try, and fail, to read as an OAuth error).
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.text == "Too Many Requests"
