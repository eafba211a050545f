"""Writes against the F&O stand-in: journals, ledger validation, workers, vendors, auth, state."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from ml_connector_sandbox.dynamics import DynamicsService, SeedError
from ml_connector_sandbox.dynamics.sample import sample_company

with warnings.catch_warnings():  # starlette warns about httpx at import; harmless here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

ENV = "https://127.0.0.1:8443"
TOKEN = "good-token"
WRITE_FAILED = "Write failed for table row of type 'LedgerJournalLineEntity'. Infolog: Warning: "


def _client(service: DynamicsService, token: str | None = TOKEN) -> TestClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return TestClient(service.app, base_url=ENV, headers=headers)


@pytest.fixture
def service(tmp_path: Path) -> DynamicsService:
    return DynamicsService(tmp_path, sample_company(), ENV, lambda t: t == TOKEN, page_size=5)


@pytest.fixture
def fo_client(service: DynamicsService) -> Iterator[httpx.Client]:
    with _client(service) as client:
        yield client


def exact(resp: httpx.Response) -> Any:
    """The body with decimals as Decimal (httpx's .json() would give floats)."""
    return json.loads(resp.content, parse_float=Decimal)


def inner(resp: httpx.Response) -> str:
    body = resp.json()
    assert body["error"]["message"] == "An error has occurred."
    assert body["error"]["code"] == ""
    return body["error"]["innererror"]["message"]


def new_journal(client: httpx.Client, name: str = "PAYROLL", **extra: Any) -> dict:
    resp = client.post(
        "/data/LedgerJournalHeaders", json={"dataAreaId": "usmf", "JournalName": name, **extra}
    )
    assert resp.status_code == 201, resp.text
    return resp.json()


def line(batch: str, account: str = "600100-001-022-100", **extra: Any) -> dict:
    body: dict[str, Any] = {
        "dataAreaId": "usmf",
        "JournalBatchNumber": batch,
        "AccountDisplayValue": account,
        "TransDate": "2026-11-15T00:00:00Z",
        "CurrencyCode": "USD",
    }
    body.update(extra)
    if "DebitAmount" not in body and "CreditAmount" not in body:
        body["DebitAmount"] = Decimal("100.00")
    return body


def post_line(client: httpx.Client, body: dict) -> httpx.Response:
    from ml_connector_sandbox.dynamics.edm import dumps

    return client.post(
        "/data/LedgerJournalLines",
        content=dumps(body),
        headers={"Content-Type": "application/json"},
    )


def stats(client: httpx.Client) -> dict:
    return client.get("/_sandbox/stats").json()


# --- auth ------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "foreign-or-expired"])
def test_requests_without_a_valid_token_get_401_and_no_data(
    service: DynamicsService, token: str | None
) -> None:
    with _client(service, token) as client:
        for resp in (
            client.get("/data/Workers"),
            client.get("/data/$metadata"),
            client.post(
                "/data/LedgerJournalHeaders", json={"dataAreaId": "usmf", "JournalName": "PAYROLL"}
            ),
        ):
            assert resp.status_code == 401
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
            assert resp.content == b""
        assert client.get("/_sandbox/stats").json()["writes"] == {}


# --- journals --------------------------------------------------------------------------------


def test_header_gets_number_from_sequence_description_and_location(fo_client: httpx.Client) -> None:
    first = new_journal(fo_client)
    second = new_journal(fo_client)  # F&O does not deduplicate: an identical POST is a new one
    assert first["JournalBatchNumber"] == "USMF-000001"
    assert second["JournalBatchNumber"] == "USMF-000002"
    assert first["Description"] == "Payroll journal"
    assert first["IsPosted"] == "No"
    assert first["JournalTotalDebit"] == 0
    resp = fo_client.post(
        "/data/LedgerJournalHeaders",
        json={"dataAreaId": "usmf", "JournalName": "GenJrn", "Description": "Run 42"},
    )
    assert resp.headers["Location"] == (
        f"{ENV}/data/LedgerJournalHeaders(dataAreaId='usmf',JournalBatchNumber='USMF-000003')"
    )
    assert resp.json()["Description"] == "Run 42"
    assert fo_client.get(resp.headers["Location"]).json()["JournalName"] == "GenJrn"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"JournalName": "PAYROLL"}, "Field 'dataAreaId' must be filled in."),
        ({"dataAreaId": "usmf"}, "Field 'JournalName' must be filled in."),
        (
            {"dataAreaId": "usmf", "JournalName": "NOPE"},
            "The value 'NOPE' in field 'JournalName' is not found",
        ),
        ({"dataAreaId": "zz", "JournalName": "PAYROLL"}, "The value 'zz' in field 'dataAreaId'"),
        ({"dataAreaId": "usmf", "JournalName": "PAYROLL", "IsPosted": "Yes"}, "read-only"),
        (
            {"dataAreaId": "usmf", "JournalName": "PAYROLL", "Colour": "red"},
            "does not exist on type 'Microsoft.Dynamics.DataEntities.LedgerJournalHeader'",
        ),
        ({"dataAreaId": "usmf", "JournalName": 7}, "Edm.String"),
    ],
)
def test_header_create_refusals(fo_client: httpx.Client, body: dict, needle: str) -> None:
    resp = fo_client.post("/data/LedgerJournalHeaders", json=body)
    assert resp.status_code == 400
    assert needle in inner(resp)
    assert stats(fo_client)["writes"] == {}


