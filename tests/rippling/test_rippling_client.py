"""The Rippling client against the sandbox, over real HTTPS."""

import datetime as dt
import json
import math
import random
import ssl
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr
from recording_sleeper import RecordingSleeper

from ml_connector_dagster.credentials.models import RipplingCredentials
from ml_connector_dagster.rippling.client import RipplingClient, _permission_error
from ml_connector_dagster.rippling.errors import (
    RipplingAuthError,
    RipplingDataError,
    RipplingPagingError,
    RipplingPermissionError,
    RipplingUnavailableError,
)
from ml_connector_dagster.transport.retry import RetryPolicy
from ml_connector_sandbox.server import Sandbox


def _token(sandbox: Sandbox, label: str) -> str:
    return next(
        t["token"] for t in sandbox.rippling.credentials()["api_tokens"] if t["label"] == label
    )


def _api_client(sandbox: Sandbox, label: str = "full", **kwargs) -> RipplingClient:
    creds = RipplingCredentials(
        base_url=sandbox.urls["rippling"],
        v1_base_url=sandbox.urls["rippling"] + "/platform/api",
        api_token=SecretStr(_token(sandbox, label)),
    )
    return RipplingClient(creds, ssl_context=sandbox.client_ssl_context(), **kwargs)


def _oauth_client(sandbox: Sandbox, on_refresh=None) -> RipplingClient:
    info = sandbox.rippling.credentials()
    oauth = info["oauth_clients"][0]
    creds = RipplingCredentials(
        base_url=sandbox.urls["rippling"],
        oauth_client_id=oauth["client_id"],
        oauth_client_secret=SecretStr(oauth["client_secret"]),
        oauth_refresh_token=SecretStr(oauth["refresh_token"]),
        oauth_token_url=info["token_url"],
    )
    return RipplingClient(
        creds, ssl_context=sandbox.client_ssl_context(), on_refresh_token=on_refresh
    )


def _faults(sandbox: Sandbox, config: dict) -> None:
    with httpx.Client(verify=sandbox.client_ssl_context()) as admin:
        assert (
            admin.put(sandbox.urls["rippling"] + "/_sandbox/faults", json=config).status_code == 200
        )


def test_workers_are_paged_with_expand_in_ceil_n_over_100_requests(fresh_sandbox: Sandbox) -> None:
    total = len(fresh_sandbox.company["rippling"]["workers"])
    with _api_client(fresh_sandbox, page_size=7) as client:
        workers = list(client.workers())
        assert client.requests_sent == math.ceil(total / 7)
    assert len({w.id for w in workers}) == total
    # expanded objects arrive on the same request: no N+1
    assert all(w.user is not None and w.department is not None for w in workers if w.department_id)
    with _api_client(fresh_sandbox) as client:
        list(client.workers())
        assert client.requests_sent == math.ceil(total / 100)


def test_limited_token_sees_compensation_redacted_never_zero(fresh_sandbox: Sandbox) -> None:
    with _api_client(fresh_sandbox, "limited") as client:
        workers = list(client.workers())
    redacted = [w for w in workers if w.compensation_redacted]
    visible = [w for w in workers if not w.compensation_redacted]
    assert redacted and visible
    assert all(w.compensation is None for w in redacted)
    with _api_client(fresh_sandbox) as client:
        full = {w.id: w for w in client.workers()}
    assert all(full[w.id].compensation is not None for w in redacted)


def test_incremental_read_sees_a_change_made_after_the_watermark(fresh_sandbox: Sandbox) -> None:
    with _api_client(fresh_sandbox) as client:
        first = client.workers_updated_since(None)
        assert first.watermark is not None
        again = client.workers_updated_since(first.watermark, overlap=dt.timedelta(0))
        target = first.records[0]
        with httpx.Client(verify=fresh_sandbox.client_ssl_context()) as admin:
            answer = admin.patch(
                f"{fresh_sandbox.urls['rippling']}/_sandbox/workers/{target.id}",
                json={"title": "Principal"},
            )
            assert answer.status_code == 200, answer.text
        changed = client.workers_updated_since(first.watermark, overlap=dt.timedelta(minutes=5))
    assert target.id not in {w.id for w in again.records} or len(again.records) < len(first.records)
    assert target.id in {w.id for w in changed.records}
    assert changed.watermark > first.watermark
    assert len(changed.records) == len({w.id for w in changed.records})  # deduplicated


