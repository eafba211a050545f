"""The Rippling stand-in behaves like the real API: auth, paging, filters, expand, redaction.

Tests go through ``rippling_client`` (an ``httpx.Client`` with the service's base URL) so they
can later run against the real HTTPS server by swapping that one fixture.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

with warnings.catch_warnings():  # Starlette nags about httpx; the test client still works.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from ml_connector_sandbox.company import catalog, generate_company
from ml_connector_sandbox.rippling import RipplingService
from ml_connector_sandbox.rippling.employees import employee_id_for
from ml_connector_sandbox.rippling.resources import RESOURCES, Resource

BASE_URL = "https://127.0.0.1:8441"


@pytest.fixture(scope="module")
def company() -> dict[str, Any]:
    return generate_company(workers=230, legal_entities=3, departments=6, pay_periods=3)


@pytest.fixture
def rippling(tmp_path: Path, company: dict[str, Any]) -> Iterator[RipplingService]:
    service = RipplingService(tmp_path, company, base_url=BASE_URL)
    yield service
    service.close()


@pytest.fixture
def rippling_client(rippling: RipplingService) -> Iterator[httpx.Client]:
    with TestClient(rippling.app, base_url=rippling.base_url) as client:
        yield client


def _token(company: dict[str, Any], label: str) -> str:
    return next(
        t["token"] for t in company["rippling"]["credentials"]["api_tokens"] if t["label"] == label
    )


@pytest.fixture
def full(company: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(company, 'full')}"}


@pytest.fixture
def limited(company: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(company, 'limited')}"}


def fetch_all(client: httpx.Client, url: str, headers: dict[str, str]) -> tuple[list[Any], int]:
    """Follow next_link to the end; return the records and the number of requests."""
    results: list[Any] = []
    requests = 0
    while url:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        requests += 1
        body = response.json()
        results.extend(body["results"])
        url = body.get("next_link")
        if url:
            assert url.startswith("/") and "://" not in url
    return results, requests


# --- paging --------------------------------------------------------------------------------------
def test_paging_follows_relative_next_links_to_the_end(
    rippling_client: httpx.Client, full: dict[str, str], company: dict[str, Any]
) -> None:
    total = len(company["rippling"]["workers"])
    workers, requests = fetch_all(rippling_client, "/workers/?limit=100", full)
    assert requests == math.ceil(total / 100)
    assert len({w["id"] for w in workers}) == total
    first = rippling_client.get("/workers/", headers=full).json()
    assert len(first["results"]) == 50
    assert first["next_link"].startswith("/workers/?cursor=")
    assert "limit=50" in first["next_link"]


def test_limit_above_maximum_is_refused(
    rippling_client: httpx.Client, full: dict[str, str]
) -> None:
    response = rippling_client.get("/workers/?limit=101", headers=full)
    assert response.status_code == 400
    assert "limit" in response.json()["detail"]
    assert rippling_client.get("/workers/?limit=100", headers=full).status_code == 200


def test_next_link_carries_filter_order_and_expand(
    rippling_client: httpx.Client, full: dict[str, str], company: dict[str, Any]
) -> None:
    url = "/workers/?limit=20&filter=status eq 'ACTIVE'&order_by=created_at desc&expand=user"
    workers, requests = fetch_all(rippling_client, url, full)
    active = [w for w in company["rippling"]["workers"] if w["status"] == "ACTIVE"]
    assert len(workers) == len(active)
    assert requests == math.ceil(len(active) / 20)
    assert all(w["status"] == "ACTIVE" and w["user"]["id"] == w["user_id"] for w in workers)
    keys = [(w["created_at"], w["id"]) for w in workers]
    assert keys == sorted(keys, reverse=True)


# --- filters and ordering ------------------------------------------------------------------------
def test_updated_at_filter_returns_exactly_the_newer_workers(
    rippling_client: httpx.Client, full: dict[str, str], company: dict[str, Any]
) -> None:
    url = "/workers/?limit=100&filter=updated_at ge 2026-10-01T00:00:00&order_by=updated_at"
    workers, _ = fetch_all(rippling_client, url, full)
    expected = {
        w["id"]
        for w in company["rippling"]["workers"]
        if w["updated_at"] >= "2026-10-01T00:00:00+00:00"
    }
    assert expected and {w["id"] for w in workers} == expected
    stamps = [w["updated_at"] for w in workers]
    assert stamps == sorted(stamps)


def test_status_and_user_filters(
    rippling_client: httpx.Client, full: dict[str, str], company: dict[str, Any]
) -> None:
    workers, _ = fetch_all(rippling_client, "/workers/?filter=status eq 'TERMINATED'", full)
    expected = [w for w in company["rippling"]["workers"] if w["status"] == "TERMINATED"]
    assert expected and len(workers) == len(expected)
    one = company["rippling"]["workers"][7]
    body = rippling_client.get(
        f"/workers/?filter=user_id eq '{one['user_id']}'", headers=full
    ).json()
    assert [w["id"] for w in body["results"]] == [one["id"]]


@pytest.mark.parametrize(
    "bad",
    [
        "updated_at ge '2026-10-01'",
        "updated_at ge '2026-10-01T00:00:00'",
        "salary ge 5",
        "status gt 'ACTIVE'",
        "status eq ACTIVE",
        "status eq 'ACTIVE' or status eq 'TERMINATED'",
        "updated_at ge yesterday",
        "status eq",
    ],
)
def test_bad_filters_are_400_with_a_message(
    rippling_client: httpx.Client, full: dict[str, str], bad: str
) -> None:
    response = rippling_client.get("/workers/", params={"filter": bad}, headers=full)
    assert response.status_code == 400
    assert response.json()["detail"]


def test_order_by_is_limited_to_what_the_endpoint_offers(
    rippling_client: httpx.Client, full: dict[str, str]
) -> None:
    runs, _ = fetch_all(rippling_client, "/payroll-runs/?order_by=check_date", full)
    dates = [r["check_date"] for r in runs]
    assert dates == sorted(dates)
    desc = rippling_client.get("/payroll-runs/?order_by=check_date desc", headers=full).json()
    assert desc["results"][0]["check_date"] == max(dates)
    for bad in (
        "/payroll-runs/?order_by=updated_at",
        "/workers/?order_by=check_date",
        "/workers/?order_by=updated_at sideways",
    ):
        assert rippling_client.get(bad, headers=full).status_code == 400
    assert (
        rippling_client.get("/payroll-runs/?filter=run_state eq 'PAID'", headers=full).status_code
        == 400
    )


# --- expand --------------------------------------------------------------------------------------
def test_expand_adds_objects_and_keeps_ids(
    rippling_client: httpx.Client, full: dict[str, str], company: dict[str, Any]
) -> None:
    body = rippling_client.get(
        "/workers/?limit=100&expand=user,department,compensation,legal_entity,employment_type,"
        "level,teams,manager.level",
        headers=full,
    ).json()
    for w in body["results"]:
        assert w["user"]["id"] == w["user_id"]
        assert w["department"]["id"] == w["department_id"]
        assert w["compensation"]["id"] == w["compensation_id"]
        assert isinstance(w["compensation"]["annual_compensation"]["value"], int | float)
        assert w["legal_entity"]["id"] == w["legal_entity_id"]
        assert w["employment_type"]["type"] in ("EMPLOYEE", "CONTRACTOR")
        assert [t["id"] for t in w["teams"]] == w["teams_id"]
        if w["manager_id"]:
            assert w["manager"]["id"] == w["manager_id"]
            assert w["manager"]["level"]["id"] == w["manager"]["level_id"]
    stored = {c["id"]: c for c in company["rippling"]["compensations"]}
    sample = body["results"][0]["compensation"]
    wire = Decimal(str(sample["annual_compensation"]["value"]))
    assert wire == Decimal(stored[sample["id"]]["annual_compensation"]["value"])


def test_unknown_relation_is_400(rippling_client: httpx.Client, full: dict[str, str]) -> None:
    response = rippling_client.get("/workers/?expand=user,salary", headers=full)
    assert response.status_code == 400 and "salary" in response.json()["detail"]
    assert rippling_client.get("/payroll-runs/?expand=records", headers=full).status_code == 400


# --- redaction -----------------------------------------------------------------------------------
def _executives(company: dict[str, Any]) -> set[str]:
    dept = next(
        d["id"] for d in company["rippling"]["departments"] if d["reference_code"] == "D100"
    )
    return {w["id"] for w in company["rippling"]["workers"] if w["department_id"] == dept}


def test_limited_token_gets_compensation_redacted_for_executives(
    rippling_client: httpx.Client,
    limited: dict[str, str],
    full: dict[str, str],
    company: dict[str, Any],
) -> None:
    executives = _executives(company)
    assert executives
    url = "/workers/?limit=100&expand=compensation"
    pages_with_redaction = 0
    while url:
        body = rippling_client.get(url, headers=limited).json()
        on_page = [w for w in body["results"] if w["id"] in executives]
        names = {f["name"] for f in body["__meta"]["redacted_fields"]}
        if on_page:
            pages_with_redaction += 1
            assert {"compensation", "compensation_id"} <= names
            assert all(
                f["reason"] == "Insufficient entitlements"
                for f in body["__meta"]["redacted_fields"]
            )
        else:
            assert names == set()
        for w in body["results"]:
            assert ("compensation" in w) == (w["id"] not in executives)
        url = body["next_link"]
    assert pages_with_redaction
    full_body = rippling_client.get("/workers/?limit=100&expand=compensation", headers=full).json()
    assert full_body["__meta"]["redacted_fields"] == []
    assert all("compensation" in w for w in full_body["results"])


def test_limited_token_redacts_compensation_records_and_single_objects(
    rippling_client: httpx.Client, limited: dict[str, str], company: dict[str, Any]
) -> None:
    executive = sorted(_executives(company))[0]
    comp = next(c for c in company["rippling"]["compensations"] if c["worker_id"] == executive)
    body = rippling_client.get(f"/compensations/{comp['id']}/", headers=limited).json()
    assert "annual_compensation" not in body and body["worker_id"] == executive
    assert "annual_compensation" in {f["name"] for f in body["__meta"]["redacted_fields"]}
    other = next(w for w in company["rippling"]["workers"] if w["id"] not in _executives(company))
    body = rippling_client.get(
        f"/workers/{other['id']}/?expand=compensation", headers=limited
    ).json()
    assert body["__meta"]["redacted_fields"] == [] and "compensation" in body


# --- auth ----------------------------------------------------------------------------------------
def test_missing_unknown_and_underscoped_tokens(
    rippling_client: httpx.Client, limited: dict[str, str]
) -> None:
    assert rippling_client.get("/workers/").status_code == 401
    bad = rippling_client.get("/workers/", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    response = rippling_client.get("/payroll-runs/", headers=limited)
    assert response.status_code == 403
    assert "payroll-runs.read" in response.text
    assert rippling_client.get("/workers/", headers=limited).status_code == 200


def test_oauth_refresh_rotates_and_expiry_is_enforced(
    rippling: RipplingService, rippling_client: httpx.Client
) -> None:
    client = rippling.credentials()["oauth_clients"][0]
    auth = (client["client_id"], client["client_secret"])
    first = rippling_client.post(
        "/o/token/",
        auth=auth,
        data={"grant_type": "refresh_token", "refresh_token": client["refresh_token"]},
    )
    assert first.status_code == 200
    grant = first.json()
    assert grant["token_type"] == "Bearer" and grant["expires_in"] == 129600
    assert grant["refresh_token"] != client["refresh_token"]
    bearer = {"Authorization": f"Bearer {grant['access_token']}"}
    assert rippling_client.get("/payroll-runs/", headers=bearer).status_code == 200
    reused = rippling_client.post(
        "/o/token",
        auth=auth,
        data={"grant_type": "refresh_token", "refresh_token": client["refresh_token"]},
    )
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert rippling.credentials()["oauth_clients"][0]["refresh_token"] == grant["refresh_token"]
    wrong = rippling_client.post(
        "/o/token/",
        auth=(client["client_id"], "wrong"),
        data={"grant_type": "refresh_token", "refresh_token": grant["refresh_token"]},
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    rippling.expire_tokens()
    assert rippling_client.get("/workers/", headers=bearer).status_code == 401
    again = rippling_client.post(
        "/o/token/",
        auth=auth,
        data={"grant_type": "refresh_token", "refresh_token": grant["refresh_token"]},
    )
    assert again.status_code == 200
    fresh = {"Authorization": f"Bearer {again.json()['access_token']}"}
    assert rippling_client.get("/workers/", headers=fresh).status_code == 200


def test_access_token_lifetime_is_configurable(tmp_path: Path, company: dict[str, Any]) -> None:
    service = RipplingService(tmp_path, company, base_url=BASE_URL, access_token_lifetime=1)
    client = service.credentials()["oauth_clients"][0]
    with TestClient(service.app, base_url=BASE_URL) as http:
        grant = http.post(
            "/o/token/",
            auth=(client["client_id"], client["client_secret"]),
            data={"grant_type": "authorization_code", "code": client["authorization_code"]},
        ).json()
        assert grant["expires_in"] == 1
        live = http.get("/workers/", headers={"Authorization": f"Bearer {grant['access_token']}"})
        assert live.status_code == 200
        service.clock.advance(1.1)  # the sandbox's own clock: no sleeping, no wall clock
        expired = http.get(
            "/workers/", headers={"Authorization": f"Bearer {grant['access_token']}"}
        )
        assert expired.status_code == 401
    service.close()


# --- retrieve, payroll records -------------------------------------------------------------------
def test_retrieve_and_404(
    rippling_client: httpx.Client, full: dict[str, str], company: dict[str, Any]
) -> None:
    worker = company["rippling"]["workers"][0]
    body = rippling_client.get(f"/workers/{worker['id']}/", headers=full).json()
    assert body["id"] == worker["id"] and body["__meta"] == {"redacted_fields": []}
    missing = rippling_client.get("/workers/doesnotexist/", headers=full)
    assert missing.status_code == 404 and missing.json()["detail"]
    assert (
        rippling_client.get("/payroll-runs/nope/worker-payroll-records/", headers=full).status_code
        == 404
    )


def test_worker_payroll_records_page_without_meta_and_filter_by_worker(
    rippling_client: httpx.Client, full: dict[str, str], company: dict[str, Any]
) -> None:
    run = company["rippling"]["payroll_runs"][0]
    expected = [
        r for r in company["rippling"]["worker_payroll_records"] if r["run_id"] == run["id"]
    ]
    records, requests = fetch_all(
        rippling_client, f"/payroll-runs/{run['id']}/worker-payroll-records/?limit=25", full
    )
    assert len(records) == len(expected) and requests == math.ceil(len(expected) / 25)
    page = rippling_client.get(
        f"/payroll-runs/{run['id']}/worker-payroll-records/", headers=full
    ).json()
    assert "__meta" not in page
    wanted = [expected[0]["worker_id"], expected[1]["worker_id"]]
    body = rippling_client.get(
        f"/payroll-runs/{run['id']}/worker-payroll-records/",
        params={"filter": f"worker_id in ('{wanted[0]}','{wanted[1]}')"},
        headers=full,
    ).json()
    assert sorted(r["worker_id"] for r in body["results"]) == sorted(wanted)
    single = rippling_client.get(
        f"/payroll-runs/{run['id']}/worker-payroll-records/{expected[0]['id']}/", headers=full
    ).json()
    assert single["gross_pay"] == expected[0]["gross_pay"] and "__meta" in single


# --- v1 company activity -------------------------------------------------------------------------
V1_SCOPES = ["company", "company:activity", "employee"]


@pytest.fixture
def v1(rippling_client: httpx.Client, full: dict[str, str]) -> dict[str, str]:
    """The full token with the v1 scopes granted (the generated tokens lack them)."""
    current = rippling_client.get("/_sandbox/api-tokens/full").json()["scopes"]
    granted = rippling_client.put("/_sandbox/api-tokens/full", json={"scopes": current + V1_SCOPES})
    assert granted.status_code == 200 and set(V1_SCOPES) <= set(granted.json()["scopes"])
    return full


def test_company_activity_pages_with_next_cursor(
    rippling_client: httpx.Client,
    v1: dict[str, str],
    rippling: RipplingService,
    company: dict[str, Any],
) -> None:
    full = v1
    start = rippling.store.today().toordinal() - 80
    start_date = type(rippling.store.today()).fromordinal(start).isoformat()
    expected = [
        e["id"]
        for e in company["rippling"]["company_activity"]
        if e["timestamp"][:10] >= start_date
    ]
    assert len(expected) > 5
    seen: list[str] = []
    params: dict[str, str] = {"startDate": start_date, "limit": "5"}
    while True:
        body = rippling_client.get(
            "/platform/api/company_activity", params=params, headers=full
        ).json()
        assert body["error"] is None
        events = body["data"]["events"]
        seen.extend(e["id"] for e in events)
        if len(events) < 5:
            break
        params = {"next": body["data"]["next"], "limit": "5"}
    assert seen == expected
    too_old = rippling_client.get(
        "/platform/api/company_activity", params={"startDate": "2026-01-01"}, headers=full
    )
    assert too_old.status_code == 400 and too_old.json()["error"]


@pytest.mark.parametrize("value", ["2026-11-01T00:00:00Z", "2026-11-01T00:00:00", "20261101"])
def test_company_activity_takes_dates_only(
    rippling_client: httpx.Client, v1: dict[str, str], value: str
) -> None:
    """The spec types startDate and endDate as ``format: date``: a datetime is a 400."""
    for name in ("startDate", "endDate"):
        answer = rippling_client.get(
            "/platform/api/company_activity", params={name: value}, headers=v1
        )
        assert answer.status_code == 400 and "YYYY-MM-DD" in answer.json()["error"]
    ok = rippling_client.get(
        "/platform/api/company_activity", params={"startDate": "2026-11-01"}, headers=v1
    )
    assert ok.status_code == 200 and ok.json()["error"] is None


def test_company_activity_needs_both_v1_scopes(
    rippling_client: httpx.Client, full: dict[str, str]
) -> None:
    """The generated tokens hold ``company:activity`` only, as a v2 token may: refused."""
    params = {"startDate": "2026-11-01"}
    refused = rippling_client.get("/platform/api/company_activity", params=params, headers=full)
    assert refused.status_code == 403 and refused.json()["required_scope"] == "company"
    scopes = rippling_client.get("/_sandbox/api-tokens/full").json()["scopes"]
    rippling_client.put(
        "/_sandbox/api-tokens/full",
        json={"scopes": [s for s in scopes if s != "company:activity"] + ["company"]},
    )
    refused = rippling_client.get("/platform/api/company_activity", params=params, headers=full)
    assert refused.status_code == 403 and refused.json()["required_scope"] == "company:activity"


def test_employee_ids_are_not_worker_ids_and_v1_serves_them(
    rippling_client: httpx.Client, v1: dict[str, str], full: dict[str, str], company: dict
) -> None:
    workers = company["rippling"]["workers"]
    worker = next(w for w in workers if w["status"] == "ACTIVE")
    employee_id = employee_id_for(worker["id"])
    worker_ids = {w["id"] for w in workers}
    user_ids = {w["user_id"] for w in workers}
    assert employee_id not in worker_ids | user_ids
    served = rippling_client.get(f"/platform/api/employees/{employee_id}", headers=v1)
    assert served.status_code == 200, served.text
    body = served.json()
    assert body["id"] == employee_id and body["workEmail"] == worker["work_email"]
    assert body["roleState"] == "ACTIVE" and "userId" not in body  # not in the v1 schema
    # A worker id is not an employee id, and an employee id is not a worker id.
    assert (
        rippling_client.get(f"/platform/api/employees/{worker['id']}", headers=v1).status_code
        == 404
    )
    assert rippling_client.get(f"/workers/{employee_id}/", headers=full).status_code == 404


def test_v1_employee_needs_the_employee_scope(
    rippling_client: httpx.Client, full: dict[str, str], company: dict
) -> None:
    employee_id = employee_id_for(company["rippling"]["workers"][0]["id"])
    refused = rippling_client.get(f"/platform/api/employees/{employee_id}", headers=full)
    assert refused.status_code == 403 and refused.json()["required_scope"] == "employee"


def test_token_scopes_admin_refuses_unknown_labels_and_bad_bodies(
    rippling_client: httpx.Client,
) -> None:
    assert rippling_client.get("/_sandbox/api-tokens/nobody").status_code == 404
    assert rippling_client.put("/_sandbox/api-tokens/full", json={"scopes": "x"}).status_code == 400


# --- admin ---------------------------------------------------------------------------------------
def _latest_seed_update(company: dict[str, Any]) -> str:
    return max(w["updated_at"] for w in company["rippling"]["workers"])


def test_admin_hire_is_visible_through_the_api(
    rippling_client: httpx.Client, v1: dict[str, str], company: dict[str, Any]
) -> None:
    full = v1
    watermark = _latest_seed_update(company)
    hired = rippling_client.post(
        "/_sandbox/workers",
        json={
            "given_name": "Ada",
            "family_name": "Lovelace",
            "department_reference_code": "D120",
            "employment_type": "SALARIED",
            "annual_salary": "120000.00",
        },
    )
    assert hired.status_code == 201, hired.text
    worker = hired.json()["worker"]
    assert worker["updated_at"] > watermark and worker["status"] == "ACTIVE"
    filt = f"updated_at gt {watermark.replace('+00:00', '')}"
    body = rippling_client.get(
        "/workers/", params={"filter": filt, "expand": "user,compensation"}, headers=full
    ).json()
    assert [w["id"] for w in body["results"]] == [worker["id"]]
    assert body["results"][0]["user"]["name"]["family_name"] == "Lovelace"
    assert body["results"][0]["compensation"]["annual_compensation"]["value"] == 120000
    # v1 and webhooks name the employee, not the worker.
    employee_id = hired.json()["employee_id"]
    assert employee_id == employee_id_for(worker["id"]) != worker["id"]
    events = rippling_client.get("/platform/api/company_activity", headers=full).json()
    assert events["data"]["events"][-1]["subjects"][0]["instance"] == employee_id
    assert hired.json()["webhook"] == {
        "event_name": "employee.created",
        "company_id": company["rippling"]["company_id"],
        "company_primary_email": f"hr@{catalog.EMAIL_DOMAIN}",
        "id": employee_id,
    }
    employee = rippling_client.get(f"/platform/api/employees/{employee_id}", headers=full).json()
    assert employee["workEmail"] == worker["work_email"] and employee["lastName"] == "Lovelace"


def test_admin_update_terminate_and_rehire(
    rippling_client: httpx.Client, v1: dict[str, str], company: dict[str, Any]
) -> None:
    full = v1
    worker = next(w for w in company["rippling"]["workers"] if w["status"] == "ACTIVE")
    updated = rippling_client.patch(
        f"/_sandbox/workers/{worker['id']}", json={"family_name": "Renamed", "title": "Principal"}
    )
    assert updated.status_code == 200
    user = rippling_client.get(f"/users/{worker['user_id']}/", headers=full).json()
    assert user["name"]["family_name"] == "Renamed"
    assert (
        rippling_client.patch(
            f"/_sandbox/workers/{worker['id']}", json={"shoe_size": 9}
        ).status_code
        == 400
    )
    gone = rippling_client.post(
        f"/_sandbox/workers/{worker['id']}/terminate",
        json={"end_date": "2026-11-21", "type": "INVOLUNTARY"},
    )
    assert gone.status_code == 200
    seen = rippling_client.get(f"/workers/{worker['id']}/", headers=full).json()
    assert seen["status"] == "TERMINATED" and seen["end_date"] == "2026-11-21"
    assert seen["termination_details"]["type"] == "INVOLUNTARY"
    assert seen["updated_at"] > worker["updated_at"]
    back = rippling_client.post(
        f"/_sandbox/workers/{worker['id']}/rehire", json={"start_date": "2026-11-23"}
    )
    assert back.status_code == 200
    seen2 = rippling_client.get(f"/workers/{worker['id']}/", headers=full).json()
    # The sandbox lives on its company's date (2026-11-20): a start three days on is an offer.
    assert seen2["status"] == "ACCEPTED" and seen2["start_date"] == "2026-11-23"
    assert seen2["end_date"] is None and seen2["updated_at"] > seen["updated_at"]
    assert (
        rippling_client.post(f"/_sandbox/workers/{worker['id']}/rehire", json={}).status_code == 409
    )
    kinds = [
        e["event_type"]
        for e in rippling_client.get("/platform/api/company_activity", headers=full).json()["data"][
            "events"
        ][-3:]
    ]
    assert kinds == ["EMPLOYEE_UPDATED", "EMPLOYEE_TERMINATED", "EMPLOYEE_REHIRED"]
    # The webhooks Rippling would send: employee ids, and no employee.rehired (unpublished).
    webhooks = [updated.json()["webhook"], gone.json()["webhook"], back.json()["webhook"]]
    assert [w["event_name"] for w in webhooks] == [
        "employee.updated",
        "employee.terminated",
        "employee.updated",
    ]
    assert {w["id"] for w in webhooks} == {employee_id_for(worker["id"])}


def test_admin_payroll_run_lifecycle_and_bad_record(
    rippling_client: httpx.Client, full: dict[str, str], company: dict[str, Any]
) -> None:
    entity = company["rippling"]["company_legal_entities"][1]
    created = rippling_client.post(
        "/_sandbox/payroll-runs", json={"company_entity_id": entity["id"], "run_state": "APPROVED"}
    )
    assert created.status_code == 201, created.text
    run = created.json()["run"]
    assert created.json()["records"] > 0 and run["run_state"] == "APPROVED"
    latest = max(r["pay_period"]["end_date"] for r in company["rippling"]["payroll_runs"])
    assert run["pay_period"]["start_date"] > latest
    records, _ = fetch_all(
        rippling_client, f"/payroll-runs/{run['id']}/worker-payroll-records/?limit=100", full
    )
    assert len(records) == created.json()["records"]
    for record in records:
        gross = Decimal(record["gross_pay"])
        s = {k: Decimal(v) for k, v in record["summary"].items()}
        assert gross == (
            Decimal(record["net_pay"])
            + s["employee_taxes"]
            + s["employee_deductions"]
            + s["total_garnishments"]
        )
        assert record["currency"] == "GBP"
    paid = rippling_client.patch(
        f"/_sandbox/payroll-runs/{run['id']}", json={"run_state": "PAID"}
    ).json()
    assert paid["run_state"] == "PAID" and paid["paid_at"]
    assert (
        rippling_client.get(f"/payroll-runs/{run['id']}/", headers=full).json()["run_state"]
        == "PAID"
    )
    bad = {**records[0], "net_pay": str(Decimal(records[0]["net_pay"]) + 1)}
    put = rippling_client.put(
        f"/_sandbox/payroll-runs/{run['id']}/worker-payroll-records/{records[0]['id']}", json=bad
    )
    assert put.status_code == 200
    served = rippling_client.get(
        f"/payroll-runs/{run['id']}/worker-payroll-records/{records[0]['id']}/", headers=full
    ).json()
    assert served["net_pay"] == bad["net_pay"]


# --- persistence and reset -----------------------------------------------------------------------
def test_state_survives_a_restart_and_reset_wipes_it(
    tmp_path: Path, company: dict[str, Any]
) -> None:
    headers = {"Authorization": f"Bearer {_token(company, 'full')}"}
    first = RipplingService(tmp_path, company, base_url=BASE_URL)
    with TestClient(first.app, base_url=BASE_URL) as http:
        worker = http.post(
            "/_sandbox/workers", json={"given_name": "Grace", "family_name": "Hopper"}
        ).json()["worker"]
    first.close()
    second = RipplingService(tmp_path, company, base_url=BASE_URL)
    with TestClient(second.app, base_url=BASE_URL) as http:
        assert http.get(f"/workers/{worker['id']}/", headers=headers).status_code == 200
        second.reset(company)
        assert http.get(f"/workers/{worker['id']}/", headers=headers).status_code == 404
    second.close()
    other = generate_company(workers=20, legal_entities=1, pay_periods=1, seed=99)
    third = RipplingService(tmp_path, other, base_url=BASE_URL)
    with TestClient(third.app, base_url=BASE_URL) as http:
        token = {"Authorization": f"Bearer {_token(other, 'full')}"}
        workers, _ = fetch_all(http, "/workers/?limit=100", token)
        assert len(workers) == 20
        assert http.get("/workers/", headers=headers).status_code == 401
    third.close()


# --- entitlements --------------------------------------------------------------------------------
def _some_path(rippling: RipplingService, resource: Resource, by_id: bool) -> str:
    """A concrete path of ``resource`` (list, or retrieve of its first record)."""
    if resource.kind == "worker_payroll_records":
        record = rippling.store.all("worker_payroll_records")[0]
        base = f"/payroll-runs/{record['run_id']}/worker-payroll-records/"
        return base + f"{record['id']}/" if by_id else base
    if not by_id:
        return resource.path
    return resource.path + f"{rippling.store.all(resource.kind)[0]['id']}/"


def _set_entitlements(client: httpx.Client, ids: list[str]) -> None:
    response = client.put("/_sandbox/entitlements", json={"entitlements": ids})
    assert response.status_code == 200, response.text
    assert response.json() == {"entitlements": sorted(ids)}


GATED = [r for r in RESOURCES.values() if r.kind != "entitlements"]


@pytest.mark.parametrize("by_id", [False, True], ids=["list", "by-id"])
@pytest.mark.parametrize("resource", GATED, ids=lambda r: r.path)
def test_every_endpoint_answers_403_without_its_entitlement(
    rippling: RipplingService,
    rippling_client: httpx.Client,
    full: dict[str, str],
    resource: Resource,
    by_id: bool,
) -> None:
    path = _some_path(rippling, resource, by_id)
    assert rippling_client.get(path, headers=full).status_code == 200
    others = [e[0] for e in catalog.ENTITLEMENTS if e[0] != resource.entitlement]
    _set_entitlements(rippling_client, others)
    refused = rippling_client.get(path, headers=full)
    assert refused.status_code == 403
    body = refused.json()
    assert body["required_entitlement"] == resource.entitlement
    assert resource.entitlement in body["detail"] and "required_scope" not in body
    _set_entitlements(rippling_client, [e[0] for e in catalog.ENTITLEMENTS])
    assert rippling_client.get(path, headers=full).status_code == 200


def test_the_entitlements_each_endpoint_needs_follow_the_spec() -> None:
    needs = {r.path: r.entitlement for r in RESOURCES.values()}
    assert {p for p, e in needs.items() if e == "Global_Payroll"} == {
        "/payroll-runs/",
        "/payroll-runs/{run_id}/worker-payroll-records/",
    }
    assert {p for p, e in needs.items() if e == "API_Tier_1"} == {
        "/workers/",
        "/users/",
        "/departments/",
        "/employment-types/",
        "/teams/",
        "/entitlements/",
    }


def test_a_missing_scope_is_reported_before_a_missing_entitlement(
    rippling_client: httpx.Client, limited: dict[str, str]
) -> None:
    _set_entitlements(rippling_client, ["API_Tier_1", "API_Tier_2"])
    body = rippling_client.get("/payroll-runs/", headers=limited).json()
    assert body["required_scope"] == "payroll-runs.read" and "required_entitlement" not in body


def test_entitlements_list_in_the_v2_envelope_and_admin_changes_it(
    rippling: RipplingService,
    rippling_client: httpx.Client,
    full: dict[str, str],
    company: dict[str, Any],
) -> None:
    body = rippling_client.get("/entitlements/", headers=full).json()
    assert body["__meta"] == {"redacted_fields": []} and body["next_link"] is None
    assert [e["id"] for e in body["results"]] == ["API_Tier_1", "API_Tier_2", "Global_Payroll"]
    assert all(set(e) == {"id", "description", "display_name"} for e in body["results"])
    entitlements, requests = fetch_all(rippling_client, "/entitlements/?limit=1", full)
    assert len(entitlements) == 3 and requests == 3
    assert rippling_client.get("/entitlements/x/", headers=full).status_code == 404  # no retrieve

    _set_entitlements(rippling_client, ["API_Tier_1", "API_Tier_2"])
    assert rippling_client.get("/_sandbox/entitlements").json() == {
        "entitlements": ["API_Tier_1", "API_Tier_2"]
    }
    served = rippling_client.get("/entitlements/", headers=full).json()["results"]
    assert [e["id"] for e in served] == ["API_Tier_1", "API_Tier_2"]
    assert rippling_client.get("/workers/", headers=full).status_code == 200
    assert (
        rippling_client.put("/_sandbox/entitlements", json={"entitlements": "all"}).status_code
        == 400
    )
    rippling.reset(company)  # back to the company file's entitlements
    assert rippling_client.get("/payroll-runs/", headers=full).status_code == 200


def test_a_company_file_without_entitlements_holds_them_all(
    tmp_path: Path, company: dict[str, Any]
) -> None:
    older = {**company, "rippling": dict(company["rippling"])}
    del older["rippling"]["entitlements"]
    service = RipplingService(tmp_path, older, base_url=BASE_URL)
    with TestClient(service.app, base_url=BASE_URL) as http:
        headers = {"Authorization": f"Bearer {_token(older, 'full')}"}
        assert http.get("/payroll-runs/", headers=headers).status_code == 200
        ids = [e["id"] for e in http.get("/entitlements/", headers=headers).json()["results"]]
        assert ids == ["API_Tier_1", "API_Tier_2", "Global_Payroll"]
    service.close()
