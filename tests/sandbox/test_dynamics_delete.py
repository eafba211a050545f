"""Deleting a journal header in the F&O stand-in, through real HTTPS: an unposted header goes
(its lines with it, also inside a ``$batch`` changeset); a posted one is refused as F&O does."""

import ssl
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from ml_connector_dagster.dynamics.batch import Operation, build_batch, parse_batch_response
from ml_connector_dagster.transport import jsonmoney
from ml_connector_sandbox.server import Sandbox

HEADERS = "/data/LedgerJournalHeaders"


def _token(sandbox: Sandbox, ssl_ctx: ssl.SSLContext) -> str:
    client = next(c for c in sandbox.entra.credentials()["clients"] if c["registered_in_dynamics"])
    with httpx.Client(verify=ssl_ctx) as http:
        answer = http.post(
            f"{sandbox.urls['entra']}/{sandbox.entra.tenant_id}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client["client_id"],
                "client_secret": client["client_secret"],
                "scope": f"{sandbox.urls['dynamics']}/.default",
            },
        )
    answer.raise_for_status()
    return answer.json()["access_token"]


@pytest.fixture
def fo(fresh_sandbox: Sandbox, sandbox_ssl: ssl.SSLContext) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {_token(fresh_sandbox, sandbox_ssl)}"}
    with httpx.Client(
        base_url=fresh_sandbox.urls["dynamics"], verify=sandbox_ssl, headers=headers, timeout=30
    ) as client:
        yield client


def _header_url(batch: str) -> str:
    return f"{HEADERS}(dataAreaId='usmf',JournalBatchNumber='{batch}')"


def _new_header(client: httpx.Client, description: str = "to delete") -> str:
    answer = client.post(
        HEADERS, json={"dataAreaId": "usmf", "JournalName": "PAYROLL", "Description": description}
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["JournalBatchNumber"]


def _line(batch: str, number: int, account: str, side: str) -> dict:
    return {
        "dataAreaId": "usmf",
        "JournalBatchNumber": batch,
        "LineNumber": number,
        "TransDate": "2026-11-20T00:00:00Z",
        "CurrencyCode": "USD",
        "AccountDisplayValue": account,
        side: Decimal("7.50"),
    }


def _post_line(client: httpx.Client, body: dict) -> httpx.Response:
    return client.post(
        "/data/LedgerJournalLines",
        content=jsonmoney.dumps(body),
        headers={"Content-Type": "application/json"},
    )


def _add_lines(client: httpx.Client, batch: str) -> None:
    for body in (
        _line(batch, 1, "600100-001-D100-CCEXE", "DebitAmount"),
        _line(batch, 2, "220400-001--", "CreditAmount"),
    ):
        answer = _post_line(client, body)
        assert answer.status_code == 201, answer.text


def _line_count(client: httpx.Client, batch: str) -> int:
    answer = client.get(
        "/data/LedgerJournalLines/$count", params={"$filter": f"JournalBatchNumber eq '{batch}'"}
    )
    assert answer.status_code == 200, answer.text
    return int(answer.text)


def _inner_message(answer: httpx.Response) -> str:
    error = answer.json()["error"]
    assert error["message"] == "An error has occurred."
    return error["innererror"]["message"]


def _batch(client: httpx.Client, operations: list[Operation]) -> list:
    request = build_batch(
        [operations], str(client.base_url).rstrip("/") + "/data", query="cross-company=true"
    )
    answer = client.post(
        "/data/$batch", content=request.body, headers={"Content-Type": request.content_type}
    )
    assert answer.status_code == 200, answer.text
    return parse_batch_response(answer.content, answer.headers["content-type"])


def test_deleting_an_empty_unposted_header_answers_204_and_it_is_gone(fo: httpx.Client) -> None:
    batch = _new_header(fo)
    answer = fo.delete(_header_url(batch))
    assert answer.status_code == 204 and answer.content == b""
    assert fo.get(_header_url(batch)).status_code == 404
    assert fo.delete(_header_url(batch)).status_code == 404  # a second delete finds nothing
    assert fo.get("/_sandbox/stats").json()["writes"]["LedgerJournalHeaders"]["delete"] == 1


def test_deleting_a_header_with_lines_deletes_its_lines(fo: httpx.Client) -> None:
    batch = _new_header(fo)
    other = _new_header(fo, "stays")
    _add_lines(fo, batch)
    _add_lines(fo, other)
    assert _line_count(fo, batch) == 2
    assert fo.delete(_header_url(batch)).status_code == 204
    assert _line_count(fo, batch) == 0
    assert fo.get(f"/_sandbox/journals/usmf/{batch}/lines").json() == []
    assert _line_count(fo, other) == 2  # only that journal's lines went
    # a journal created again under the same number starts clean: line 1, no leftover totals
    recreated = fo.post(
        HEADERS, json={"dataAreaId": "usmf", "JournalName": "PAYROLL", "JournalBatchNumber": batch}
    )
    assert recreated.status_code == 201, recreated.text
    assert recreated.json()["JournalTotalDebit"] == 0
    unnumbered = _line(batch, 1, "600100-001-D100-CCEXE", "DebitAmount")
    del unnumbered["LineNumber"]
    answer = _post_line(fo, unnumbered)
    assert answer.status_code == 201, answer.text
    assert answer.json()["LineNumber"] == 1


def test_delete_inside_a_batch_changeset(fo: httpx.Client) -> None:
    batch = _new_header(fo)
    _add_lines(fo, batch)
    [part] = _batch(fo, [Operation("DELETE", _header_url(batch).removeprefix("/data/"), None, "1")])
    assert part.status == 204 and part.content_id == "1"
    assert fo.get(_header_url(batch)).status_code == 404
    assert _line_count(fo, batch) == 0


def test_a_failed_changeset_undoes_the_delete_and_its_cascade(fo: httpx.Client) -> None:
    batch = _new_header(fo)
    _add_lines(fo, batch)
    [failure] = _batch(
        fo,
        [
            Operation("DELETE", _header_url(batch).removeprefix("/data/"), None, "1"),
            Operation("DELETE", _header_url("USMF-999999").removeprefix("/data/"), None, "2"),
        ],
    )
    assert failure.status == 404 and failure.content_id == "2"
    assert fo.get(_header_url(batch)).status_code == 200
    assert _line_count(fo, batch) == 2


def test_a_posted_header_cannot_be_deleted(fo: httpx.Client) -> None:
    batch = _new_header(fo)
    _add_lines(fo, batch)
    assert fo.post(f"/_sandbox/journals/usmf/{batch}/post").json()["IsPosted"] == "Yes"
    answer = fo.delete(_header_url(batch))
    assert answer.status_code == 400
    message = _inner_message(answer)
    assert message.startswith(
        "Write failed for table row of type 'LedgerJournalHeaderEntity'. Infolog: Error: "
        f"Journal batch number {batch} is posted and cannot be deleted"
    )
    assert answer.json()["error"]["innererror"]["type"].endswith("AxODataWriteException")
    # nothing went: the header, its lines, and no delete counted
    assert fo.get(_header_url(batch)).json()["IsPosted"] == "Yes"
    assert _line_count(fo, batch) == 2
    assert "delete" not in fo.get("/_sandbox/stats").json()["writes"]["LedgerJournalHeaders"]
    # the same refusal inside a changeset
    [failure] = _batch(
        fo, [Operation("DELETE", _header_url(batch).removeprefix("/data/"), None, "1")]
    )
    assert failure.status == 400
    assert f"Journal batch number {batch} is posted and cannot be deleted" in str(failure.body)
    assert fo.get(_header_url(batch)).status_code == 200
