"""The sandbox counts requests per service, method and endpoint, and never its admin paths."""

import ssl

import httpx

from ml_connector_sandbox.request_counts import EndpointNames, odata_endpoint
from ml_connector_sandbox.server import Sandbox


def _counts(sandbox: Sandbox, ssl_ctx: ssl.SSLContext, service: str = "rippling") -> dict:
    with httpx.Client(verify=ssl_ctx) as admin:
        answer = admin.get(sandbox.urls[service] + "/_sandbox/requests")
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_requests_are_counted_per_endpoint_with_ids_replaced(
    fresh_sandbox: Sandbox, sandbox_ssl: ssl.SSLContext
) -> None:
    run_ids = [run["id"] for run in fresh_sandbox.company["rippling"]["payroll_runs"][:2]]
    urls = fresh_sandbox.urls
    with httpx.Client(verify=sandbox_ssl) as client:
        client.get(urls["rippling"] + "/workers/", params={"limit": 5})
        client.get(urls["rippling"] + "/workers/", params={"limit": 5, "expand": "department"})
        for run_id in run_ids:
            client.get(urls["rippling"] + f"/payroll-runs/{run_id}/worker-payroll-records/")
        client.get(urls["dynamics"] + "/data/LedgerJournalHeaders")
        client.get(
            urls["dynamics"]
            + "/data/LedgerJournalHeaders(dataAreaId='usmf',JournalBatchNumber='00042')"
        )
        client.post(urls["dynamics"] + "/data/$batch", content=b"")
        client.post(
            urls["entra"] + f"/{fresh_sandbox.entra.tenant_id}/oauth2/v2.0/token",
            data={"grant_type": "client_credentials"},
        )
    counts = _counts(fresh_sandbox, sandbox_ssl, "dynamics")
    # Counted whatever the service answered (none of these carried credentials).
    assert counts["requests"] == {
        "dynamics": {
            "GET /data/LedgerJournalHeaders": 1,
            "GET /data/LedgerJournalHeaders({key})": 1,
            "POST /data/$batch": 1,
        },
        "entra": {"POST /{tenant}/oauth2/v2.0/token": 1},
        "rippling": {
            "GET /payroll-runs/{run_id}/worker-payroll-records/": 2,
            "GET /workers/": 2,
        },
    }
    assert counts["totals"] == {"dynamics": 3, "entra": 1, "rippling": 4}
    assert counts["total"] == 8
    assert sum(counts["statuses"]["rippling"].values()) == 4  # every answer's status


def test_admin_paths_are_not_counted_and_delete_and_reset_clear_the_counts(
    fresh_sandbox: Sandbox, sandbox_ssl: ssl.SSLContext
) -> None:
    urls = fresh_sandbox.urls
    with httpx.Client(verify=sandbox_ssl) as client:
        client.get(urls["dynamics"] + "/_sandbox/info")
        client.get(urls["rippling"] + "/_sandbox/faults")
        client.get(urls["dynamics"] + "/_sandbox/stats")  # the F&O stand-in's own admin route
        client.get(urls["rippling"] + "/_sandbox/requests")
        assert _counts(fresh_sandbox, sandbox_ssl)["total"] == 0
        client.get(urls["rippling"] + "/job-codes/")
        assert _counts(fresh_sandbox, sandbox_ssl)["requests"] == {
            "rippling": {"GET /job-codes/": 1}
        }
        cleared = client.delete(urls["entra"] + "/_sandbox/requests")  # any port: all services
        assert cleared.status_code == 200 and cleared.json()["total"] == 0
        client.get(urls["rippling"] + "/job-codes/")
    assert fresh_sandbox.request_counts.describe()["total"] == 1
    fresh_sandbox.reset()
    assert fresh_sandbox.request_counts.describe()["total"] == 0


def test_a_request_answered_by_a_fault_is_counted(
    fresh_sandbox: Sandbox, sandbox_ssl: ssl.SSLContext
) -> None:
    fresh_sandbox.faults.load({"rippling": [{"kind": "throttle", "nth": 1}]})
    with httpx.Client(verify=sandbox_ssl) as client:
        throttled = client.get(fresh_sandbox.urls["rippling"] + "/departments/")
    assert throttled.status_code == 429
    counts = fresh_sandbox.request_counts.describe()
    assert counts["requests"] == {"rippling": {"GET /departments/": 1}}
    assert counts["statuses"] == {"rippling": {"429": 1}}


def test_endpoint_names_come_from_the_routes(sandbox: Sandbox) -> None:
    rippling = EndpointNames(sandbox.rippling.app)
    assert rippling("/workers/0123456789abcdef01234567/") == "/workers/{id}/"
    assert rippling("/platform/api/employees/abc") == "/platform/api/employees/{id}"
    assert rippling("/no-such-thing/0123456789abcdef01234567/") == "/no-such-thing/{id}/"
    dynamics = EndpointNames(sandbox.dynamics.app)
    assert dynamics("/data/$metadata") == "/data/$metadata"
    assert dynamics("/data/MainAccounts(MainAccountId='1)2',ChartOfAccounts='X''Y')") == (
        "/data/MainAccounts({key})"
    )
    assert odata_endpoint("/data/A(1)/B(2)") == "/data/A({key})/B({key})"
