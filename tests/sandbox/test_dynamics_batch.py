"""OData $batch on the F&O stand-in: atomic change sets, Content-IDs, the 5,000 limit."""

from __future__ import annotations

import json
import uuid
import warnings
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

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


@pytest.fixture
def fo_client(tmp_path: Path) -> Iterator[httpx.Client]:
    service = DynamicsService(
        tmp_path, sample_company(), ENV, lambda t: t == "good-token", page_size=5
    )
    with TestClient(
        service.app, base_url=ENV, headers={"Authorization": "Bearer good-token"}
    ) as client:
        yield client


def build_batch(
    changesets: list[list[tuple[str, str, dict | None, str]]], gets: list[str] = ()
) -> tuple[bytes, str]:
    """Change sets of (method, url, body, content_id) plus GET parts outside them."""
    outer = f"batch_{uuid.uuid4()}"
    out: list[str] = []
    for ops in changesets:
        cs = f"changeset_{uuid.uuid4()}"
        out.append(f"--{outer}\r\nContent-Type: multipart/mixed; boundary={cs}\r\n\r\n")
        for method, url, body, cid in ops:
            payload = dumps(body).decode() if body is not None else ""
            out.append(
                f"--{cs}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary"
                f"\r\nContent-ID: {cid}\r\n\r\n{method} {url} HTTP/1.1\r\n"
                f"Content-Type: application/json; type=entry\r\n\r\n{payload}\r\n"
            )
        out.append(f"--{cs}--\r\n")
    for url in gets:
        out.append(
            f"--{outer}\r\nContent-Type: application/http\r\n"
            f"Content-Transfer-Encoding: binary\r\n\r\nGET {url} HTTP/1.1\r\n"
            "Accept: application/json\r\n\r\n\r\n"
        )
    out.append(f"--{outer}--\r\n")
    return "".join(out).encode(), f"multipart/mixed; boundary={outer}"


def send(client: httpx.Client, body: bytes, ctype: str) -> httpx.Response:
    return client.post("/data/$batch", content=body, headers={"Content-Type": ctype})


def journal(client: httpx.Client) -> str:
    resp = client.post(
        "/data/LedgerJournalHeaders", json={"dataAreaId": "usmf", "JournalName": "PAYROLL"}
    )
    return resp.json()["JournalBatchNumber"]


def line(batch: str, n: int, account: str = "600100-001-022-100", **amounts: Any) -> dict:
    return {
        "dataAreaId": "usmf",
        "JournalBatchNumber": batch,
        "LineNumber": n,
        "AccountDisplayValue": account,
        "TransDate": "2026-11-15T00:00:00Z",
        "CurrencyCode": "USD",
        **(amounts or {"DebitAmount": Decimal("10.05")}),
    }


def test_successful_changeset_answers_201_per_operation_with_content_ids(
    fo_client: httpx.Client,
) -> None:
    batch = journal(fo_client)
    ops = [
        ("POST", f"{ENV}/data/LedgerJournalLines", line(batch, 1), "1"),
        (
            "POST",
            "LedgerJournalLines",
            line(batch, 2, "200100", CreditAmount=Decimal("10.05")),
            "2",
        ),
    ]
    flt = quote(f"JournalBatchNumber eq '{batch}'", safe="'")
    body, ctype = build_batch([ops], gets=[f"LedgerJournalLines?$filter={flt}&$select=LineNumber"])
    resp = send(fo_client, body, ctype)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("multipart/mixed; boundary=batchresponse_")
    assert "changesetresponse_" in resp.text
    parts = parse_batch_response(resp.content, resp.headers["content-type"])
    assert [(p.status, p.content_id, p.changeset) for p in parts[:2]] == [
        (201, "1", 0),
        (201, "2", 0),
    ]
    created = json.loads(parts[1].body, parse_float=Decimal)
    assert created["CreditAmount"] == Decimal("10.05") and created["LineNumber"] == 2
    assert parts[2].status == 200 and parts[2].changeset is None
    assert json.loads(parts[2].body)["value"] == [{"LineNumber": 1}, {"LineNumber": 2}]
    header = fo_client.get(
        f"/data/LedgerJournalHeaders(dataAreaId='usmf',JournalBatchNumber='{batch}')"
    )
    assert header.json()["JournalTotalDebit"] == header.json()["JournalTotalCredit"] == 10.05


