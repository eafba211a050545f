"""Precise Dynamics failures, carrying F&O's own text (``innererror.message``), never a token."""

from dataclasses import dataclass
from typing import Any


class DynamicsError(Exception):
    """Any failure talking to Entra ID or F&O."""


class DynamicsAuthError(DynamicsError):
    """Entra ID refused a token, or F&O refused the token it got."""

    def __init__(self, message: str, aadsts_code: int | None = None) -> None:
        self.aadsts_code = aadsts_code
        super().__init__(message)


class DynamicsRequestError(DynamicsError):
    """F&O rejected a request (4xx other than 401/429); retrying will not help."""

    def __init__(self, method: str, path: str, status: int, message: str) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.message = message
        super().__init__(f"Dynamics {method} {path} failed ({status}): {message}")


class DynamicsNotFoundError(DynamicsRequestError):
    """404: no such entity set or keyed record."""


class DynamicsUnavailableError(DynamicsError):
    """Throttling, 5xx or connection failures outlasted the retry budget."""


class DynamicsTimeoutError(DynamicsUnavailableError):
    """Entra ID did not answer within the configured timeout, through every attempt.

    The text names the endpoint, the timeout and the setting that raises it.
    """


class AmbiguousWriteError(DynamicsError):
    """A write whose outcome is unknown (connection lost or 5xx after sending).

    It is never retried blindly: the caller checks whether it landed (journal identity in the
    header Description) before writing again, so no journal is ever duplicated.
    """


@dataclass(frozen=True)
class FailedOperation:
    """One operation of a ``$batch`` that F&O refused."""

    content_id: str | None
    status: int
    message: str
    request: dict[str, Any] | None = None


class BatchError(DynamicsError):
    """A ``$batch`` in which at least one changeset failed; nothing of a failed changeset landed."""

    def __init__(self, failures: list[FailedOperation]) -> None:
        self.failures = failures
        lines = [
            f"operation {f.content_id or '?'} ({f.status}): {f.message}"
            + (f" [line: {_describe(f.request)}]" if f.request else "")
            for f in failures
        ]
        super().__init__("Dynamics $batch failed: " + "; ".join(lines))


def _describe(request: dict[str, Any]) -> str:
    keys = ("AccountDisplayValue", "DebitAmount", "CreditAmount", "CurrencyCode", "Text")
    return ", ".join(f"{k}={request[k]}" for k in keys if k in request)


def odata_error_message(body: Any, fallback: str) -> str:
    """The useful text of an OData error: ``innererror.message``, else ``message``."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            inner = error.get("innererror")
            if isinstance(inner, dict) and inner.get("message"):
                return str(inner["message"])
            if error.get("message"):
                return str(error["message"])
    return fallback
