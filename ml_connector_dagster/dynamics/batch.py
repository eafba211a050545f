"""OData ``$batch`` requests and responses (multipart/mixed), as F&O speaks them.

A changeset is atomic: F&O applies all of its operations or none, and answers a failed changeset
with a single error response for the whole of it. Every operation gets a ``Content-ID`` so an
error can be tied to the operation (the journal line) that caused it. The outer response is
200 even when a part inside failed, so every part's status is read.
"""

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from typing import Any

from ml_connector_dagster.transport import jsonmoney

MAX_OPERATIONS = 5000  # F&O's documented ceiling per batch
CRLF = "\r\n"


@dataclass(frozen=True)
class Operation:
    """One write inside a changeset: POST or PATCH of an entity (relative to ``/data/``)."""

    method: str
    path: str
    body: dict[str, Any] | None = None
    content_id: str = ""


@dataclass
class PartResponse:
    """The answer to one operation, or the single answer to a failed changeset."""

    status: int
    headers: dict[str, str]
    body: Any
    content_id: str | None = None


@dataclass
class BatchRequest:
    """A ``$batch`` body and its content type."""

    body: bytes
    content_type: str
    operations: list[Operation] = field(default_factory=list)


def build_batch(
    changesets: Sequence[Sequence[Operation]], data_url: str, *, query: str = ""
) -> BatchRequest:
    """Encode changesets (each atomic) into one multipart/mixed batch body.

    ``data_url`` is the OData root (``https://host/data``); operation paths are appended to it
    with ``query`` (``cross-company=true``) so each part names an absolute URL.
    """
    total = sum(len(c) for c in changesets)
    if total == 0:
        raise ValueError("a $batch needs at least one operation")
    if total > MAX_OPERATIONS:
        raise ValueError(f"a $batch holds at most {MAX_OPERATIONS} operations, got {total}")
    batch_boundary = f"batch_{uuid.uuid4()}"
    lines: list[str] = []
    operations: list[Operation] = []
    counter = 0
    for changeset in changesets:
        changeset_boundary = f"changeset_{uuid.uuid4()}"
        lines += [
            f"--{batch_boundary}",
            f"Content-Type: multipart/mixed; boundary={changeset_boundary}",
            "",
        ]
        for op in changeset:
            counter += 1
            content_id = op.content_id or str(counter)
            operations.append(Operation(op.method, op.path, op.body, content_id))
            url = f"{data_url.rstrip('/')}/{op.path.lstrip('/')}"
            if query:
                url += ("&" if "?" in url else "?") + query
            lines += [
                f"--{changeset_boundary}",
                "Content-Type: application/http",
                "Content-Transfer-Encoding: binary",
                f"Content-ID: {content_id}",
                "",
                f"{op.method} {url} HTTP/1.1",
                "Content-Type: application/json; odata.metadata=minimal",
                "Accept: application/json",
                "OData-Version: 4.0",
                "",
                jsonmoney.dumps(op.body) if op.body is not None else "",
            ]
        lines.append(f"--{changeset_boundary}--")
    lines += [f"--{batch_boundary}--", ""]
    return BatchRequest(
        body=CRLF.join(lines).encode("utf-8"),
        content_type=f"multipart/mixed; boundary={batch_boundary}",
        operations=operations,
    )


_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


def boundary_of(content_type: str) -> str:
    match = _BOUNDARY.search(content_type or "")
    if not match:
        raise ValueError(f"multipart response without a boundary: {content_type!r}")
    return match.group(1).strip()


def _split(body: bytes, boundary: str) -> list[bytes]:
    """The parts between ``--boundary`` delimiters, preamble and epilogue dropped."""
    delimiter = b"--" + boundary.encode()
    pieces = body.split(delimiter)
    parts = []
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            break
        parts.append(piece.removeprefix(b"\r\n").removeprefix(b"\n"))
    return parts


def _head_and_body(part: bytes) -> tuple[dict[str, str], bytes]:
    for separator in (b"\r\n\r\n", b"\n\n"):
        if separator in part:
            head, body = part.split(separator, 1)
            headers = BytesHeaderParser().parsebytes(head + b"\r\n\r\n")
            return {k.lower(): v for k, v in headers.items()}, body
    headers = BytesHeaderParser().parsebytes(part)
    return {k.lower(): v for k, v in headers.items()}, b""


def _http_response(payload: bytes, content_id: str | None) -> PartResponse:
    """Parse an embedded ``HTTP/1.1 201 Created`` response."""
    text = payload.lstrip(b"\r\n")
    status_line, _, rest = text.partition(b"\n")
    fields = status_line.decode("latin-1").strip().split(" ", 2)
    if len(fields) < 2 or not fields[1].isdigit():
        raise ValueError(f"unreadable status line in $batch response: {status_line[:80]!r}")
    headers, body = _head_and_body(rest)
    body = body.rstrip(b"\r\n")
    parsed: Any = None
    if body.strip():
        try:
            parsed = jsonmoney.loads(body)
        except ValueError:
            parsed = body.decode("utf-8", errors="replace")
    return PartResponse(
        status=int(fields[1]),
        headers=headers,
        body=parsed,
        content_id=headers.get("content-id", content_id),
    )


def parse_batch_response(body: bytes, content_type: str) -> list[PartResponse]:
    """Every operation's (or failed changeset's) response, in order."""
    results: list[PartResponse] = []
    for part in _split(body, boundary_of(content_type)):
        headers, payload = _head_and_body(part)
        kind = headers.get("content-type", "")
        if kind.lower().startswith("multipart/mixed"):
            for inner in _split(payload, boundary_of(kind)):
                inner_headers, inner_payload = _head_and_body(inner)
                results.append(_http_response(inner_payload, inner_headers.get("content-id")))
        else:
            results.append(_http_response(payload, headers.get("content-id")))
    return results
