"""One Entra token source per app registration in a process (issue 12: two MSAL clients per
run asked Entra 48 times where 2 would do): every Dynamics client built from the environment
shares it, and a revoked token is replaced for all of them."""

import httpx

from ml_connector_dagster.connections import Connection
from ml_connector_dagster.transport.retry import RetryPolicy
from ml_connector_sandbox.server import Sandbox


def _entra_requests(sandbox: Sandbox) -> int:
    return sandbox.faults.describe("entra")["requests"]


def test_clients_of_one_process_ask_entra_once(fresh_sandbox: Sandbox, sandbox_env) -> None:
    connection = Connection.from_environment()
    with connection.dynamics() as first:
        assert first.list_entities("LegalEntities")
    asked = _entra_requests(fresh_sandbox)
    with connection.dynamics() as second, Connection.from_environment().dynamics() as third:
        assert second.tokens is first.tokens is third.tokens
        assert second.list_entities("LegalEntities") and third.list_entities("Ledgers")
    assert _entra_requests(fresh_sandbox) == asked  # no new discovery, no new token


def test_a_revoked_shared_token_is_replaced_once_for_every_client(
    fresh_sandbox: Sandbox, sandbox_env
) -> None:
    connection = Connection.from_environment()
    with connection.dynamics() as client:
        assert client.list_entities("LegalEntities")
    with httpx.Client(verify=fresh_sandbox.client_ssl_context()) as admin:
        admin.post(fresh_sandbox.urls["entra"] + "/_sandbox/tokens/expire")
    asked = _entra_requests(fresh_sandbox)  # (admin paths like the expiry are not counted)
    with connection.dynamics() as one, connection.dynamics() as two:
        assert one.list_entities("LegalEntities")  # 401, a new token, the same page again
        assert two.list_entities("LegalEntities")  # the new token, shared
    assert _entra_requests(fresh_sandbox) - asked == 1  # one token request in all


def test_a_client_with_its_own_retry_policy_gets_its_own_token_source(sandbox_env) -> None:
    connection = Connection.from_environment()
    with connection.dynamics() as shared, connection.dynamics(retry=RetryPolicy()) as own:
        assert own.tokens is not shared.tokens
