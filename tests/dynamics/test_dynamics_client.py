"""The Dynamics client (MSAL + httpx) against the F&O and Entra stand-ins over real HTTPS."""

import random
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr
from recording_sleeper import RecordingSleeper

from ml_connector_dagster.credentials.models import DynamicsCredentials
from ml_connector_dagster.dynamics import readers
from ml_connector_dagster.dynamics.client import DynamicsClient
from ml_connector_dagster.dynamics.errors import (
    AmbiguousWriteError,
    BatchError,
    DynamicsAuthError,
    DynamicsRequestError,
    DynamicsUnavailableError,
)
from ml_connector_dagster.dynamics.odata import eq
from ml_connector_dagster.transport.retry import RetryPolicy
from ml_connector_sandbox.server import Sandbox


def _credentials(
    sandbox: Sandbox, *, registered: bool = True, secret: str | None = None
) -> DynamicsCredentials:
    client = next(
        c
        for c in sandbox.entra.credentials()["clients"]
        if c["registered_in_dynamics"] is registered
    )
    return DynamicsCredentials(
        environment_url=sandbox.urls["dynamics"],
        tenant_id=sandbox.entra.tenant_id,
        client_id=client["client_id"],
        client_secret=SecretStr(secret or client["client_secret"]),
        authority_host=sandbox.urls["entra"],
        allow_any_host=True,
    )


def _client(sandbox: Sandbox, **kwargs) -> DynamicsClient:
    creds = kwargs.pop("credentials", None) or _credentials(sandbox)
    return DynamicsClient(creds, ssl_context=sandbox.client_ssl_context(), **kwargs)


def _faults(sandbox: Sandbox, config: dict) -> None:
    with httpx.Client(verify=sandbox.client_ssl_context()) as admin:
        assert (
            admin.put(sandbox.urls["dynamics"] + "/_sandbox/faults", json=config).status_code == 200
        )


def _company(sandbox: Sandbox) -> str:
    return sandbox.company["dynamics"]["JournalNames"][0]["dataAreaId"]


def test_reads_span_companies_and_follow_next_links(fresh_sandbox: Sandbox) -> None:
    with _client(fresh_sandbox) as client:
        entities = readers.legal_entities(client)
        values = readers.financial_dimension_values(client)
        sent = client.requests_sent
    assert len(entities) == len(fresh_sandbox.company["dynamics"]["LegalEntities"]) > 1
    assert len(values) == len(fresh_sandbox.company["dynamics"]["FinancialDimensionValues"])
    assert sent > 2  # the session sandbox pages small, so several nextLinks were followed


def test_company_bound_reads_see_every_company_even_with_a_filter(fresh_sandbox: Sandbox) -> None:
    seeded = {row["dataAreaId"] for row in fresh_sandbox.company["dynamics"]["JournalNames"]}
    with _client(fresh_sandbox) as client:
        unfiltered = {row["dataAreaId"] for row in client.list_entities("JournalNames")}
        filtered = {
            row["dataAreaId"]
            for row in client.list_entities("JournalNames", filter=eq("Name", "PAYROLL"))
        }
    assert len(seeded) > 1
    assert unfiltered == filtered == seeded


def test_active_ledger_format_and_delimiter(fresh_sandbox: Sandbox) -> None:
    with _client(fresh_sandbox) as client:
        active = readers.active_format(client)
    assert active.dimensions == ("MainAccount", "BusinessUnit", "Department", "CostCenter")
    assert active.delimiter == "-"


def test_header_then_lines_in_one_atomic_batch(fresh_sandbox: Sandbox) -> None:
    company = _company(fresh_sandbox)
    with _client(fresh_sandbox) as client:
        header = client.create(
            "LedgerJournalHeaders",
            {"dataAreaId": company, "JournalName": "PAYROLL", "Description": "client test"},
        )
        number = header["JournalBatchNumber"]
        line = {
            "dataAreaId": company,
            "JournalBatchNumber": number,
            "TransDate": "2026-11-20T00:00:00Z",
            "CurrencyCode": "USD",
            "AccountType": "Ledger",
        }
        answers = client.create_many(
            "LedgerJournalLines",
            [
                {
                    **line,
                    "AccountDisplayValue": "600100-001-D100-CCEXE",
                    "DebitAmount": Decimal("0.10"),
                },
                {
                    **line,
                    "AccountDisplayValue": "600100-001-D100-CCEXE",
                    "DebitAmount": Decimal("0.20"),
                },
                {**line, "AccountDisplayValue": "220400-001--", "CreditAmount": Decimal("0.30")},
            ],
        )
        read = client.get_entity(
            "LedgerJournalHeaders", {"dataAreaId": company, "JournalBatchNumber": number}
        )
    assert [a["LineNumber"] for a in answers] == [1, 2, 3]
    assert read["JournalTotalDebit"] == Decimal("0.30") == read["JournalTotalCredit"]


