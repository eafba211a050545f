"""The client reads Rippling's time allocation sources from the sandbox, over real HTTPS.

``/worker-time-splits/`` and ``/time-entries/`` are read with the same paging, retry and
permission machinery as every other list; a token without the scope or a company without
``API_Tier_2`` is refused with an error naming what is missing.
"""

import datetime as dt
import math

import httpx
import pytest
from pydantic import SecretStr

from ml_connector_dagster.credentials.models import RipplingCredentials
from ml_connector_dagster.rippling.client import RipplingClient
from ml_connector_dagster.rippling.errors import RipplingPermissionError
from ml_connector_sandbox.server import Sandbox


def _client(sandbox: Sandbox, **kwargs) -> RipplingClient:
    token = next(t for t in sandbox.rippling.credentials()["api_tokens"] if t["label"] == "full")
    creds = RipplingCredentials(
        base_url=sandbox.urls["rippling"], api_token=SecretStr(token["token"])
    )
    return RipplingClient(creds, ssl_context=sandbox.client_ssl_context(), **kwargs)


def _admin(sandbox: Sandbox, path: str, body: dict) -> None:
    with httpx.Client(verify=sandbox.client_ssl_context()) as admin:
        admin.put(sandbox.urls["rippling"] + path, json=body).raise_for_status()


def _scopes_without(sandbox: Sandbox, scope: str) -> None:
    with httpx.Client(verify=sandbox.client_ssl_context()) as admin:
        url = sandbox.urls["rippling"] + "/_sandbox/api-tokens/full"
        scopes = admin.get(url).json()["scopes"]
    assert scope in scopes
    _admin(sandbox, "/_sandbox/api-tokens/full", {"scopes": [s for s in scopes if s != scope]})


def test_time_entries_of_a_pay_period_are_paged_to_the_last(fresh_sandbox: Sandbox) -> None:
    seeded = fresh_sandbox.company["rippling"]["time_entries"]
    start = seeded[0]["pay_period"]["start_date"]
    expected = {e["id"]: e for e in seeded if e["pay_period"]["start_date"] == start}
    assert len(expected) > 3
    with _client(fresh_sandbox, page_size=3) as client:
        entries = list(client.time_entries(dt.date.fromisoformat(start)))
        assert client.requests_sent == math.ceil(len(expected) / 3)
    assert {e.id for e in entries} == set(expected)
    for entry in entries:
        raw = expected[entry.id]
        assert entry.worker_id == raw["worker_id"] and entry.status == raw["status"]
        assert entry.pay_period is not None
        assert entry.pay_period.start_date == dt.date.fromisoformat(start)
        assert [s.job_codes_id for s in entry.job_shifts] == [
            tuple(s["job_codes_id"]) for s in raw["job_shifts"]
        ]
    with _client(fresh_sandbox) as client:
        assert {e.id for e in client.time_entries()} == {e["id"] for e in seeded}


def test_worker_time_splits_are_read_enabled_or_not(fresh_sandbox: Sandbox) -> None:
    seeded = fresh_sandbox.company["rippling"]["worker_time_splits"]
    with _client(fresh_sandbox, page_size=2) as client:
        splits = list(client.worker_time_splits())
        assert client.requests_sent == math.ceil(len(seeded) / 2)
    by_id = {s.id: s for s in splits}
    assert set(by_id) == {s["id"] for s in seeded}
    for raw in seeded:
        split = by_id[raw["id"]]
        assert split.is_enabled is raw["is_enabled"]
        assert [(r.split_percentage, list(r.job_code_ids)) for r in split.splits] == [
            (r["split_percentage"], r["job_code_ids"]) for r in raw["splits"]
        ]


@pytest.mark.parametrize(
    ("scope", "read"),
    [
        ("time-entries.read", lambda c: list(c.time_entries())),
        ("worker-time-splits.read", lambda c: list(c.worker_time_splits())),
    ],
)
def test_a_token_without_the_scope_is_refused_naming_it(
    fresh_sandbox: Sandbox, scope: str, read
) -> None:
    _scopes_without(fresh_sandbox, scope)
    with _client(fresh_sandbox) as client, pytest.raises(RipplingPermissionError) as caught:
        read(client)
    assert caught.value.cause == "scope"
    assert f"needs the scope '{scope}'" in str(caught.value)


def test_a_company_without_api_tier_2_is_refused_naming_it(fresh_sandbox: Sandbox) -> None:
    _admin(fresh_sandbox, "/_sandbox/entitlements", {"entitlements": ["API_Tier_1"]})
    with _client(fresh_sandbox) as client:
        for read in (client.time_entries, client.worker_time_splits):
            with pytest.raises(RipplingPermissionError, match="'API_Tier_2'") as caught:
                list(read())
            assert caught.value.cause == "entitlement"
