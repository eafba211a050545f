"""``rippling/entitlements.py`` agrees with the v2 spec for every endpoint the client calls.

The spec (``x-rippling-entitlements`` and the OAuth scope of each operation) lives in the shared
reference beside the repository; the test skips when it is not mounted, as the F&O schema drift
test does. Which endpoints "the client calls" is not a hand-kept list: every reading method of
``RipplingClient`` is driven against the sandbox and the paths it sent are recorded.
"""

import datetime as dt
import inspect
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pydantic import SecretStr

from ml_connector_dagster.credentials.models import RipplingCredentials
from ml_connector_dagster.rippling.client import RipplingClient, required_scope
from ml_connector_dagster.rippling.entitlements import (
    ENDPOINT_ENTITLEMENTS,
    endpoint_template,
    required_entitlement,
)
from ml_connector_sandbox.rippling.employees import employee_id_for
from ml_connector_sandbox.server import Sandbox

SPEC = (
    Path(__file__).resolve().parents[2].parent / "shared/reference/rippling/rippling-v2-rest.yaml"
)
AS_OF = dt.datetime(2026, 11, 19, tzinfo=dt.UTC)  # inside the sandbox company's activity window
# Methods that take a path from their caller rather than calling an endpoint of their own.
PLUMBING = {"close", "get_json", "iter_pages", "iter_records", "workers_updated_since"}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    if not SPEC.exists():
        pytest.skip("shared reference not mounted")
    return yaml.safe_load(SPEC.read_text())


def _spec_get(spec: dict[str, Any], template: str) -> dict[str, Any]:
    operation = (spec["paths"].get(template) or {}).get("get")
    assert operation is not None, f"{template} is not a GET in the v2 spec"
    return operation


def _spec_scopes(operation: dict[str, Any]) -> set[str]:
    return {s for entry in operation.get("security", []) for s in entry.get("OAuth2Production", [])}


def test_every_entitlement_in_the_table_is_the_spec_s(spec: dict[str, Any]) -> None:
    for template, entitlement in ENDPOINT_ENTITLEMENTS.items():
        operation = _spec_get(spec, template)
        assert operation.get("x-rippling-entitlements") == [entitlement], template
        assert required_scope(template) in _spec_scopes(operation), template


def grant_v1_scopes(sandbox: Sandbox, label: str = "full") -> None:
    """Give a sandbox API token the v1 scopes (``company``, ``company:activity``, ``employee``)."""
    url = f"{sandbox.urls['rippling']}/_sandbox/api-tokens/{label}"
    with httpx.Client(verify=sandbox.client_ssl_context()) as admin:
        scopes = admin.get(url).json()["scopes"]
        scopes += ["company", "company:activity", "employee"]
        admin.put(url, json={"scopes": scopes}).raise_for_status()


def _client(sandbox: Sandbox) -> RipplingClient:
    token = next(t for t in sandbox.rippling.credentials()["api_tokens"] if t["label"] == "full")
    creds = RipplingCredentials(
        base_url=sandbox.urls["rippling"],
        v1_base_url=sandbox.urls["rippling"] + "/platform/api",
        api_token=SecretStr(token["token"]),
    )
    return RipplingClient(creds, ssl_context=sandbox.client_ssl_context())


def test_every_endpoint_the_client_calls_is_in_the_table(
    spec: dict[str, Any], fresh_sandbox: Sandbox
) -> None:
    sent: list[str] = []
    company = fresh_sandbox.company["rippling"]
    run = company["payroll_runs"][0]
    run_start = run["pay_period"]["start_date"]
    calls = {
        "workers": lambda c: list(c.workers()),
        "worker": lambda c: c.worker(company["workers"][0]["id"]),
        "departments": lambda c: list(c.departments()),
        "legal_entities": lambda c: list(c.legal_entities()),
        "company_legal_entities": lambda c: list(c.company_legal_entities()),
        "employment_types": lambda c: list(c.employment_types()),
        "job_dimensions": lambda c: list(c.job_dimensions()),
        "job_codes": lambda c: list(c.job_codes()),
        "job_assignments": lambda c: list(c.job_assignments()),
        "compensations": lambda c: list(c.compensations()),
        "payroll_runs": lambda c: list(c.payroll_runs()),
        "payroll_run": lambda c: c.payroll_run(run["id"]),
        "worker_payroll_records": lambda c: list(c.worker_payroll_records(run["id"])),
        "entitlements": lambda c: list(c.entitlements()),
        "worker_time_splits": lambda c: list(c.worker_time_splits()),
        "time_entries": lambda c: list(c.time_entries(dt.date.fromisoformat(run_start))),
        "company_activity": lambda c: c.company_activity(start=AS_OF),
        "employee": lambda c: c.employee(employee_id_for(company["workers"][0]["id"])),
    }
    public = {
        name
        for name, _ in inspect.getmembers(RipplingClient, inspect.isfunction)
        if not name.startswith("_")
    }
    assert public - PLUMBING == set(calls), "a new client method: add it here and to the table"

    def record(request: httpx.Request) -> None:
        sent.append(request.url.path)

    grant_v1_scopes(fresh_sandbox)  # v1 company_activity and employees need them
    with _client(fresh_sandbox) as client:
        client._http.event_hooks = {"request": [record], "response": []}
        for call in calls.values():
            call(client)
    v2 = [p for p in sent if not p.startswith("/platform/api/")]
    v1 = {p.split("/")[3] for p in sent if p.startswith("/platform/api/")}
    assert v1 == {"company_activity", "employees"}  # the two v1 calls
    assert len(v2) >= len(calls) - len(v1)
    for path in v2:
        template = endpoint_template(path)
        assert template is not None, f"{path} has no entitlement in rippling/entitlements.py"
        operation = _spec_get(spec, template)
        assert [required_entitlement(path)] == operation["x-rippling-entitlements"], path
        assert required_scope(path) in _spec_scopes(operation), path
    assert required_entitlement("/platform/api/company_activity") is None  # v1: none
    assert required_entitlement("/platform/api/employees/e1") is None