def test_a_bad_line_fails_the_whole_changeset_naming_the_line(fresh_sandbox: Sandbox) -> None:
    company = _company(fresh_sandbox)
    with _client(fresh_sandbox) as client:
        number = client.create(
            "LedgerJournalHeaders", {"dataAreaId": company, "JournalName": "PAYROLL"}
        )["JournalBatchNumber"]
        line = {
            "dataAreaId": company,
            "JournalBatchNumber": number,
            "TransDate": "2026-11-20T00:00:00Z",
            "CurrencyCode": "USD",
        }
        with pytest.raises(BatchError) as caught:
            client.create_many(
                "LedgerJournalLines",
                [
                    {
                        **line,
                        "AccountDisplayValue": "600100-001-D100-CCEXE",
                        "DebitAmount": Decimal("5.00"),
                    },
                    {
                        **line,
                        "AccountDisplayValue": "220400-001-D404-",
                        "CreditAmount": Decimal("5.00"),
                    },
                ],
            )
        lines = client.list_entities("LedgerJournalLines", filter=eq("JournalBatchNumber", number))
    [failure] = caught.value.failures
    assert failure.content_id == "2"
    assert "The value 'D404' doesn't exist for Department." in failure.message
    assert "220400-001-D404-" in str(caught.value)
    assert lines == []  # the good line of the failed changeset did not land either


def test_unknown_property_is_a_clear_request_error(fresh_sandbox: Sandbox) -> None:
    with _client(fresh_sandbox) as client, pytest.raises(DynamicsRequestError) as caught:
        client.create(
            "LedgerJournalHeaders",
            {"dataAreaId": _company(fresh_sandbox), "JournalName": "PAYROLL", "Bogus": 1},
        )
    assert caught.value.status == 400 and "Bogus" in caught.value.message


def test_keyed_urls_quote_apostrophes(fresh_sandbox: Sandbox) -> None:
    with _client(fresh_sandbox) as client:
        client.create(
            "Workers",
            {"PersonnelNumber": "RP-O'Neil", "FirstName": "Siobhan", "LastName": "O'Neil"},
        )
        row = client.get_entity("Workers", {"PersonnelNumber": "RP-O'Neil"})
        client.patch("Workers", {"PersonnelNumber": "RP-O'Neil"}, {"FirstName": "Shiv"})
        patched = client.get_entity("Workers", {"PersonnelNumber": "RP-O'Neil"})
        absent = client.get_entity("Workers", {"PersonnelNumber": "RP-nobody"})
    assert row["LastName"] == "O'Neil" and patched["FirstName"] == "Shiv" and absent is None


def test_401_evicts_the_cached_token_and_retries_once(fresh_sandbox: Sandbox) -> None:
    with _client(fresh_sandbox) as client:
        readers.legal_entities(client)
        first_token = client.tokens.token()
        with httpx.Client(verify=fresh_sandbox.client_ssl_context()) as admin:
            admin.post(fresh_sandbox.urls["entra"] + "/_sandbox/tokens/expire")
        assert readers.legal_entities(client)
        assert client.tokens.token() != first_token


def test_app_not_registered_in_fo_fails_after_one_retry_with_a_hint(fresh_sandbox: Sandbox) -> None:
    with (
        _client(fresh_sandbox, credentials=_credentials(fresh_sandbox, registered=False)) as client,
        pytest.raises(DynamicsAuthError, match="Microsoft Entra applications"),
    ):
        readers.legal_entities(client)


def test_bad_secret_surfaces_the_aadsts_code_and_hint(fresh_sandbox: Sandbox) -> None:
    creds = _credentials(fresh_sandbox, secret="wrong-secret")
    with (
        _client(fresh_sandbox, credentials=creds) as client,
        pytest.raises(DynamicsAuthError) as caught,
    ):
        readers.legal_entities(client)
    assert caught.value.aadsts_code == 7000215
    assert "AADSTS7000215" in str(caught.value) and "Secret ID" in str(caught.value)
    assert "wrong-secret" not in str(caught.value)


def test_429_waits_exactly_retry_after(fresh_sandbox: Sandbox) -> None:
    _faults(
        fresh_sandbox,
        {
            "dynamics": [
                {
                    "kind": "throttle",
                    "share": 1.0,
                    "times": 3,
                    "retry_after": 4,
                    "path_prefix": "/data/LegalEntities",
                }
            ]
        },
    )
    sleeper = RecordingSleeper()
    with _client(fresh_sandbox, retry=RetryPolicy(sleep=sleeper, max_wait=300)) as client:
        assert readers.legal_entities(client)
    assert sleeper.waits == [4.0, 4.0, 4.0]