def test_429_without_retry_after_backs_off_with_growing_jittered_waits(
    fresh_sandbox: Sandbox,
) -> None:
    _faults(fresh_sandbox, {"rippling": [{"kind": "throttle", "share": 1.0, "times": 5}]})
    sleeper = RecordingSleeper()
    policy = RetryPolicy(attempts=8, base=1.0, cap=60.0, sleep=sleeper, rng=random.Random(3))
    with _api_client(fresh_sandbox, retry=policy) as client:
        departments = list(client.departments())
    assert departments
    assert len(sleeper.waits) == 5
    for attempt, wait in enumerate(sleeper.waits):
        assert 0 <= wait <= min(60.0, 2**attempt)
    assert len(set(sleeper.waits)) == 5  # jittered, not a fixed schedule


def test_throttling_beyond_the_budget_fails_clearly(fresh_sandbox: Sandbox) -> None:
    _faults(fresh_sandbox, {"rippling": [{"kind": "throttle", "share": 1.0}]})
    policy = RetryPolicy(attempts=3, sleep=RecordingSleeper())
    with (
        _api_client(fresh_sandbox, retry=policy) as client,
        pytest.raises(RipplingUnavailableError, match="gave up after 3 attempts"),
    ):
        list(client.departments())


def test_5xx_and_dropped_connections_are_retried(fresh_sandbox: Sandbox) -> None:
    _faults(
        fresh_sandbox,
        {"rippling": [{"kind": "server_error", "nth": 1}, {"kind": "drop", "nth": 2}]},
    )
    sleeper = RecordingSleeper()
    with _api_client(fresh_sandbox, retry=RetryPolicy(sleep=sleeper)) as client:
        assert list(client.departments())
    assert len(sleeper.waits) == 2


def test_api_token_401_says_to_create_a_new_token(fresh_sandbox: Sandbox) -> None:
    creds = RipplingCredentials(
        base_url=fresh_sandbox.urls["rippling"], api_token=SecretStr("nope")
    )
    with (
        RipplingClient(creds, ssl_context=fresh_sandbox.client_ssl_context()) as client,
        pytest.raises(RipplingAuthError, match="create a new token in Rippling"),
    ):
        list(client.departments())


def test_403_names_the_endpoint_and_scope(fresh_sandbox: Sandbox) -> None:
    with (
        _api_client(fresh_sandbox, "limited") as client,
        pytest.raises(RipplingPermissionError) as caught,
    ):
        list(client.payroll_runs())
    assert caught.value.scope == "payroll-runs.read"
    assert "/payroll-runs/" in str(caught.value)
    # The body names the scope: the scope is the cause, even though the endpoint is gated too.
    assert caught.value.cause == "scope" and caught.value.missing_entitlement is None
    assert "needs the scope 'payroll-runs.read' (add it to the app" in str(caught.value)
    assert "Global_Payroll" not in str(caught.value)


def _entitle(sandbox: Sandbox, *ids: str) -> None:
    """The company's entitlements, set through the stand-in's admin endpoint."""
    with httpx.Client(verify=sandbox.client_ssl_context()) as admin:
        response = admin.put(
            sandbox.urls["rippling"] + "/_sandbox/entitlements", json={"entitlements": list(ids)}
        )
        assert response.status_code == 200, response.text