def test_lines_get_numbers_vouchers_defaults_and_exact_decimal_totals(
    fo_client: httpx.Client,
) -> None:
    batch = new_journal(fo_client)["JournalBatchNumber"]
    a = post_line(fo_client, line(batch, DebitAmount=Decimal("0.1")))
    b = post_line(fo_client, line(batch, DebitAmount=Decimal("0.2")))
    c = post_line(fo_client, line(batch, "200100", CreditAmount=Decimal("0.3")))
    d = post_line(fo_client, line(batch, DebitAmount=Decimal("5")))
    assert [r.status_code for r in (a, b, c, d)] == [201] * 4
    assert [r.json()["LineNumber"] for r in (a, b, c, d)] == [1, 2, 3, 4]
    assert a.json()["AccountType"] == "Ledger"
    # "in connection with balance": one voucher until it balances, then a new one
    assert [r.json()["Voucher"] for r in (a, b, c, d)] == ["PAYV-000001"] * 3 + ["PAYV-000002"]
    assert (
        b'"JournalTotalDebit":5.3'
        in fo_client.get(
            f"/data/LedgerJournalHeaders(dataAreaId='usmf',JournalBatchNumber='{batch}')"
        ).content
    )
    header = exact(
        fo_client.get(f"/data/LedgerJournalHeaders(dataAreaId='usmf',JournalBatchNumber='{batch}')")
    )
    assert header["JournalTotalDebit"] == Decimal("5.3")
    assert header["JournalTotalCredit"] == Decimal("0.3")
    # PAYROLL draws its vouchers from its series: a voucher it did not draw is refused
    refused = post_line(fo_client, line(batch, LineNumber=Decimal(10), Voucher="MY-1"))
    assert refused.status_code == 400 and "cannot be entered" in inner(refused)
    explicit = post_line(fo_client, line(batch, LineNumber=Decimal(10)))
    assert explicit.json()["LineNumber"] == 10 and explicit.json()["Voucher"] == "PAYV-000002"
    assert post_line(fo_client, line(batch)).json()["LineNumber"] == 11
    # PATCH and DELETE keep the totals right
    key = f"/data/LedgerJournalLines(dataAreaId='usmf',JournalBatchNumber='{batch}',LineNumber=4)"
    assert fo_client.patch(key, json={"DebitAmount": 1}).status_code == 204
    assert (
        fo_client.delete(
            f"/data/LedgerJournalLines(dataAreaId='usmf',JournalBatchNumber='{batch}',LineNumber=1)"
        ).status_code
        == 204
    )
    header = exact(
        fo_client.get(f"/data/LedgerJournalHeaders(dataAreaId='usmf',JournalBatchNumber='{batch}')")
    )
    assert header["JournalTotalDebit"] == Decimal("0.2") + 1 + 100 + 100