def test_retry_after_is_bounded_by_the_maximum_wait(fresh_sandbox: Sandbox) -> None:
    _faults(fresh_sandbox, {"dynamics": [{"kind": "throttle", "nth": 1, "retry_after": 900}]})
    sleeper = RecordingSleeper()
    with _client(fresh_sandbox, retry=RetryPolicy(sleep=sleeper, max_wait=30)) as client:
        assert readers.legal_entities(client)
    assert sleeper.waits == [30.0]


def test_5xx_on_a_read_backs_off_and_on_a_create_is_ambiguous(fresh_sandbox: Sandbox) -> None:
    _faults(
        fresh_sandbox,
        {"dynamics": [{"kind": "server_error", "nth": 1, "path_prefix": "/data/LegalEntities"}]},
    )
    sleeper = RecordingSleeper()
    policy = RetryPolicy(sleep=sleeper, rng=random.Random(1))
    with _client(fresh_sandbox, retry=policy) as client:
        assert readers.legal_entities(client)
        assert len(sleeper.waits) == 1 and 0 <= sleeper.waits[0] <= 1.0
        _faults(
            fresh_sandbox,
            {
                "dynamics": [
                    {"kind": "server_error", "nth": 1, "path_prefix": "/data/LedgerJournalHeaders"}
                ]
            },
        )
        with pytest.raises(AmbiguousWriteError, match="check before writing again"):
            client.create(
                "LedgerJournalHeaders",
                {"dataAreaId": _company(fresh_sandbox), "JournalName": "PAYROLL"},
            )


def test_a_dropped_connection_during_a_create_is_ambiguous_not_retried(
    fresh_sandbox: Sandbox,
) -> None:
    _faults(
        fresh_sandbox,
        {"dynamics": [{"kind": "drop", "nth": 1, "path_prefix": "/data/LedgerJournalHeaders"}]},
    )
    with _client(fresh_sandbox) as client:
        with pytest.raises(AmbiguousWriteError):
            client.create(
                "LedgerJournalHeaders",
                {"dataAreaId": _company(fresh_sandbox), "JournalName": "PAYROLL"},
            )
        assert client.list_entities("LedgerJournalHeaders") == []  # the drop came before the app


def test_server_errors_beyond_the_budget_fail_clearly(fresh_sandbox: Sandbox) -> None:
    _faults(
        fresh_sandbox,
        {"dynamics": [{"kind": "server_error", "share": 1.0, "path_prefix": "/data/Ledgers"}]},
    )
    with (
        _client(fresh_sandbox, retry=RetryPolicy(attempts=3, sleep=RecordingSleeper())) as client,
        pytest.raises(DynamicsUnavailableError, match="gave up after 3 attempts"),
    ):
        readers.ledgers(client)


def _headers(client: DynamicsClient, description: str) -> list[dict]:
    return client.list_entities("LedgerJournalHeaders", filter=eq("Description", description))


def test_a_throttled_create_is_sent_again_and_lands_once(fresh_sandbox: Sandbox) -> None:
    """A 429 was never run, so even a create is repeated, after exactly its Retry-After."""
    _faults(
        fresh_sandbox,
        {
            "dynamics": [
                {
                    "kind": "throttle",
                    "nth": 1,
                    "retry_after": 3,
                    "path_prefix": "/data/LedgerJournalHeaders",
                }
            ]
        },
    )
    sleeper = RecordingSleeper()
    with _client(fresh_sandbox, retry=RetryPolicy(sleep=sleeper)) as client:
        client.create(
            "LedgerJournalHeaders",
            {"dataAreaId": _company(fresh_sandbox), "JournalName": "PAYROLL", "Description": "t1"},
        )
        assert client.requests_sent == 2
        assert len(_headers(client, "t1")) == 1
    assert sleeper.waits == [3.0]


def test_a_patch_meeting_a_5xx_is_retried_because_it_is_safe(fresh_sandbox: Sandbox) -> None:
    sleeper = RecordingSleeper()
    with _client(fresh_sandbox, retry=RetryPolicy(sleep=sleeper)) as client:
        client.create("Workers", {"PersonnelNumber": "RP-5XX", "FirstName": "A", "LastName": "B"})
        _faults(
            fresh_sandbox,
            {"dynamics": [{"kind": "server_error", "nth": 1, "path_prefix": "/data/Workers("}]},
        )
        client.patch("Workers", {"PersonnelNumber": "RP-5XX"}, {"FirstName": "Patched"})
        row = client.get_entity("Workers", {"PersonnelNumber": "RP-5XX"})
    assert row["FirstName"] == "Patched"
    assert len(sleeper.waits) == 1  # the 503 was waited out, not raised