def test_403_without_global_payroll_names_the_entitlement_not_a_scope(
    fresh_sandbox: Sandbox,
) -> None:
    run_id = fresh_sandbox.company["rippling"]["payroll_runs"][0]["id"]
    _entitle(fresh_sandbox, "API_Tier_1", "API_Tier_2")
    with _api_client(fresh_sandbox) as client:
        for read in (
            lambda: list(client.payroll_runs()),
            lambda: client.payroll_run(run_id),
            lambda: list(client.worker_payroll_records(run_id)),
        ):
            with pytest.raises(RipplingPermissionError) as caught:
                read()
            error = caught.value
            assert (error.cause, error.entitlement) == ("entitlement", "Global_Payroll")
            assert error.missing_entitlement == "Global_Payroll"
            assert "lacks the entitlement 'Global_Payroll'" in str(error)
            assert "ask Rippling to enable it" in str(error)
            assert "needs the scope" not in str(error)
        assert list(client.workers())  # API_Tier_1 endpoints still answer
        assert list(client.legal_entities())


def test_403_without_api_tier_2_names_it(fresh_sandbox: Sandbox) -> None:
    _entitle(fresh_sandbox, "API_Tier_1", "Global_Payroll")
    with _api_client(fresh_sandbox) as client:
        for read in (client.legal_entities, client.job_codes, client.compensations):
            with pytest.raises(RipplingPermissionError, match="'API_Tier_2'") as caught:
                list(read())
            assert caught.value.cause == "entitlement"
        assert [e.id for e in client.entitlements()] == ["API_Tier_1", "Global_Payroll"]


def _refusal(path: str, **kwargs) -> RipplingPermissionError:
    request = httpx.Request("GET", "https://rest.ripplingapis.com" + path)
    return _permission_error(path, httpx.Response(403, request=request, **kwargs))


def test_an_undocumented_403_body_is_read_for_hints_only() -> None:
    # Rippling documents no 403 body: whatever names the entitlement wins, then the scope.
    named = _refusal("/payroll-runs/", json={"detail": "Insufficient entitlements"})
    assert (named.cause, named.entitlement) == ("entitlement", "Global_Payroll")
    keyed = _refusal("/job-codes/", json={"required_entitlement": "API_Tier_2"})
    assert (keyed.cause, keyed.entitlement) == ("entitlement", "API_Tier_2")
    scope = _refusal("/payroll-runs/", json={"detail": "Missing required scope"})
    assert scope.cause == "scope" and scope.missing_entitlement is None
    for unclear in (
        _refusal("/payroll-runs/r1/worker-payroll-records/", json={"detail": "Forbidden"}),
        _refusal("/payroll-runs/", text="<html>403 Forbidden</html>"),
        _refusal("/payroll-runs/", content=b""),
    ):
        assert unclear.cause == "scope or entitlement"
        assert unclear.missing_entitlement == "Global_Payroll"
        message = str(unclear)
        assert "either the token needs the scope" in message
        assert "lacks the entitlement 'Global_Payroll'" in message
        assert "does not say which" in message
    v1 = _refusal("/platform/api/company_activity", json={"detail": "Forbidden"})
    assert v1.cause == "scope" and v1.entitlement is None  # v1 has no entitlement


def test_oauth_refreshes_on_expiry_and_hands_over_the_rotated_refresh_token(
    fresh_sandbox: Sandbox,
) -> None:
    rotated: list[SecretStr] = []
    with _oauth_client(fresh_sandbox, on_refresh=rotated.append) as client:
        assert list(client.departments())
        assert len(rotated) == 1  # first access token: the refresh token rotated
        with httpx.Client(verify=fresh_sandbox.client_ssl_context()) as admin:
            admin.post(fresh_sandbox.urls["rippling"] + "/_sandbox/tokens/expire")
        assert list(client.departments())  # 401 -> refresh -> retried once
    assert len(rotated) == 2
    assert rotated[0].get_secret_value() != rotated[1].get_secret_value()
    current = fresh_sandbox.rippling.credentials()["oauth_clients"][0]["refresh_token"]
    assert rotated[-1].get_secret_value() == current


