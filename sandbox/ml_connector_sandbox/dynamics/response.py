"""The answer every layer of the F&O stand-in returns: status, headers and body.

Reads, writes, ``$batch`` and the Starlette app all speak ``ODataResponse`` so that one request
inside a change set is answered exactly as the same request on its own; kept apart so the app
and the service facade can share it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ml_connector_sandbox.dynamics.edm import dumps, loads
from ml_connector_sandbox.dynamics.errors import ODataError

JSON_TYPE = "application/json; odata.metadata=minimal; odata.streaming=true"


@dataclass
class ODataResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        return loads(self.body)


def json_response(
    status: int, payload: Any, headers: dict[str, str] | None = None
) -> ODataResponse:
    return ODataResponse(status, {"Content-Type": JSON_TYPE, **(headers or {})}, dumps(payload))


def error_response(err: ODataError) -> ODataResponse:
    return json_response(err.status, err.body())