@pytest.mark.parametrize(
    ("account", "message"),
    [
        ("999-001", "The value '999' doesn't exist for MainAccount."),
        ("600999-001", "Main account 600999 is suspended."),
        ("600300", "Main account 600300 does not allow manual entry."),
        ("600100-001-D999", "The value 'D999' doesn't exist for Department."),
        ("600100-001-099-100", "Department is suspended."),
        ("600100-001-030", "The value '030' for Department is not active on 2026-11-15."),
        ("600100-009", "The value '009' doesn't exist for BusinessUnit."),
    ],
)
def test_ledger_account_refusals_use_fo_texts(
    fo_client: httpx.Client, account: str, message: str
) -> None:
    batch = new_journal(fo_client)["JournalBatchNumber"]
    resp = post_line(fo_client, line(batch, account))
    assert resp.status_code == 400
    assert inner(resp) == WRITE_FAILED + message
    assert resp.json()["error"]["innererror"]["type"].endswith("AxODataWriteException")
    assert stats(fo_client)["writes"].get("LedgerJournalLines") is None


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"AccountDisplayValue": None}, "Field 'AccountDisplayValue' must be filled in."),
        ({"TransDate": None}, "Field 'TransDate' must be filled in."),
        ({"CurrencyCode": ""}, "Field 'CurrencyCode' must be filled in."),
        ({"DebitAmount": Decimal(0)}, "either a debit amount or a credit amount"),
        ({"DebitAmount": Decimal(1), "CreditAmount": Decimal(1)}, "not both"),
        ({"DebitAmount": Decimal(-5)}, "only allows positive debit and credit amounts"),
        ({"JournalBatchNumber": "USMF-999999"}, "USMF-999999 does not exist"),
        ({"TransDate": "2026-11-15"}, "Edm.DateTimeOffset"),
        ({"DebitAmount": "12.50"}, "Edm.Decimal"),
        ({"AccountType": "Nonsense"}, "not a valid enumerated type value"),
        ({"Colour": "red"}, "does not exist on type"),
    ],
)
def test_line_create_refusals(fo_client: httpx.Client, change: dict, needle: str) -> None:
    batch = new_journal(fo_client)["JournalBatchNumber"]
    body = line(batch)
    for k, v in change.items():
        if v is None:
            body.pop(k)
        else:
            body[k] = v
    resp = post_line(fo_client, body)
    assert resp.status_code == 400, resp.text
    assert needle in inner(resp)
    assert stats(fo_client)["writes"].get("LedgerJournalLines") is None


def test_negative_amounts_allowed_where_the_journal_name_allows_them(
    fo_client: httpx.Client,
) -> None:
    batch = new_journal(fo_client, "GenJrn")["JournalBatchNumber"]
    resp = post_line(fo_client, line(batch, DebitAmount=Decimal("-5")))
    assert resp.status_code == 201
    assert resp.json()["Voucher"] == "GNJL-000001"


def test_a_manual_journal_name_wants_the_voucher_on_every_line(
    service: DynamicsService, fo_client: httpx.Client
) -> None:
    service.admin_write(
        "PATCH",
        "JournalNames",
        {"key": {"dataAreaId": "usmf", "Name": "GenJrn"}, "values": {"NewVoucher": "Manually"}},
    )
    batch = new_journal(fo_client, "GenJrn")["JournalBatchNumber"]
    missing = post_line(fo_client, line(batch))
    assert missing.status_code == 400 and "Voucher must be filled in" in inner(missing)
    given = post_line(fo_client, line(batch, Voucher="PR-1"))
    assert given.status_code == 201 and given.json()["Voucher"] == "PR-1"


def test_extra_segments_dropped_missing_blank_and_stored(fo_client: httpx.Client) -> None:
    batch = new_journal(fo_client)["JournalBatchNumber"]
    assert post_line(fo_client, line(batch, "600100-001-022-100-EXTRA-MORE")).status_code == 201
    assert post_line(fo_client, line(batch, "600100-002")).status_code == 201
    lines = fo_client.get(f"/_sandbox/journals/usmf/{batch}/lines").json()
    assert lines[0]["applied"]["values"] == {
        "MainAccount": "600100",
        "BusinessUnit": "001",
        "Department": "022",
        "CostCenter": "100",
    }
    assert lines[0]["applied"]["dropped_segments"] == ["EXTRA", "MORE"]
    one = fo_client.get(f"/_sandbox/journals/usmf/{batch}/lines/2/dimensions").json()
    assert one["values"] == {
        "MainAccount": "600100",
        "BusinessUnit": "002",
        "Department": "",
        "CostCenter": "",
    }
    assert one["dropped_segments"] == []