def test_the_resend_after_a_401_is_one_more_request_and_refreshes_once(
    fresh_sandbox: Sandbox,
) -> None:
    rotated: list[SecretStr] = []
    with _oauth_client(fresh_sandbox, on_refresh=rotated.append) as client:
        list(client.departments())
        before = client.requests_sent
        with httpx.Client(verify=fresh_sandbox.client_ssl_context()) as admin:
            admin.post(fresh_sandbox.urls["rippling"] + "/_sandbox/tokens/expire")
        assert list(client.departments())
        assert client.requests_sent - before == 2  # the refused page, then the same page again
    assert len(rotated) == 2  # one refresh for the 401, not one per try


def test_a_401_to_a_freshly_refreshed_token_is_named_not_retried(fresh_sandbox: Sandbox) -> None:
    """Every token dies before /departments/ reads it: one refresh, then a clear error."""
    _faults(
        fresh_sandbox,
        {"rippling": [{"kind": "expire_tokens", "share": 1.0, "path_prefix": "/departments"}]},
    )
    sleeper = RecordingSleeper()
    with _oauth_client(fresh_sandbox) as client:
        client.retry.sleep = sleeper
        with pytest.raises(RipplingAuthError, match="still answers 401 to /departments/ after"):
            list(client.departments())
        assert client.requests_sent == 2
    assert sleeper.waits == []


def test_a_throttle_after_a_refresh_is_still_retried(fresh_sandbox: Sandbox) -> None:
    _faults(
        fresh_sandbox,
        {
            "rippling": [
                {"kind": "expire_tokens", "nth": 1, "path_prefix": "/departments"},
                {"kind": "throttle", "nth": 2, "path_prefix": "/departments"},
            ]
        },
    )
    sleeper = RecordingSleeper()
    with _oauth_client(fresh_sandbox) as client:
        client.retry.sleep = sleeper
        assert list(client.departments())
        assert client.requests_sent == 3  # 401, re-send answered 429, then the page
    assert len(sleeper.waits) == 1 and 0 <= sleeper.waits[0] <= 1.0


def test_payroll_records_parse_to_decimal(fresh_sandbox: Sandbox) -> None:
    with _api_client(fresh_sandbox) as client:
        run = next(r for r in client.payroll_runs() if r.run_state == "PAID")
        records = list(client.worker_payroll_records(run.id))
        single = client.payroll_run(run.id)
    assert single.id == run.id and single.pay_period is not None
    assert records and all(r.run_id == run.id for r in records)
    for record in records:
        assert record.gross_pay == sum(
            (e.amount for e in record.earnings), start=record.gross_pay * 0
        )


def _grant_v1_scopes(sandbox: Sandbox, label: str = "full") -> None:
    url = f"{sandbox.urls['rippling']}/_sandbox/api-tokens/{label}"
    with httpx.Client(verify=sandbox.client_ssl_context()) as admin:
        scopes = admin.get(url).json()["scopes"] + ["company", "company:activity", "employee"]
        admin.put(url, json={"scopes": scopes}).raise_for_status()


def test_company_activity_follows_its_cursor(fresh_sandbox: Sandbox) -> None:
    as_of = dt.datetime.fromisoformat(fresh_sandbox.company["meta"]["as_of"]).replace(tzinfo=dt.UTC)
    _grant_v1_scopes(fresh_sandbox)
    with _api_client(fresh_sandbox) as client:
        first = client.company_activity(as_of - dt.timedelta(days=80), limit=5)
        requests = client.requests_sent
        caught_up = client.company_activity(cursor=first.cursor, limit=5)
    events = first.events
    assert len(events) > 5 and requests >= 2
    assert len({json.dumps(e, sort_keys=True, default=str) for e in events}) == len(events)
    assert first.cursor and caught_up.events == []


