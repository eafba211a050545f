"""Employee ids (webhooks, v1) resolved to v2 workers against the sandbox, whose employee ids
differ from its worker and user ids, so every step of the resolution is exercised."""

from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from ml_connector_dagster.credentials.models import RipplingCredentials
from ml_connector_dagster.rippling.client import RipplingClient
from ml_connector_dagster.rippling.errors import RipplingUnavailableError
from ml_connector_dagster.transport.retry import RetryPolicy
from ml_connector_dagster.workforce.resolve import resolve_employee, resolve_employees
from ml_connector_sandbox.rippling.employees import employee_id_for
from ml_connector_sandbox.server import Sandbox


def _paths(client: RipplingClient) -> list[str]:
    sent: list[str] = []
    client._http.event_hooks["request"].append(lambda r: sent.append(r.url.path))
    return sent


def _active(sandbox: Sandbox) -> dict[str, Any]:
    return next(w for w in sandbox.company["rippling"]["workers"] if w["status"] == "ACTIVE")


def test_a_worker_id_resolves_in_one_request(
    fresh_sandbox: Sandbox, rippling: RipplingClient
) -> None:
    worker = _active(fresh_sandbox)
    sent = _paths(rippling)
    resolution = resolve_employee(rippling, worker["id"])
    assert [w.id for w in resolution.workers] == [worker["id"]] and resolution.via == "worker id"
    assert sent == [f"/workers/{worker['id']}/"]


def test_a_user_id_resolves_through_the_user_filter(
    fresh_sandbox: Sandbox, rippling: RipplingClient
) -> None:
    worker = _active(fresh_sandbox)
    resolution = resolve_employee(rippling, worker["user_id"])
    assert [w.id for w in resolution.workers] == [worker["id"]] and resolution.via == "user_id"


def test_an_employee_id_resolves_through_the_v1_employee_work_email(
    fresh_sandbox: Sandbox, rippling: RipplingClient, admin
) -> None:
    admin.grant("employee")
    worker = _active(fresh_sandbox)
    employee_id = employee_id_for(worker["id"])
    sent = _paths(rippling)
    resolution = resolve_employee(rippling, employee_id)
    assert [w.id for w in resolution.workers] == [worker["id"]]
    assert resolution.via == "v1 employee workEmail"
    assert resolution.workers[0].user is not None  # read expanded: no second read needed
    assert sent == [
        f"/workers/{employee_id}/",
        "/workers/",
        f"/platform/api/employees/{employee_id}",
        "/workers/",
    ]


def test_without_the_employee_scope_it_is_unresolved_and_says_which_scope(
    fresh_sandbox: Sandbox, rippling: RipplingClient
) -> None:
    employee_id = employee_id_for(_active(fresh_sandbox)["id"])
    resolution = resolve_employee(rippling, employee_id)
    assert not resolution.resolved and "needs the scope 'employee'" in resolution.reason


def test_unknown_and_malformed_ids_are_unresolved_not_errors(
    fresh_sandbox: Sandbox, rippling: RipplingClient, admin, caplog: pytest.LogCaptureFixture
) -> None:
    admin.grant("employee")
    worker = _active(fresh_sandbox)
    sent = _paths(rippling)
    caplog.set_level("WARNING")
    resolved = resolve_employees(
        rippling,
        ["ffffffffffffffffffffffff", "x' or status eq 'ACTIVE", employee_id_for(worker["id"])],
    )
    assert [w.id for w in resolved.workers] == [worker["id"]]
    assert resolved.unresolved_ids == ["ffffffffffffffffffffffff", "x' or status eq 'ACTIVE"]
    assert "knows no worker, user or employee" in resolved.unresolved[0].reason
    assert resolved.unresolved[1].reason == "not a Rippling id"
    assert not any("status eq" in p for p in sent)  # never sent into a filter
    assert len([r for r in caplog.records if "resolves to no worker" in r.getMessage()]) == 2


def test_a_server_error_is_raised_so_the_events_stay_pending(fresh_sandbox: Sandbox) -> None:
    """Nothing was learned about the id: the run fails and the inbox keeps the event."""
    faults = {"rippling": [{"kind": "server_error", "share": 1.0, "path_prefix": "/workers/"}]}
    with httpx.Client(verify=fresh_sandbox.client_ssl_context()) as http:
        http.put(
            fresh_sandbox.urls["rippling"] + "/_sandbox/faults", json=faults
        ).raise_for_status()
    policy = RetryPolicy(attempts=2, sleep=lambda seconds: None)
    token = next(
        t["token"]
        for t in fresh_sandbox.rippling.credentials()["api_tokens"]
        if t["label"] == "full"
    )
    creds = RipplingCredentials(
        base_url=fresh_sandbox.urls["rippling"],
        v1_base_url=fresh_sandbox.urls["rippling"] + "/platform/api",
        api_token=SecretStr(token),
    )
    ssl = fresh_sandbox.client_ssl_context()
    with (
        RipplingClient(creds, ssl_context=ssl, retry=policy) as client,
        pytest.raises(RipplingUnavailableError),
    ):
        resolve_employee(client, _active(fresh_sandbox)["id"])
