"""OData ``$batch`` wire format: ``multipart/mixed`` requests in, ``multipart/mixed`` answers out.

Only the framing lives here (parse the batch into change sets and single requests, write the
response parts); running the operations, atomically per change set, is the service's job.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus

from ml_connector_sandbox.dynamics.errors import bad_query

_BOUNDARY = re.compile(r'boundary=("?)([^";,\s]+)\1', re.I)


@dataclass
class Operation:
    """One ``application/http`` part: a request line, headers and a body."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    content_id: str | None


@dataclass
class ChangeSet:
    operations: list[Operation] = field(default_factory=list)


@dataclass
class PartResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    content_id: str | None


def boundary_of(content_type: str) -> str:
    if not content_type.lower().startswith("multipart/mixed"):
        raise bad_query(
            f"A $batch request must be multipart/mixed with a boundary, not '{content_type}'."
        )
    m = _BOUNDARY.search(content_type)
    if not m:
        raise bad_query("The multipart/mixed Content-Type of the $batch request has no boundary.")
    return m.group(2)


def _split_headers(block: bytes) -> tuple[dict[str, str], bytes]:
    """``Header: value`` lines up to the first blank line; the rest is the payload."""
    blank = re.match(rb"\r?\n", block)
    text_end = blank or re.search(rb"\r?\n\r?\n", block)
    if text_end is None:
        head, payload = block, b""
    else:
        head, payload = block[: text_end.start()], block[text_end.end() :]
    headers: dict[str, str] = {}
    for line in head.decode("utf-8").splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise bad_query(f"Malformed header line in a $batch part: '{line}'.")
        headers[name.strip().lower()] = value.strip()
    return headers, payload


def split_parts(body: bytes, boundary: str) -> list[bytes]:
    delimiter = b"--" + boundary.encode()
    chunks = body.split(delimiter)
    if len(chunks) < 2:
        raise bad_query(f"The $batch body has no part delimited by '--{boundary}'.")
    parts: list[bytes] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            return parts
        part = re.sub(rb"^[ \t]*\r?\n", b"", chunk, count=1)
        part = re.sub(rb"\r?\n$", b"", part, count=1)
        parts.append(part)
    raise bad_query(f"The $batch body is not closed by '--{boundary}--'.")


def _operation(part: bytes) -> Operation:
    mime_headers, payload = _split_headers(part)
    ctype = mime_headers.get("content-type", "")
    if not ctype.lower().startswith("application/http"):
        raise bad_query(f"A $batch operation must be application/http, not '{ctype}'.")
    request_line, _, rest = payload.partition(b"\n")
    words = request_line.decode("utf-8").strip().split(" ")
    if len(words) != 3 or not words[2].startswith("HTTP/"):
        raise bad_query(f"Malformed request line in a $batch part: '{request_line!r}'.")
    headers, body = _split_headers(rest)
    body = re.sub(rb"\r?\n$", b"", body)
    content_id = mime_headers.get("content-id") or headers.get("content-id")
    return Operation(words[0].upper(), words[1], headers, body, content_id)


def parse_batch(body: bytes, content_type: str) -> list[Operation | ChangeSet]:
    """Top-level items in order: single operations and change sets (each a list of writes)."""
    items: list[Operation | ChangeSet] = []
    for part in split_parts(body, boundary_of(content_type)):
        headers, payload = _split_headers(part)
        ctype = headers.get("content-type", "")
        if ctype.lower().startswith("multipart/mixed"):
            changeset = ChangeSet()
            for inner in split_parts(payload, boundary_of(ctype)):
                op = _operation(inner)
                if op.method == "GET":
                    raise bad_query("A change set may only hold POST, PATCH, PUT or DELETE.")
                changeset.operations.append(op)
            items.append(changeset)
        else:
            items.append(_operation(part))
    return items


def count_operations(items: list[Operation | ChangeSet]) -> int:
    return sum(len(i.operations) if isinstance(i, ChangeSet) else 1 for i in items)


def _http_part(resp: PartResponse) -> bytes:
    head = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if resp.content_id is not None:
        head.append(f"Content-ID: {resp.content_id}")
    reason = HTTPStatus(resp.status).phrase
    inner = [f"HTTP/1.1 {resp.status} {reason}"]
    inner += [f"{k}: {v}" for k, v in resp.headers.items()]
    text = "\r\n".join(head) + "\r\n\r\n" + "\r\n".join(inner) + "\r\n\r\n"
    return text.encode() + resp.body


def serialize_batch_response(
    results: list[PartResponse | list[PartResponse]],
) -> tuple[bytes, str]:
    """Body and Content-Type of the outer 200: a list is a successful change set."""
    outer = f"batchresponse_{uuid.uuid4()}"
    chunks: list[bytes] = []
    for result in results:
        chunks.append(f"--{outer}\r\n".encode())
        if isinstance(result, list):
            inner = f"changesetresponse_{uuid.uuid4()}"
            chunks.append(f"Content-Type: multipart/mixed; boundary={inner}\r\n\r\n".encode())
            for resp in result:
                chunks.append(f"--{inner}\r\n".encode() + _http_part(resp) + b"\r\n")
            chunks.append(f"--{inner}--\r\n".encode())
        else:
            chunks.append(_http_part(result) + b"\r\n")
    chunks.append(f"--{outer}--\r\n".encode())
    return b"".join(chunks), f"multipart/mixed; boundary={outer}"


@dataclass
class ParsedResponsePart:
    """A response part read back (used by tests and by anything that inspects a batch answer)."""

    status: int
    headers: dict[str, str]
    body: bytes
    content_id: str | None
    changeset: int | None


def parse_batch_response(body: bytes, content_type: str) -> list[ParsedResponsePart]:
    """Flatten a batch response: every part with its status, Content-ID and change set index."""
    out: list[ParsedResponsePart] = []
    for index, part in enumerate(split_parts(body, boundary_of(content_type))):
        headers, payload = _split_headers(part)
        ctype = headers.get("content-type", "")
        if ctype.lower().startswith("multipart/mixed"):
            for inner in split_parts(payload, boundary_of(ctype)):
                out.append(_response_part(inner, index))
        else:
            out.append(_response_part(part, None))
    return out


def _response_part(part: bytes, changeset: int | None) -> ParsedResponsePart:
    mime_headers, payload = _split_headers(part)
    status_line, _, rest = payload.partition(b"\n")
    headers, body = _split_headers(rest)
    return ParsedResponsePart(
        status=int(status_line.split()[1]),
        headers=headers,
        body=body,
        content_id=mime_headers.get("content-id"),
        changeset=changeset,
    )