def test_format_and_delimiter_changes_change_the_parsing(fo_client: httpx.Client) -> None:
    batch = new_journal(fo_client)["JournalBatchNumber"]
    fmt = "/_sandbox/entities/DimensionIntegrationFormats"
    ledger = "DataEntityLedgerDimensionFormat"
    assert (
        fo_client.patch(
            fmt,
            json={
                "key": {"DimensionFormatName": "Ledger4", "DimensionFormatType": ledger},
                "values": {"IsActive": "No"},
            },
        ).status_code
        == 200
    )
    assert (
        fo_client.patch(
            fmt,
            json={
                "key": {"DimensionFormatName": "Ledger2", "DimensionFormatType": ledger},
                "values": {"IsActive": "Yes"},
            },
        ).status_code
        == 200
    )
    # Same string, new format: the second segment now means Department ("001" is unknown).
    resp = post_line(fo_client, line(batch, "600100-001-022-100"))
    assert inner(resp) == WRITE_FAILED + "The value '001' doesn't exist for Department."
    assert post_line(fo_client, line(batch, "600100-022-anything")).status_code == 201
    assert (
        fo_client.patch(
            "/_sandbox/entities/DimensionParameters",
            json={"key": {"Key": 0}, "values": {"DimensionSegmentDelimiter": "Period"}},
        ).status_code
        == 200
    )
    # With '.', "600100-022" is one segment: a main account that does not exist.
    resp = post_line(fo_client, line(batch, "600100-022"))
    assert inner(resp) == WRITE_FAILED + "The value '600100-022' doesn't exist for MainAccount."
    assert post_line(fo_client, line(batch, "600100.023")).status_code == 201
    applied = fo_client.get(f"/_sandbox/journals/usmf/{batch}/lines").json()
    assert [a["applied"]["values"] for a in applied] == [
        {"MainAccount": "600100", "Department": "022"},
        {"MainAccount": "600100", "Department": "023"},
    ]
    assert [a["applied"]["dropped_segments"] for a in applied] == [["anything"], []]


def test_suspending_a_value_through_admin_blocks_it(fo_client: httpx.Client) -> None:
    batch = new_journal(fo_client)["JournalBatchNumber"]
    assert (
        fo_client.patch(
            "/_sandbox/entities/FinancialDimensionValues",
            json={
                "key": {
                    "FinancialDimension": "CostCenter",
                    "LegalEntityId": "",
                    "DimensionValue": "200",
                },
                "values": {"IsSuspended": "Yes"},
            },
        ).status_code
        == 200
    )
    resp = post_line(fo_client, line(batch, "600100-001-022-200"))
    assert inner(resp) == WRITE_FAILED + "CostCenter is suspended."


def test_posted_journal_is_read_only(fo_client: httpx.Client) -> None:
    batch = new_journal(fo_client)["JournalBatchNumber"]
    assert post_line(fo_client, line(batch)).status_code == 201
    # a voucher must balance to be posted
    credit = line(batch, "200100", CreditAmount=Decimal("100.00"))
    assert post_line(fo_client, credit).status_code == 201
    posted = fo_client.post(f"/_sandbox/journals/usmf/{batch}/post")
    assert posted.json()["IsPosted"] == "Yes"
    before = stats(fo_client)["writes"]
    head = f"/data/LedgerJournalHeaders(dataAreaId='usmf',JournalBatchNumber='{batch}')"
    first = f"/data/LedgerJournalLines(dataAreaId='usmf',JournalBatchNumber='{batch}',LineNumber=1)"
    for resp in (
        post_line(fo_client, line(batch)),
        fo_client.patch(first, json={"Text": "x"}),
        fo_client.delete(first),
        fo_client.patch(head, json={"Description": "x"}),
        fo_client.delete(head),
    ):
        assert resp.status_code == 400
        assert "is posted and can no longer be changed" in inner(resp)
    assert stats(fo_client)["writes"] == before
    assert fo_client.get(first).json()["DebitAmount"] == 100
    # IsPosted itself is read-only through OData
    other = new_journal(fo_client)["JournalBatchNumber"]
    resp = fo_client.patch(
        f"/data/LedgerJournalHeaders(dataAreaId='usmf',JournalBatchNumber='{other}')",
        json={"IsPosted": "Yes"},
    )
    assert resp.status_code == 400 and "read-only" in inner(resp)


def test_delete_unposted_header_removes_its_lines(fo_client: httpx.Client) -> None:
    batch = new_journal(fo_client)["JournalBatchNumber"]
    post_line(fo_client, line(batch))
    head = f"/data/LedgerJournalHeaders(dataAreaId='usmf',JournalBatchNumber='{batch}')"
    assert fo_client.delete(head).status_code == 204
    assert fo_client.get(head).status_code == 404
    assert stats(fo_client)["rows"]["LedgerJournalLines"] == 0


# --- workers, employments, vendors -------------------------------------------------------------


