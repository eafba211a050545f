"""The stand-in's time allocation sources, strict per the v2 spec (issue 15).

``/worker-time-splits/`` (scope ``worker-time-splits.read``), ``/time-entries/``
(``time-entries.read``) and ``/time-cards/`` (``time-cards.read``), all behind ``API_Tier_2``:
their filters, sort fields and expansions are exactly the spec's ``x-rippling-*`` lists.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from ml_connector_sandbox.company import generate_company
from ml_connector_sandbox.rippling import RipplingService

BASE_URL = "https://127.0.0.1:8441"


@pytest.fixture(scope="module")
def company() -> dict[str, Any]:
    return generate_company(workers=400, pay_periods=3)


@pytest.fixture
def client(tmp_path: Path, company: dict[str, Any]) -> Iterator[httpx.Client]:
    service = RipplingService(tmp_path, company, base_url=BASE_URL)
    with TestClient(service.app, base_url=service.base_url) as test_client:
        yield test_client
    service.close()


@pytest.fixture
def full(company: dict[str, Any]) -> dict[str, str]:
    token = company["rippling"]["credentials"]["api_tokens"][0]
    assert token["label"] == "full"
    return {"Authorization": f"Bearer {token['token']}"}


def _all(client: httpx.Client, url: str, headers: dict[str, str]) -> tuple[list[dict], int]:
    out: list[dict] = []
    pages = 0
    while url:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "__meta" in body
        out.extend(body["results"])
        pages += 1
        url = body["next_link"]
    return out, pages


@pytest.mark.parametrize(
    "size",
    [{"workers": 400, "pay_periods": 3}, {"workers": 40, "departments": 5, "pay_periods": 4}],
    ids=["default", "conftest small"],
)
def test_the_company_has_workers_of_each_kind(size: dict[str, int]) -> None:
    rippling = generate_company(**size)["rippling"]
    codes = {c["id"] for c in rippling["job_codes"]}
    held: dict[str, set[str]] = {}
    for assignment in rippling["job_assignments"]:
        held.setdefault(assignment["worker_id"], set()).add(assignment["job_code_id"])
    hours_on: dict[str, set[str]] = {}
    for entry in rippling["time_entries"]:
        for shift in entry["job_shifts"]:
            hours_on.setdefault(entry["worker_id"], set()).update(shift["job_codes_id"])
    enabled = {s["worker_id"] for s in rippling["worker_time_splits"] if s["is_enabled"]}
    disabled = {s["worker_id"] for s in rippling["worker_time_splits"] if not s["is_enabled"]}
    several = {w for w, held_codes in held.items() if len(held_codes) > 1}
    assert any(len(on) > 1 for on in hours_on.values())  # hours across job codes
    assert any(len(on) == 1 and len(held[w]) == 1 for w, on in hours_on.items())  # and one
    assert enabled - set(hours_on) and enabled & set(hours_on)  # a split alone, and under hours
    assert several - set(hours_on) - enabled  # several assignments and neither source
    assert disabled and not disabled & enabled
    assert {e["status"] for e in rippling["time_entries"]} >= {"PAID", "APPROVED", "DRAFT"}
    assert set().union(*hours_on.values()) <= codes
    for split in rippling["worker_time_splits"]:
        shares = [Decimal(row["split_percentage"]) for row in split["splits"]]
        assert sum(shares) == (100 if split["is_enabled"] else 0)
        split_codes = {c for row in split["splits"] for c in row["job_code_ids"]}
        assert split_codes <= codes and sorted(split_codes) == split["job_codes_id"]


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/worker-time-splits/", "worker_time_splits"),
        ("/time-entries/", "time_entries"),
        ("/time-cards/", "time_cards"),
    ],
)
def test_lists_page_through_every_record(
    client: httpx.Client, full: dict[str, str], company: dict[str, Any], path: str, kind: str
) -> None:
    records, pages = _all(client, f"{path}?limit=7", full)
    expected = company["rippling"][kind]
    assert sorted(r["id"] for r in records) == sorted(r["id"] for r in expected)
    assert pages == -(-len(expected) // 7)
    by_id, _ = _all(client, f"{path}?order_by=id%20desc&limit=50", full)
    assert [r["id"] for r in by_id] == sorted((r["id"] for r in expected), reverse=True)
    one = expected[0]
    response = client.get(f"{path}{one['id']}/", headers=full)
    assert response.status_code == 200 and response.json()["worker_id"] == one["worker_id"]


@pytest.mark.parametrize(
    ("path", "scope"),
    [
        ("/worker-time-splits/", "worker-time-splits.read"),
        ("/time-entries/", "time-entries.read"),
        ("/time-cards/", "time-cards.read"),
    ],
)
def test_each_needs_its_scope(
    client: httpx.Client, full: dict[str, str], path: str, scope: str
) -> None:
    scopes = client.get("/_sandbox/api-tokens/full").json()["scopes"]
    assert scope in scopes
    client.put("/_sandbox/api-tokens/full", json={"scopes": [s for s in scopes if s != scope]})
    refused = client.get(path, headers=full)
    assert refused.status_code == 403 and refused.json()["required_scope"] == scope


def test_time_entries_filter_by_pay_period_worker_and_start_time(
    client: httpx.Client, full: dict[str, str], company: dict[str, Any]
) -> None:
    entries = company["rippling"]["time_entries"]
    start = entries[-1]["pay_period"]["start_date"]
    got, _ = _all(client, f"/time-entries/?filter=pay_period.start_date eq {start}", full)
    assert {e["id"] for e in got} == {
        e["id"] for e in entries if e["pay_period"]["start_date"] == start
    }
    worker = entries[0]["worker_id"]
    both = f"pay_period.start_date eq {start} and worker_id eq '{worker}'"
    got, _ = _all(client, f"/time-entries/?filter={both}", full)
    assert {e["id"] for e in got} == {
        e["id"]
        for e in entries
        if e["pay_period"]["start_date"] == start and e["worker_id"] == worker
    }
    moment = entries[len(entries) // 2]["start_time"][:19]
    got, _ = _all(client, f"/time-entries/?filter=start_time ge {moment}", full)
    assert {e["id"] for e in got} == {e["id"] for e in entries if e["start_time"][:19] >= moment}
    for bad in (
        f"pay_period.start_date eq '{start}'",  # quoted, like a quoted datetime
        "pay_period.start_date eq 2026-13-01",
        "pay_period.end_date eq 2026-11-01",  # not a filterable field
        "status eq 'PAID'",
    ):
        assert client.get(f"/time-entries/?filter={bad}", headers=full).status_code == 400, bad
    expanded = client.get("/time-entries/?expand=time_card,worker&limit=1", headers=full).json()
    entry = expanded["results"][0]
    assert entry["time_card"]["id"] == entry["time_card_id"]
    assert entry["worker"]["id"] == entry["worker_id"]


def test_time_splits_filter_by_is_enabled_and_expand_job_codes(
    client: httpx.Client, full: dict[str, str], company: dict[str, Any]
) -> None:
    splits = company["rippling"]["worker_time_splits"]
    on, _ = _all(client, "/worker-time-splits/?filter=is_enabled eq true&expand=job_codes", full)
    assert {s["id"] for s in on} == {s["id"] for s in splits if s["is_enabled"]}
    for split in on:
        assert sorted(c["id"] for c in split["job_codes"]) == split["job_codes_id"]
    off, _ = _all(client, "/worker-time-splits/?filter=is_enabled eq false", full)
    assert {s["id"] for s in off} == {s["id"] for s in splits if not s["is_enabled"]}
    for bad in (
        "is_enabled eq 'true'",
        "is_enabled gt true",
        "created_at ge 2026-01-01T00:00:00",  # the spec lists updated_at, not created_at
    ):
        assert client.get(f"/worker-time-splits/?filter={bad}", headers=full).status_code == 400
    assert client.get("/worker-time-splits/?expand=splits", headers=full).status_code == 400
    assert client.get("/worker-time-splits/?order_by=worker_id", headers=full).status_code == 400