def test_company_activity_sends_dates_as_dates(fresh_sandbox: Sandbox) -> None:
    """The sandbox answers 400 to a datetime startDate, as the v1 spec's ``date`` says."""
    _grant_v1_scopes(fresh_sandbox)
    sent: list[httpx.URL] = []
    late_evening = dt.datetime(2026, 11, 19, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    with _api_client(fresh_sandbox) as client:
        client._http.event_hooks = {"request": [lambda r: sent.append(r.url)], "response": []}
        client.company_activity(start=late_evening, end=dt.date(2026, 11, 20))
        client.company_activity(start=dt.date(2026, 11, 18))
    assert sent[0].params["startDate"] == "2026-11-20"  # the UTC day of the instant
    assert sent[0].params["endDate"] == "2026-11-20"
    assert sent[-1].params["startDate"] == "2026-11-18"


def test_company_activity_403_names_both_v1_scopes(fresh_sandbox: Sandbox) -> None:
    with _api_client(fresh_sandbox) as client, pytest.raises(RipplingPermissionError) as caught:
        client.company_activity(start=dt.date(2026, 11, 18))
    assert "'company, company:activity'" in str(caught.value)


def test_v1_employee_is_read_with_its_scope(fresh_sandbox: Sandbox) -> None:
    from ml_connector_sandbox.rippling.employees import employee_id_for

    worker = fresh_sandbox.company["rippling"]["workers"][0]
    employee_id = employee_id_for(worker["id"])
    with _api_client(fresh_sandbox) as client, pytest.raises(RipplingPermissionError) as caught:
        client.employee(employee_id)
    assert "'employee'" in str(caught.value)
    _grant_v1_scopes(fresh_sandbox)
    with _api_client(fresh_sandbox) as client:
        employee = client.employee(employee_id)
    assert employee.id == employee_id and employee.work_email == worker["work_email"]
    assert employee.user_id is None  # not in the v1 schema, not served


def test_next_link_to_another_port_is_refused(sandbox: Sandbox) -> None:
    """A page whose next_link points at another origin (here: the F&O port) is not followed."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = {
            "results": [{"id": "d1"}],
            "next_link": f"{sandbox.urls['dynamics']}/departments/?cursor=x",
        }
        return httpx.Response(200, json=body)

    creds = RipplingCredentials(base_url=sandbox.urls["rippling"], api_token=SecretStr("t"))
    client = RipplingClient(creds, ssl_context=ssl.create_default_context())
    client._http = httpx.Client(transport=httpx.MockTransport(handler))
    pages = client.departments()
    assert next(pages).id == "d1"
    with pytest.raises(RipplingPagingError, match="not the Rippling API host"):
        next(pages)


def test_compensation_money_arrives_as_exact_decimal(fresh_sandbox: Sandbox) -> None:
    seeded = {c["id"]: c for c in fresh_sandbox.company["rippling"]["compensations"]}
    with _api_client(fresh_sandbox) as client:
        compensations = list(client.compensations())
    checked = 0
    for comp in compensations:
        money = comp.annual_compensation or comp.hourly_wage
        source = seeded[comp.id].get("annual_compensation") or seeded[comp.id].get("hourly_wage")
        if money is None or source is None:
            continue
        assert isinstance(money.value, Decimal)
        assert money.value == Decimal(source["value"])
        checked += 1
    assert checked > 0


def test_a_malformed_record_names_the_record_and_field(sandbox: Sandbox) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {
            "results": [
                {
                    "id": "pre_9",
                    "run_id": "r",
                    "worker_id": "w",
                    "currency": "USD",
                    "gross_pay": "12x.00",
                    "net_pay": "1.00",
                }
            ]
        }
        return httpx.Response(200, json=body)

    creds = RipplingCredentials(base_url=sandbox.urls["rippling"], api_token=SecretStr("t"))
    client = RipplingClient(creds, ssl_context=ssl.create_default_context())
    client._http = httpx.Client(transport=httpx.MockTransport(handler))
    with pytest.raises(RipplingDataError) as caught:
        list(client.worker_payroll_records("r"))
    assert "record pre_9" in str(caught.value) and "gross_pay" in str(caught.value)