def test_worker_create_requires_names_and_derives_name_and_status(fo_client: httpx.Client) -> None:
    resp = fo_client.post("/data/Workers", json={"PersonnelNumber": "RP-1"})
    assert resp.status_code == 400
    assert "Field 'FirstName' or 'LastName' must be filled in." in inner(resp)
    assert fo_client.post("/data/Workers", json={"FirstName": "X"}).status_code == 400
    resp = fo_client.post(
        "/data/Workers",
        json={"PersonnelNumber": "RP-1", "FirstName": "Grace", "LastName": "Hopper"},
    )
    assert resp.status_code == 201
    assert resp.json()["Name"] == "Grace Hopper"
    assert resp.json()["WorkerStatus"] == "Pending"
    dup = fo_client.post("/data/Workers", json={"PersonnelNumber": "rp-1", "LastName": "Again"})
    assert dup.status_code == 400 and "The record already exists." in inner(dup)
    hire = fo_client.post(
        "/data/EmploymentsV2",
        json={
            "PersonnelNumber": "RP-1",
            "LegalEntityId": "usmf",
            "EmploymentStartDate": "2024-01-01T00:00:00Z",
        },
    )
    assert hire.status_code == 201, hire.text
    assert hire.json()["EmploymentEndDate"] == "2154-12-31T23:59:59Z"
    assert hire.json()["EmploymentId"]
    assert hire.json()["LegalEntityId"] == "USMF"
    assert fo_client.get("/data/Workers('RP-1')").json()["WorkerStatus"] == "Employed"
    # Employments (V1) is a view of the same table, keyed by dates
    v1 = fo_client.get("/data/Employments", params={"$filter": "PersonnelNumber eq 'RP-1'"})
    assert v1.json()["value"][0]["EmploymentStartDate"] == "2024-01-01T00:00:00Z"
    assert "EmploymentId" not in v1.json()["value"][0]
    emp_id = hire.json()["EmploymentId"]
    term = fo_client.patch(
        f"/data/EmploymentsV2(PersonnelNumber='RP-1',LegalEntityId='USMF',EmploymentId='{emp_id}')",
        json={"EmploymentEndDate": "2025-01-31T23:59:59Z"},
    )
    assert term.status_code == 204
    assert fo_client.get("/data/Workers('RP-1')").json()["WorkerStatus"] == "Terminated"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (
            {"LegalEntityId": "usmf", "EmploymentStartDate": "2024-01-01T00:00:00Z"},
            "Field 'PersonnelNumber' must be filled in.",
        ),
        (
            {"PersonnelNumber": "RP-000123", "EmploymentStartDate": "2024-01-01T00:00:00Z"},
            "Field 'LegalEntityId' must be filled in.",
        ),
        (
            {"PersonnelNumber": "RP-000123", "LegalEntityId": "demf"},
            "Field 'EmploymentStartDate' must be filled in.",
        ),
        (
            {
                "PersonnelNumber": "RP-404",
                "LegalEntityId": "usmf",
                "EmploymentStartDate": "2024-01-01T00:00:00Z",
            },
            "not found in the related table 'Worker'",
        ),
        (
            {
                "PersonnelNumber": "RP-000123",
                "LegalEntityId": "usmf",
                "EmploymentStartDate": "2024-01-01T00:00:00Z",
            },
            "overlaps employment E-1",
        ),
        (
            {
                "PersonnelNumber": "RP-000200",
                "LegalEntityId": "usmf",
                "EmploymentStartDate": "2024-01-01T00:00:00Z",
            },
            "is not eligible for rehire",
        ),
        (
            {
                "PersonnelNumber": "RP-000200",
                "LegalEntityId": "demf",
                "EmploymentStartDate": "2024-01-01T00:00:00Z",
            },
            "is not eligible for rehire",
        ),
    ],
)
def test_employment_refusals_including_rehire(
    fo_client: httpx.Client, body: dict, needle: str
) -> None:
    resp = fo_client.post("/data/EmploymentsV2", json=body)
    assert resp.status_code == 400
    assert needle in inner(resp)
    assert stats(fo_client)["rows"]["EmploymentsV2"] == 2


def test_rehire_allowed_once_allow_rehire_is_yes(fo_client: httpx.Client) -> None:
    assert (
        fo_client.patch("/data/Workers('RP-000200')", json={"AllowRehire": "Yes"}).status_code
        == 204
    )
    resp = fo_client.post(
        "/data/EmploymentsV2",
        json={
            "PersonnelNumber": "RP-000200",
            "LegalEntityId": "usmf",
            "EmploymentStartDate": "2024-01-01T00:00:00Z",
        },
    )
    assert resp.status_code == 201
    assert fo_client.get("/data/Workers('RP-000200')").json()["WorkerStatus"] == "Employed"


