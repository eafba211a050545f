"""F&O-shaped OData errors: the useful text lives in ``error.innererror.message``."""

from __future__ import annotations

from typing import Any

WRITE_EXCEPTION = "Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataWriteException"
QUERY_EXCEPTION = "Microsoft.OData.ODataException"


class ODataError(Exception):
    """Raised anywhere in the service; turned into an HTTP response with F&O's error body."""

    def __init__(self, status: int, message: str, exc_type: str = WRITE_EXCEPTION) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.exc_type = exc_type

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.exc_type)


def error_body(message: str, exc_type: str = WRITE_EXCEPTION) -> dict[str, Any]:
    return {
        "error": {
            "code": "",
            "message": "An error has occurred.",
            "innererror": {"message": message, "type": exc_type, "stacktrace": ""},
        }
    }


def write_failed(entity_type: str, text: str, level: str = "Warning") -> ODataError:
    """The form F&O gives a row rejected by its table validation (400)."""
    return ODataError(
        400, f"Write failed for table row of type '{entity_type}Entity'. Infolog: {level}: {text}"
    )


def bad_query(text: str) -> ODataError:
    return ODataError(400, text, QUERY_EXCEPTION)


def not_found(text: str) -> ODataError:
    return ODataError(404, text, QUERY_EXCEPTION)
