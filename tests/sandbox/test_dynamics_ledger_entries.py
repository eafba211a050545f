"""The posted general ledger of the F&O stand-in: posting a journal (or a manual voucher) writes
``GeneralJournalEntryBiEntities`` and ``GeneralJournalAccountEntryBiEntities``, which OData
clients read (filters, paging, ``cross-company``) but never write."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from ml_connector_sandbox.dynamics import DynamicsService
from ml_connector_sandbox.dynamics.batch import parse_batch_response
from ml_connector_sandbox.dynamics.edm import dumps
from ml_connector_sandbox.dynamics.sample import sample_company

with warnings.catch_warnings():  # starlette warns about httpx at import; harmless here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

ENV = "https://127.0.0.1:8443"
TOKEN = "good-token"
GJE = "/data/GeneralJournalEntryBiEntities"
GJAE = "/data/GeneralJournalAccountEntryBiEntities"
LEDGER_TABLES = ("GeneralJournalEntryBiEntities", "GeneralJournalAccountEntryBiEntities")
NOV = "AccountingDate ge 2026-11-01T00:00:00Z and AccountingDate le 2026-11-30T00:00:00Z"


@pytest.fixture
def service(tmp_path: Path) -> DynamicsService:
    return DynamicsService(tmp_path, sample_company(), ENV, lambda t: t == TOKEN, page_size=5)


@pytest.fixture
def fo(service: DynamicsService) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(service.app, base_url=ENV, headers=headers) as client:
        # A journal name whose lines carry their own vouchers, so the test chooses them.
        made = client.post(
            "/_sandbox/entities/JournalNames",
            json={
                "values": {
                    "dataAreaId": "usmf",
                    "Name": "MANJ",
                    "Description": "Manual vouchers",
                    "NewVoucher": "Manually",
                    "AllowOnlyPositiveDebitsAndCredits": "No",
                }
            },
        )
        assert made.status_code == 201, made.text
        yield client


def exact(resp: httpx.Response) -> Any:
    """The body with decimals as Decimal (httpx's .json() would give floats)."""
    assert resp.status_code < 300, resp.text
    return json.loads(resp.content, parse_float=Decimal)


def inner(resp: httpx.Response) -> str:
    return resp.json()["error"]["innererror"]["message"]


def journal(fo: httpx.Client) -> str:
    resp = fo.post("/data/LedgerJournalHeaders", json={"dataAreaId": "usmf", "JournalName": "MANJ"})
    assert resp.status_code == 201, resp.text
    return resp.json()["JournalBatchNumber"]


def add_line(
    fo: httpx.Client, batch: str, voucher: str, day: str, account: str, **extra: Any
) -> None:
    body = {
        "dataAreaId": "usmf",
        "JournalBatchNumber": batch,
        "Voucher": voucher,
        "TransDate": f"{day}T00:00:00Z",
        "AccountDisplayValue": account,
        "CurrencyCode": "USD",
        **extra,
    }
    resp = fo.post(
        "/data/LedgerJournalLines",
        content=dumps(body),
        headers={"Content-Type": "application/json"},
    )
    assert resp.status_code == 201, resp.text


def payroll_journal(fo: httpx.Client) -> str:
    """Two vouchers; V1 on two dates (two physical vouchers); one line in EUR."""
    batch = journal(fo)
    d, c = "DebitAmount", "CreditAmount"
    add_line(fo, batch, "V1", "2026-11-15", "600100-001-022-100", **{d: Decimal("100.00")})
    add_line(fo, batch, "V1", "2026-11-15", "200100", Text="Net pay", **{c: Decimal("100.00")})
    # 50.00 EUR at 110.37 per 100 = 55.185 USD, rounded half away from zero to 55.19
    add_line(
        fo,
        batch,
        "V2",
        "2026-11-16",
        "600200-002-023-",
        CurrencyCode="EUR",
        ExchRate=Decimal("110.37"),
        **{d: Decimal("50.00")},
    )
    add_line(fo, batch, "V2", "2026-11-16", "200100-001", **{c: Decimal("55.19")})
    add_line(fo, batch, "V1", "2026-11-20", "600100-002-023-200", **{d: Decimal("7.25")})
    add_line(fo, batch, "V1", "2026-11-20", "200100", **{c: Decimal("7.25")})
    return batch


def post(fo: httpx.Client, batch: str) -> httpx.Response:
    return fo.post(f"/_sandbox/journals/usmf/{batch}/post")


def read_all(fo: httpx.Client, url: str, params: dict[str, str]) -> list[dict[str, Any]]:
    """Every row, following nextLink verbatim."""
    rows: list[dict[str, Any]] = []
    page = exact(fo.get(url, params=params))
    rows += page["value"]
    while "@odata.nextLink" in page:
        page = exact(fo.get(page["@odata.nextLink"]))
        rows += page["value"]
    return rows


def ledger_rows(fo: httpx.Client) -> dict[str, int]:
    rows = fo.get("/_sandbox/stats").json()["rows"]
    return {t: rows[t] for t in LEDGER_TABLES}


def test_posting_writes_one_header_per_voucher_and_date_and_one_entry_per_line(
    fo: httpx.Client,
) -> None:
    batch = payroll_journal(fo)
    assert ledger_rows(fo) == dict.fromkeys(LEDGER_TABLES, 0)
    assert post(fo, batch).json()["IsPosted"] == "Yes"
    # a manual voucher in another company on a November date: the company filter leaves it out
    other = fo.post(
        "/_sandbox/ledger/DEMF/vouchers",
        json={
            "date": "2026-11-18",
            "currency": "EUR",
            "lines": [
                {"account": "600100", "debit": "1.00"},
                {"account": "200100", "credit": "1.00"},
            ],
        },
    )
    assert other.status_code == 201, other.text

    headers = read_all(
        fo,
        GJE,
        {
            "$filter": f"SubledgerVoucherDataAreaId eq 'usmf' and {NOV}",
            "$orderby": "AccountingDate",
            "cross-company": "true",
        },
    )
    assert [(h["SubledgerVoucher"], h["AccountingDate"]) for h in headers] == [
        ("V1", "2026-11-15T00:00:00Z"),
        ("V2", "2026-11-16T00:00:00Z"),
        ("V1", "2026-11-20T00:00:00Z"),
    ]
    for h in headers:
        assert h["LedgerPostingJournal"] == batch
        assert h["JournalNumber"].startswith("GJ-")
        assert h["SubledgerVoucherDataAreaId"] == h["LedgerPostingJournalDataAreaId"] == "usmf"
        assert h["DocumentDate"] == h["AccountingDate"]
        assert (h["FiscalCalendarYear"], h["FiscalCalendarPeriod"]) == (2026, 11)
        assert h["PostingLayer"] == "Current"
    assert len({h["Ledger"] for h in headers}) == 1
    assert headers[0]["Ledger"] != other.json()["header"]["Ledger"]
    assert len({h["SourceKey"] for h in headers}) == 3

    keys = [h["SourceKey"] for h in headers]
    chain = " or ".join(f"GeneralJournalEntry eq {k}" for k in keys)
    entries = read_all(fo, GJAE, {"$filter": chain, "$orderby": "SourceKey"})
    assert len(entries) == 6
    by_header: dict[int, list[dict[str, Any]]] = {k: [] for k in keys}
    for e in entries:
        by_header[e["GeneralJournalEntry"]].append(e)
    for rows in by_header.values():
        assert sum(e["AccountingCurrencyAmount"] for e in rows) == 0

    v1, v2, v1_late = (by_header[k] for k in keys)
    salary, net = v1
    assert salary["LedgerAccount"] == "600100-001-022-100"
    assert json.loads(salary["LedgerDimensionValuesJson"]) == [
        {"MainAccount": "600100"},
        {"BusinessUnit": "001"},
        {"Department": "022"},
        {"CostCenter": "100"},
    ]
    assert (salary["IsCredit"], salary["TransactionCurrencyAmount"]) == ("No", Decimal(100))
    assert salary["AccountingCurrencyAmount"] == salary["ReportingCurrencyAmount"] == 100
    assert net["LedgerAccount"] == "200100---"
    assert json.loads(net["LedgerDimensionValuesJson"]) == [{"MainAccount": "200100"}]
    assert (net["IsCredit"], net["TransactionCurrencyAmount"]) == ("Yes", Decimal(-100))
    assert net["Text"] == "Net pay"
    assert {net["IsCorrection"], salary["IsCorrection"]} == {"No"}

    eur, usd = v2
    assert eur["LedgerAccount"] == "600200-002-023-"
    assert (eur["TransactionCurrencyCode"], eur["TransactionCurrencyAmount"]) == ("EUR", 50)
    assert eur["AccountingCurrencyAmount"] == Decimal("55.19")
    assert eur["ReportingCurrencyAmount"] == Decimal("55.19")
    assert usd["LedgerAccount"] == "200100-001--"
    assert usd["AccountingCurrencyAmount"] == usd["TransactionCurrencyAmount"] == Decimal("-55.19")
    assert [e["IsCredit"] for e in v1_late] == ["No", "Yes"]
    # one stable id per main account
    assert net["MainAccount"] == usd["MainAccount"] == v1_late[1]["MainAccount"]
    assert salary["MainAccount"] == v1_late[0]["MainAccount"] != net["MainAccount"]

    # the same rows with the default company only (they carry no dataAreaId), and counted
    plain = exact(fo.get(GJE, params={"$filter": NOV, "$count": "true", "$top": "2"}))
    assert plain["@odata.count"] == 4  # three in usmf, one in demf
    assert len(plain["value"]) == 2 and "@odata.nextLink" not in plain
    assert (
        fo.get(f"{GJE}/$count", params={"$filter": "SubledgerVoucherDataAreaId eq 'USMF'"}).text
        == "3"
    )
    selected = exact(fo.get(GJAE, params={"$select": "SourceKey,IsCredit", "$top": "1"}))
    assert list(selected["value"][0]) == ["SourceKey", "IsCredit"]
    # a keyed read by the metadata's key: each posted voucher has its own journal number
    first = min(headers, key=lambda h: h["SourceKey"])
    number, ledger = first["JournalNumber"], first["Ledger"]
    key = f"(JournalNumber='{number}',FiscalCalendarYear=2026,Ledger={ledger})"
    assert exact(fo.get(GJE + key))["SourceKey"] == first["SourceKey"]
    assert len({h["JournalNumber"] for h in headers}) == len(headers)
    assert (
        exact(fo.get(f"{GJAE}({salary['SourceKey']})"))["LedgerAccount"] == salary["LedgerAccount"]
    )


def test_paging_follows_next_link_with_a_small_top(fo: httpx.Client) -> None:
    assert post(fo, payroll_journal(fo)).status_code == 200
    first = exact(fo.get(GJAE, params={"$top": "6", "$orderby": "SourceKey desc"}))
    assert len(first["value"]) == 5  # the service's page size
    rest = exact(fo.get(first["@odata.nextLink"]))
    assert len(rest["value"]) == 1 and "@odata.nextLink" not in rest
    keys = [e["SourceKey"] for e in first["value"] + rest["value"]]
    assert keys == sorted(keys, reverse=True) and len(set(keys)) == 6


def test_posting_is_refused_for_a_posted_or_unbalanced_journal(fo: httpx.Client) -> None:
    batch = payroll_journal(fo)
    assert post(fo, batch).status_code == 200
    before = ledger_rows(fo)
    again = post(fo, batch)
    assert again.status_code == 400 and f"{batch} is already posted" in inner(again)

    lopsided = journal(fo)
    add_line(fo, lopsided, "V7", "2026-11-15", "600100", DebitAmount=Decimal("100.00"))
    add_line(fo, lopsided, "V7", "2026-11-15", "200100", CreditAmount=Decimal("90.00"))
    add_line(fo, lopsided, "V7", "2026-11-16", "200100", CreditAmount=Decimal("10.00"))
    refused = post(fo, lopsided)
    assert refused.status_code == 400
    assert "voucher V7 do not balance as per 2026-11-15" in inner(refused)
    assert "accounting currency: 10)" in inner(refused)
    assert ledger_rows(fo) == before
    header = fo.get(
        f"/data/LedgerJournalHeaders(dataAreaId='usmf',JournalBatchNumber='{lopsided}')"
    )
    assert header.json()["IsPosted"] == "No"


def test_a_reversing_line_posts_its_reversal_on_the_reversing_date(fo: httpx.Client) -> None:
    batch = journal(fo)
    reverse = {"ReverseEntry": "Yes", "ReverseDate": "2026-12-01T00:00:00Z"}
    add_line(fo, batch, "A1", "2026-11-30", "600100-001-022-", DebitAmount=Decimal("75"), **reverse)
    add_line(fo, batch, "A1", "2026-11-30", "200100", CreditAmount=Decimal("75"), **reverse)
    assert post(fo, batch).status_code == 200
    headers = read_all(
        fo, GJE, {"$filter": f"LedgerPostingJournal eq '{batch}'", "$orderby": "AccountingDate"}
    )
    assert [(h["SubledgerVoucher"], h["AccountingDate"][:10]) for h in headers] == [
        ("A1", "2026-11-30"),
        ("A1", "2026-12-01"),
    ]
    assert [h["FiscalCalendarPeriod"] for h in headers] == [11, 12]
    posted, reversal = (
        read_all(fo, GJAE, {"$filter": f"GeneralJournalEntry eq {h['SourceKey']}"}) for h in headers
    )
    assert [
        (e["LedgerAccount"], e["TransactionCurrencyAmount"], e["IsCredit"]) for e in posted
    ] == [
        ("600100-001-022-", 75, "No"),
        ("200100---", -75, "Yes"),
    ]
    assert [
        (e["LedgerAccount"], e["TransactionCurrencyAmount"], e["IsCredit"], e["IsCorrection"])
        for e in reversal
    ] == [("600100-001-022-", -75, "Yes", "No"), ("200100---", 75, "No", "No")]


def test_the_ledger_sets_are_read_only_over_odata(fo: httpx.Client) -> None:
    assert post(fo, payroll_journal(fo)).status_code == 200
    before = ledger_rows(fo)
    entry = exact(fo.get(GJAE, params={"$top": "1"}))["value"][0]
    one = f"{GJAE}({entry['SourceKey']})"
    for resp in (
        fo.post(GJE, json={"JournalNumber": "X", "FiscalCalendarYear": 2026, "Ledger": 1}),
        fo.post(GJAE, json={"SourceKey": 1}),
        fo.patch(one, json={"Text": "changed"}),
        fo.delete(one),
    ):
        assert resp.status_code == 400
        assert inner(resp).endswith("is read-only.")
    boundary, changeset = "batch_1", "changeset_1"
    body = (
        f"--{boundary}\r\nContent-Type: multipart/mixed; boundary={changeset}\r\n\r\n"
        f"--{changeset}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary"
        f"\r\nContent-ID: 1\r\n\r\nPATCH {ENV}{one} HTTP/1.1\r\n"
        'Content-Type: application/json; type=entry\r\n\r\n{"Text": "changed"}\r\n'
        f"--{changeset}--\r\n--{boundary}--\r\n"
    ).encode()
    resp = fo.post(
        "/data/$batch",
        content=body,
        headers={"Content-Type": f"multipart/mixed; boundary={boundary}"},
    )
    [part] = parse_batch_response(resp.content, resp.headers["content-type"])
    assert part.status == 400 and part.content_id == "1"
    assert (
        "GeneralJournalAccountEntryBiEntities"
        in json.loads(part.body)["error"]["innererror"]["message"]
    )
    assert ledger_rows(fo) == before
    assert exact(fo.get(one))["Text"] == entry["Text"]


def manual(fo: httpx.Client, lines: list[dict[str, Any]], **extra: Any) -> httpx.Response:
    body = {"date": "2026-11-20", "currency": "USD", "text": "Accrual by hand", **extra}
    return fo.post("/_sandbox/ledger/usmf/vouchers", content=dumps({**body, "lines": lines}))


def test_a_manual_voucher_is_posted_whole_or_not_at_all(
    fo: httpx.Client, service: DynamicsService
) -> None:
    ok = manual(
        fo,
        [
            {"account": "600100-001-022-", "debit": "12.34"},
            {"account": "200100", "credit": "12.34"},
        ],
    )
    assert ok.status_code == 201, ok.text
    posted = exact(ok)
    header = posted["header"]
    assert (header["LedgerPostingJournal"], header["SubledgerVoucher"]) == (
        "MAN-000001",
        "MANV-000001",
    )
    assert header["AccountingDate"] == "2026-11-20T00:00:00Z"
    assert header["SubledgerVoucherDataAreaId"] == "usmf"
    assert [
        (e["LedgerAccount"], e["TransactionCurrencyAmount"], e["IsCredit"], e["Text"])
        for e in posted["entries"]
    ] == [
        ("600100-001-022-", Decimal("12.34"), "No", "Accrual by hand"),
        ("200100---", Decimal("-12.34"), "Yes", "Accrual by hand"),
    ]
    read = read_all(fo, GJE, {"$filter": "LedgerPostingJournal eq 'MAN-000001'"})
    assert [r["SourceKey"] for r in read] == [header["SourceKey"]]
    chosen = manual(
        fo,
        [{"account": "600100", "debit": "1"}, {"account": "200100", "credit": "1"}],
        journal_number="FIN-7",
        voucher="ACCR-1",
    )
    assert exact(chosen)["header"]["LedgerPostingJournal"] == "FIN-7"
    assert exact(chosen)["header"]["SubledgerVoucher"] == "ACCR-1"
    before = ledger_rows(fo)
    assert before == {LEDGER_TABLES[0]: 2, LEDGER_TABLES[1]: 4}

    unbalanced = manual(
        fo,
        [{"account": "600100", "debit": "12.34"}, {"account": "200100", "credit": "12.33"}],
    )
    assert unbalanced.status_code == 400 and "0.01 USD" in inner(unbalanced)
    as_number = fo.post(
        "/_sandbox/ledger/usmf/vouchers",
        content=b'{"date": "2026-11-20", "currency": "USD", "lines": [{"account": "600100", '
        b'"debit": 12.34}, {"account": "200100", "credit": "12.34"}]}',
    )
    assert as_number.status_code == 400 and "'lines[0].debit'" in inner(as_number)
    unknown = manual(
        fo,
        [{"account": "200100", "debit": "5"}, {"account": "999999-001", "credit": "5"}],
    )
    assert unknown.status_code == 400
    assert "'lines[1].account'" in inner(unknown)
    assert "The value '999999' doesn't exist for MainAccount." in inner(unknown)
    assert ledger_rows(fo) == before
    # the counters did not move either: the next voucher still gets the next numbers
    nxt = manual(fo, [{"account": "600100", "debit": "2"}, {"account": "200100", "credit": "2"}])
    assert exact(nxt)["header"]["LedgerPostingJournal"] == "MAN-000002"

    service.reset(sample_company())  # what /_sandbox/reset does to the F&O stand-in
    assert ledger_rows(fo) == dict.fromkeys(LEDGER_TABLES, 0)


def test_a_line_with_a_ledger_offset_account_posts_both_sides(fo: httpx.Client) -> None:
    batch = journal(fo)
    add_line(
        fo,
        batch,
        "O1",
        "2026-11-10",
        "600100-001-022-",
        DebitAmount=Decimal("20.50"),
        OffsetAccountDisplayValue="200100-002",
        Text="Bonus",
    )
    assert post(fo, batch).status_code == 200
    [header] = read_all(fo, GJE, {"$filter": f"LedgerPostingJournal eq '{batch}'"})
    entries = read_all(fo, GJAE, {"$filter": f"GeneralJournalEntry eq {header['SourceKey']}"})
    assert [
        (e["LedgerAccount"], e["AccountingCurrencyAmount"], e["IsCredit"]) for e in entries
    ] == [
        ("600100-001-022-", Decimal("20.50"), "No"),
        ("200100-002--", Decimal("-20.50"), "Yes"),
    ]