def test_default_dimensions_are_read_in_the_default_format_not_the_ledger_one(
    service: DynamicsService, fo_client: httpx.Client
) -> None:
    """Employments and vendors: the active DataEntityDefaultDimensionFormat (Department-
    BusinessUnit here) decides how a value reads; the ledger order (BusinessUnit first) fails."""
    vendor = {
        "dataAreaId": "usmf",
        "VendorAccountNumber": "V-4000",
        "VendorGroupId": "CONTR",
        "VendorOrganizationName": "Contractor Co",
    }
    in_ledger_order = {**vendor, "DefaultLedgerDimensionDisplayValue": "001-022"}
    resp = fo_client.post("/data/VendorsV2", json=in_ledger_order)
    assert resp.status_code == 400
    assert inner(resp).endswith("The value '001' doesn't exist for Department.")
    resp = fo_client.post(
        "/data/VendorsV2", json={**vendor, "DefaultLedgerDimensionDisplayValue": "022-001"}
    )
    assert resp.status_code == 201, resp.text
    key = "/data/VendorsV2(dataAreaId='usmf',VendorAccountNumber='V-4000')"
    suspended = fo_client.patch(key, json={"DefaultLedgerDimensionDisplayValue": "099-001"})
    assert suspended.status_code == 400 and "Department is suspended." in inner(suspended)

    assert (
        fo_client.patch("/data/Workers('RP-000200')", json={"AllowRehire": "Yes"}).status_code
        == 204
    )
    employment = {
        "PersonnelNumber": "RP-000200",
        "LegalEntityId": "usmf",
        "EmploymentStartDate": "2024-01-01T00:00:00Z",
    }
    resp = fo_client.post(
        "/data/EmploymentsV2", json={**employment, "DimensionDisplayValue": "002-023"}
    )
    assert resp.status_code == 400 and "The value '002' doesn't exist for Department." in inner(
        resp
    )
    resp = fo_client.post(
        "/data/EmploymentsV2", json={**employment, "DimensionDisplayValue": "023-002"}
    )
    assert resp.status_code == 201, resp.text

    # Without an active default format F&O cannot read any value: refused, naming the format.
    service.admin_write(
        "PATCH",
        "DimensionIntegrationFormats",
        {
            "key": {
                "DimensionFormatName": "Default3",
                "DimensionFormatType": "DataEntityDefaultDimensionFormat",
            },
            "values": {"IsActive": "No"},
        },
    )
    resp = fo_client.patch(key, json={"DefaultLedgerDimensionDisplayValue": "022-001"})
    assert resp.status_code == 400
    assert "No active default dimension integration format" in inner(resp)


def test_vendor_create_rules(fo_client: httpx.Client) -> None:
    base = {"dataAreaId": "usmf", "VendorAccountNumber": "V-3000", "VendorGroupId": "CONTR"}
    resp = fo_client.post("/data/VendorsV2", json=base)
    assert resp.status_code == 400 and "VendorOrganizationName" in inner(resp)
    resp = fo_client.post(
        "/data/VendorsV2", json={**base, "VendorGroupId": None, "VendorOrganizationName": "X"}
    )
    assert resp.status_code == 400 and "Field 'VendorGroupId' must be filled in." in inner(resp)
    resp = fo_client.post(
        "/data/VendorsV2",
        json={**base, "dataAreaId": "USMF", "VendorOrganizationName": "Contractor Co"},
    )
    assert resp.status_code == 201
    assert resp.json()["CurrencyCode"] == "USD"
    assert resp.json()["dataAreaId"] == "usmf"
    assert resp.json()["OnHoldStatus"] == "No"
    dup = fo_client.post("/data/VendorsV2", json={**base, "VendorOrganizationName": "Again"})
    assert dup.status_code == 400 and "already exists" in inner(dup)
    key = "/data/VendorsV2(dataAreaId='usmf',VendorAccountNumber='V-3000')"
    assert fo_client.patch(key, json={"OnHoldStatus": "All"}).status_code == 204
    assert fo_client.get(key).json()["OnHoldStatus"] == "All"
    assert fo_client.patch(key, json={"VendorAccountNumber": "V-3001"}).status_code == 400
    assert fo_client.delete(key).status_code == 204
    assert fo_client.get(key).status_code == 404


# --- state ---------------------------------------------------------------------------------------