def test_a_create_answered_5xx_after_it_landed_is_ambiguous_and_sent_once(
    fresh_sandbox: Sandbox,
) -> None:
    """Why a 5xx to a write is never resent: here the header was committed before the 503."""
    _faults(
        fresh_sandbox,
        {
            "dynamics": [
                {
                    "kind": "server_error",
                    "nth": 1,
                    "when": "after",
                    "path_prefix": "/data/LedgerJournalHeaders",
                }
            ]
        },
    )
    sleeper = RecordingSleeper()
    with _client(fresh_sandbox, retry=RetryPolicy(sleep=sleeper)) as client:
        with pytest.raises(AmbiguousWriteError, match="POST /data/LedgerJournalHeaders answered"):
            client.create(
                "LedgerJournalHeaders",
                {
                    "dataAreaId": _company(fresh_sandbox),
                    "JournalName": "PAYROLL",
                    "Description": "t2",
                },
            )
        assert client.requests_sent == 1
        assert len(_headers(client, "t2")) == 1  # it landed, once
    assert sleeper.waits == []


def test_a_401_to_a_fresh_entra_token_is_named_after_one_resend(fresh_sandbox: Sandbox) -> None:
    _faults(
        fresh_sandbox,
        {"dynamics": [{"kind": "expire_tokens", "share": 1.0, "path_prefix": "/data/Ledgers"}]},
    )
    sleeper = RecordingSleeper()
    with _client(fresh_sandbox, retry=RetryPolicy(sleep=sleeper)) as client:
        with pytest.raises(DynamicsAuthError, match="refused a fresh Entra token for GET /data"):
            readers.ledgers(client)
        assert client.requests_sent == 2
    assert sleeper.waits == []


# --- what an auth failure says ------------------------------------------------------------------


def _throttle_entra(sandbox: Sandbox, **rule: object) -> None:
    """429 + Retry-After on the token endpoint (the fault board's Entra answers carry it)."""
    from ml_connector_sandbox.faults import FaultRule

    token_path = f"/{sandbox.entra.tenant_id}/oauth2/v2.0/token"
    sandbox.faults.set("entra", [FaultRule(kind="throttle", path_prefix=token_path, **rule)])


def test_a_throttled_token_endpoint_is_waited_out_as_retry_after_says(
    fresh_sandbox: Sandbox,
) -> None:
    _throttle_entra(fresh_sandbox, share=1.0, times=2, retry_after=7)
    sleeper = RecordingSleeper()
    with _client(fresh_sandbox, retry=RetryPolicy(sleep=sleeper)) as client:
        assert readers.legal_entities(client)
    assert sleeper.waits == [7.0, 7.0]


def test_a_token_endpoint_that_stays_throttled_says_throttled_not_tenant(
    fresh_sandbox: Sandbox,
) -> None:
    _throttle_entra(fresh_sandbox, share=1.0, retry_after=3)
    sleeper = RecordingSleeper()
    with (
        _client(fresh_sandbox, retry=RetryPolicy(attempts=3, sleep=sleeper)) as client,
        pytest.raises(DynamicsUnavailableError) as caught,
    ):
        readers.legal_entities(client)
    message = str(caught.value)
    assert "throttled" in message and "429" in message
    assert "TENANT" not in message and "AADSTS" not in message
    assert sleeper.waits == [3.0, 3.0]
    assert client.requests_sent == 0  # F&O was never asked without a token


def test_expiries_with_a_success_between_are_refreshed_silently(fresh_sandbox: Sandbox) -> None:
    _faults(
        fresh_sandbox,
        {
            "dynamics": [
                {"kind": "expire_tokens", "nth": n, "path_prefix": "/data/Ledgers"} for n in (2, 4)
            ]
        },
    )
    with _client(fresh_sandbox) as client:
        for _ in range(4):
            assert readers.ledgers(client)
        assert client.requests_sent == 6  # two reads sent twice: one refresh each


def test_a_refused_fresh_token_after_accepted_ones_is_no_registration_advice(
    fresh_sandbox: Sandbox,
) -> None:
    with _client(fresh_sandbox, retry=RetryPolicy(sleep=RecordingSleeper())) as client:
        assert readers.legal_entities(client)  # F&O knows this app
        _faults(
            fresh_sandbox,
            {"dynamics": [{"kind": "expire_tokens", "share": 1.0, "path_prefix": "/data/Ledgers"}]},
        )
        with pytest.raises(DynamicsAuthError) as caught:
            readers.ledgers(client)
    message = str(caught.value)
    assert "revoked or expired" in message and "accepted this app's tokens earlier" in message
    assert "register" not in message


def test_a_token_never_accepted_points_at_the_fo_app_registration(fresh_sandbox: Sandbox) -> None:
    creds = _credentials(fresh_sandbox, registered=False)
    with (
        _client(fresh_sandbox, credentials=creds) as client,
        pytest.raises(DynamicsAuthError) as caught,
    ):
        readers.legal_entities(client)
    assert "accepted no token of this app yet" in str(caught.value)
    assert "register the app's client id" in str(caught.value)