def test_failed_changeset_is_one_error_part_and_writes_nothing(fo_client: httpx.Client) -> None:
    batch = journal(fo_client)
    writes_before = fo_client.get("/_sandbox/stats").json()["writes"]
    good = [("POST", "LedgerJournalLines", line(batch, 1), "1")]
    bad = [
        ("POST", "LedgerJournalLines", line(batch, 2), "1"),
        ("POST", "LedgerJournalLines", line(batch, 3), "2"),
        ("POST", "/data/LedgerJournalLines", line(batch, 4, "600100-001-D999"), "3"),
        ("POST", "LedgerJournalLines", line(batch, 5), "4"),
    ]
    body, ctype = build_batch([bad, good])
    resp = send(fo_client, body, ctype)
    assert resp.status_code == 200
    parts = parse_batch_response(resp.content, resp.headers["content-type"])
    assert [(p.status, p.content_id, p.changeset) for p in parts] == [
        (400, "3", None),
        (201, "1", 1),
    ]
    error = json.loads(parts[0].body)["error"]
    assert error["innererror"]["message"].endswith("The value 'D999' doesn't exist for Department.")
    lines = fo_client.get(
        "/data/LedgerJournalLines",
        params={"$filter": f"JournalBatchNumber eq '{batch}'", "$select": "LineNumber"},
    ).json()["value"]
    assert lines == [{"LineNumber": 1}]  # only the good change set's line
    header = fo_client.get(
        f"/data/LedgerJournalHeaders(dataAreaId='usmf',JournalBatchNumber='{batch}')"
    ).json()
    assert header["JournalTotalDebit"] == 10.05
    writes = fo_client.get("/_sandbox/stats").json()["writes"]
    assert writes["LedgerJournalLines"]["create"] == 1
    assert writes["LedgerJournalHeaders"] == writes_before["LedgerJournalHeaders"]


def test_header_and_lines_in_separate_changesets_and_failure_leaves_no_header(
    fo_client: httpx.Client,
) -> None:
    ops = [
        (
            "POST",
            "LedgerJournalHeaders",
            {"dataAreaId": "usmf", "JournalName": "PAYROLL", "JournalBatchNumber": "RUN-1"},
            "1",
        ),
        ("POST", "LedgerJournalLines", line("RUN-1", 1, "999"), "2"),
    ]
    body, ctype = build_batch([ops])
    parts = parse_batch_response(
        *(lambda r: (r.content, r.headers["content-type"]))(send(fo_client, body, ctype))
    )
    assert [(p.status, p.content_id) for p in parts] == [(400, "2")]
    assert (
        fo_client.get(
            "/data/LedgerJournalHeaders(dataAreaId='usmf',JournalBatchNumber='RUN-1')"
        ).status_code
        == 404
    )


def test_more_than_5000_operations_is_refused_whole(fo_client: httpx.Client) -> None:
    batch = journal(fo_client)
    ops = [("POST", "LedgerJournalLines", line(batch, i), str(i)) for i in range(1, 5002)]
    body, ctype = build_batch([ops])
    resp = send(fo_client, body, ctype)
    assert resp.status_code == 400
    assert "5001 operations" in resp.json()["error"]["innererror"]["message"]
    assert fo_client.get("/_sandbox/stats").json()["rows"]["LedgerJournalLines"] == 0


def test_batch_of_5000_operations_is_accepted(fo_client: httpx.Client) -> None:
    batch = journal(fo_client)
    ops = [("POST", "LedgerJournalLines", line(batch, i), str(i)) for i in range(1, 5001)]
    body, ctype = build_batch([ops])
    resp = send(fo_client, body, ctype)
    parts = parse_batch_response(resp.content, resp.headers["content-type"])
    assert len(parts) == 5000 and {p.status for p in parts} == {201}
    header = json.loads(
        fo_client.get(
            f"/data/LedgerJournalHeaders(dataAreaId='usmf',JournalBatchNumber='{batch}')"
        ).content,
        parse_float=Decimal,
    )
    assert header["JournalTotalDebit"] == Decimal("10.05") * 5000


def test_batch_needs_multipart(fo_client: httpx.Client) -> None:
    resp = fo_client.post("/data/$batch", json={"requests": []})
    assert resp.status_code == 400
    assert "multipart/mixed" in resp.json()["error"]["innererror"]["message"]


def test_a_resent_changeset_with_supplied_line_numbers_collides_and_writes_nothing(
    fo_client: httpx.Client,
) -> None:
    batch = journal(fo_client)
    ops = [
        ("POST", "LedgerJournalLines", line(batch, 1), "1"),
        (
            "POST",
            "LedgerJournalLines",
            line(batch, 2, "200100", CreditAmount=Decimal("10.05")),
            "2",
        ),
    ]
    first = parse_batch_response(*_sent(fo_client, [ops]))
    assert [p.status for p in first] == [201, 201]
    again = parse_batch_response(*_sent(fo_client, [ops]))
    assert [p.status for p in again] == [400]  # the whole changeset refused
    assert "already exists" in json.loads(again[0].body)["error"]["innererror"]["message"]
    lines = fo_client.get(
        "/data/LedgerJournalLines",
        params={"$filter": f"JournalBatchNumber eq '{batch}'", "$select": "LineNumber"},
    ).json()["value"]
    assert lines == [{"LineNumber": 1}, {"LineNumber": 2}]
    header = fo_client.get(
        f"/data/LedgerJournalHeaders(dataAreaId='usmf',JournalBatchNumber='{batch}')"
    ).json()
    assert header["JournalTotalDebit"] == header["JournalTotalCredit"] == 10.05


def _sent(client: httpx.Client, changesets: list) -> tuple[bytes, str]:
    body, ctype = build_batch(changesets)
    resp = send(client, body, ctype)
    assert resp.status_code == 200
    return resp.content, resp.headers["content-type"]