def test_state_persists_for_the_same_seed_and_reset_forgets(tmp_path: Path) -> None:
    first = DynamicsService(tmp_path, sample_company(), ENV, lambda t: t == TOKEN)
    with _client(first) as client:
        batch = new_journal(client)["JournalBatchNumber"]
    again = DynamicsService(tmp_path, sample_company(), ENV, lambda t: t == TOKEN)
    with _client(again) as client:
        head = f"/data/LedgerJournalHeaders(dataAreaId='usmf',JournalBatchNumber='{batch}')"
        assert client.get(head).status_code == 200
        assert new_journal(client)["JournalBatchNumber"] == "USMF-000002"
        again.reset(sample_company())
        assert client.get(head).status_code == 404
        assert stats(client)["writes"] == {}
        assert new_journal(client)["JournalBatchNumber"] == "USMF-000001"
    changed = sample_company()
    changed["dynamics"]["Workers"].append({"PersonnelNumber": "RP-NEW", "LastName": "New"})
    reseeded = DynamicsService(tmp_path, changed, ENV, lambda t: t == TOKEN)
    with _client(reseeded) as client:
        assert client.get("/data/Workers('RP-NEW')").status_code == 200
        assert stats(client)["rows"]["LedgerJournalHeaders"] == 0


@pytest.mark.parametrize(
    ("entity", "row", "needle"),
    [
        (
            "Workers",
            {"PersonnelNumber": "X", "Shoe": 1},
            "seed Workers row 3: unknown property 'Shoe'",
        ),
        (
            "MainAccounts",
            {"ChartOfAccounts": "Shared", "MainAccountId": "1", "IsSuspended": "Maybe"},
            "seed MainAccounts row 5 property 'IsSuspended'",
        ),
        ("Nope", {"A": 1}, "unknown entity set 'Nope'"),
    ],
)
def test_bad_seed_is_refused_with_a_clear_message(
    tmp_path: Path, entity: str, row: dict, needle: str
) -> None:
    company = sample_company()
    company["dynamics"].setdefault(entity, []).append(row)
    with pytest.raises(SeedError, match=needle.replace("(", r"\(")):
        DynamicsService(tmp_path, company, ENV, lambda t: True)


# --- computed fields, start dates, end of day, number sequences --------------------------------


def test_worker_name_and_original_hire_are_computed_not_writable(fo_client: httpx.Client) -> None:
    body = {"PersonnelNumber": "RP-9", "FirstName": "Grace", "LastName": "Hopper"}
    for extra in ({"Name": "G H"}, {"OriginalHireDateTime": "2024-01-01T00:00:00Z"}):
        resp = fo_client.post("/data/Workers", json={**body, **extra})
        assert resp.status_code == 400 and "is read-only" in inner(resp)
    assert fo_client.post("/data/Workers", json=body).status_code == 201
    hire = {"PersonnelNumber": "RP-9", "LegalEntityId": "usmf"}
    assert (
        fo_client.post(
            "/data/EmploymentsV2", json={**hire, "EmploymentStartDate": "2024-03-04T00:00:00Z"}
        ).status_code
        == 201
    )
    row = fo_client.get("/data/Workers('RP-9')").json()
    assert row["OriginalHireDateTime"] == "2024-03-04T00:00:00Z"
    assert fo_client.patch("/data/Workers('RP-9')", json={"LastName": "King"}).status_code == 204
    assert fo_client.get("/data/Workers('RP-9')").json()["Name"] == "Grace King"
    refused = fo_client.patch("/data/Workers('RP-9')", json={"Name": "Someone Else"})
    assert refused.status_code == 400 and "is read-only" in inner(refused)


def test_employment_start_is_not_moved_by_patch_and_ends_at_end_of_day(
    fo_client: httpx.Client,
) -> None:
    key = "/data/EmploymentsV2(PersonnelNumber='RP-000123',LegalEntityId='USMF',EmploymentId='E-1')"
    moved = fo_client.patch(key, json={"EmploymentStartDate": "2020-02-03T00:00:00Z"})
    assert moved.status_code == 400 and "start date cannot be changed" in inner(moved)
    same = fo_client.patch(key, json={"EmploymentStartDate": "2020-01-06T00:00:00Z"})
    assert same.status_code == 204  # unchanged is fine
    assert (
        fo_client.patch(key, json={"EmploymentEndDate": "2026-11-19T00:00:00Z"}).status_code == 204
    )
    assert fo_client.get(key).json()["EmploymentEndDate"] == "2026-11-19T23:59:59Z"


def _sequence(service: DynamicsService, code: str, manual: str, fmt: str, scope: str = "") -> None:
    service.admin_write(
        "POST",
        "SequenceV2Tables",
        {
            "values": {
                "NumberSequenceCode": code,
                "ScopeType": "DataArea" if scope else "Shared",
                "ScopeValue": scope,
                "Format": fmt,
                "Manual": manual,
                "ToALowerNumber": "No",
                "ToAHigherNumber": "No",
            }
        },
    )


