"""$batch encoding and decoding, independent of any server."""

from decimal import Decimal

import pytest

from ml_connector_dagster.dynamics.batch import (
    MAX_OPERATIONS,
    Operation,
    boundary_of,
    build_batch,
    parse_batch_response,
)


def test_build_batch_puts_each_operation_in_its_changeset_with_content_ids() -> None:
    built = build_batch(
        [
            [Operation("POST", "LedgerJournalLines", {"DebitAmount": Decimal("1.10")})] * 2,
            [Operation("POST", "LedgerJournalLines", {"CreditAmount": Decimal("2.20")})],
        ],
        "https://env.example/data",
        query="cross-company=true",
    )
    text = built.body.decode()
    assert built.content_type.startswith("multipart/mixed; boundary=batch_")
    assert text.count("Content-Type: multipart/mixed; boundary=changeset_") == 2
    assert [op.content_id for op in built.operations] == ["1", "2", "3"]
    assert "POST https://env.example/data/LedgerJournalLines?cross-company=true HTTP/1.1" in text
    assert '{"DebitAmount": 1.10}' in text and "\r\n" in text
    assert text.rstrip().endswith(f"--{boundary_of(built.content_type)}--")


def test_batch_size_limits() -> None:
    with pytest.raises(ValueError):
        build_batch([[]], "https://x/data")
    too_many = [[Operation("POST", "X", {})] * (MAX_OPERATIONS + 1)]
    with pytest.raises(ValueError, match="at most"):
        build_batch(too_many, "https://x/data")


RESPONSE = (
    "--batchresponse_1\r\n"
    "Content-Type: multipart/mixed; boundary=changesetresponse_a\r\n\r\n"
    "--changesetresponse_a\r\n"
    "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n"
    "HTTP/1.1 201 Created\r\nContent-Type: application/json; odata.metadata=minimal\r\n\r\n"
    '{"LineNumber": 1.0, "DebitAmount": 10.25}\r\n'
    "--changesetresponse_a--\r\n"
    "--batchresponse_1\r\n"
    "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 7\r\n\r\n"
    "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n\r\n"
    '{"error": {"code": "", "message": "An error has occurred.", "innererror": '
    '{"message": "The value \'999\' doesn\'t exist for Department."}}}\r\n'
    "--batchresponse_1--\r\n"
)


def test_parse_reads_every_part_status_content_id_and_decimal_body() -> None:
    parts = parse_batch_response(RESPONSE.encode(), "multipart/mixed; boundary=batchresponse_1")
    assert [(p.status, p.content_id) for p in parts] == [(201, "1"), (400, "7")]
    assert parts[0].body["DebitAmount"] == Decimal("10.25")
    assert "doesn't exist for Department" in parts[1].body["error"]["innererror"]["message"]


def test_parse_without_boundary_is_an_error() -> None:
    with pytest.raises(ValueError, match="boundary"):
        parse_batch_response(b"", "application/json")