def test_an_automatic_personnel_sequence_refuses_a_number_and_assigns_one(
    service: DynamicsService, fo_client: httpx.Client
) -> None:
    _sequence(service, "Pers_1", "No", "P-#####")
    service.admin_write(
        "POST",
        "NumberSequencesV2References",
        {
            "values": {
                "DataTypeName": "HcmPersonnelNumberId",
                "ScopeType": "Shared",
                "ScopeValue": "",
                "NumberSequenceCode": "Pers_1",
            }
        },
    )
    refused = fo_client.post(
        "/data/Workers", json={"PersonnelNumber": "RP-77", "LastName": "Supplied"}
    )
    assert refused.status_code == 400
    assert "Manual numbers are not allowed for number sequence Pers_1" in inner(refused)
    created = fo_client.post("/data/Workers", json={"LastName": "Assigned"})
    assert created.status_code == 201, created.text
    assert created.json()["PersonnelNumber"] == "P-00001"
    # Made manual: the supplied number is taken, and one is required.
    service.admin_write(
        "PATCH",
        "SequenceV2Tables",
        {
            "key": {"NumberSequenceCode": "Pers_1", "ScopeType": "Shared", "ScopeValue": ""},
            "values": {"Manual": "Yes"},
        },
    )
    assert (
        fo_client.post(
            "/data/Workers", json={"PersonnelNumber": "RP-77", "LastName": "Supplied"}
        ).status_code
        == 201
    )
    missing = fo_client.post("/data/Workers", json={"LastName": "Nobody"})
    assert missing.status_code == 400 and "PersonnelNumber" in inner(missing)


def test_vendor_accounts_follow_the_parameters_or_the_groups_sequence(
    service: DynamicsService, fo_client: httpx.Client
) -> None:
    service.admin_write(
        "POST",
        "VRMParameters",
        {
            "values": {
                "dataAreaId": "usmf",
                "Key": 0,
                "VendorAccountNumberSequenceCode": "Vend_1",
                "IsVendorAccountNumberSequenceManual": "No",
            }
        },
    )
    base = {"dataAreaId": "usmf", "VendorGroupId": "CONTR", "VendorOrganizationName": "Co"}
    refused = fo_client.post("/data/VendorsV2", json={**base, "VendorAccountNumber": "V-9"})
    assert refused.status_code == 400 and "Manual numbers are not allowed" in inner(refused)
    created = fo_client.post("/data/VendorsV2", json=base)
    assert created.status_code == 201 and created.json()["VendorAccountNumber"] == "V000001"
    # A group with its own manual sequence accepts the connector's account.
    _sequence(service, "VendMan", "Yes", "M######", scope="usmf")
    service.admin_write(
        "POST",
        "VendorGroups",
        {
            "values": {
                "dataAreaId": "usmf",
                "VendorGroupId": "MANUAL",
                "VendorAccountNumberSequence": "VendMan",
            }
        },
    )
    manual = {**base, "VendorGroupId": "MANUAL", "VendorAccountNumber": "RP-5"}
    assert fo_client.post("/data/VendorsV2", json=manual).status_code == 201


def test_person_names_longer_than_their_field_are_refused(fo_client: httpx.Client) -> None:
    """Workers and VendorsV2 refuse a name over 25 characters (an e-mail over 255), on create
    and on update, as F&O does; exactly 25 is accepted (an emoji counts two, as in nvarchar)."""
    long_name = "N" * 3005
    resp = fo_client.post("/data/Workers", json={"PersonnelNumber": "RP-9", "LastName": long_name})
    assert resp.status_code == 400
    assert "'LastName' is too long" in inner(resp)
    emoji = fo_client.post(
        "/data/Workers", json={"PersonnelNumber": "RP-9", "FirstName": "😀" * 13}
    )
    assert emoji.status_code == 400
    ok = fo_client.post("/data/Workers", json={"PersonnelNumber": "RP-9", "LastName": "L" * 25})
    assert ok.status_code == 201, ok.text
    assert fo_client.patch("/data/Workers('RP-9')", json={"FirstName": "F" * 26}).status_code == 400
    email = {"PrimaryContactEmail": "a" * 250 + "@x.com"}
    assert fo_client.patch("/data/Workers('RP-9')", json=email).status_code == 400
    vendor = {
        "dataAreaId": "usmf",
        "VendorAccountNumber": "V-4001",
        "VendorGroupId": "CONTR",
        "PersonFirstName": "Ada",
        "PersonLastName": "L" * 26,
    }
    resp = fo_client.post("/data/VendorsV2", json=vendor)
    assert resp.status_code == 400
    assert "'PersonLastName' is too long" in inner(resp)
    assert (
        fo_client.post("/data/VendorsV2", json={**vendor, "PersonLastName": "Lovelace"}).status_code
        == 201
    )
