"""Precise Rippling failures, each naming the endpoint and saying what to do; never a token."""


class RipplingError(Exception):
    """Any failure talking to Rippling."""


class RipplingAuthError(RipplingError):
    """401: the credential is not (or no longer) accepted."""


class RipplingPermissionError(RipplingError):
    """403: the token lacks the scope (or the admin lost the permission) for an endpoint."""

    def __init__(self, endpoint: str, scope: str, detail: str = "") -> None:
        self.endpoint = endpoint
        self.scope = scope
        message = f"Rippling refused {endpoint} (403): the token needs the scope '{scope}'"
        if detail:
            message += f" ({detail})"
        super().__init__(message)


class RipplingRequestError(RipplingError):
    """A 4xx other than 401/403/429: the request itself is wrong and retrying will not help."""

    def __init__(self, endpoint: str, status: int, body: str) -> None:
        self.endpoint = endpoint
        self.status = status
        self.body = body
        super().__init__(f"Rippling answered {status} to {endpoint}: {body[:500]}")


class RipplingUnavailableError(RipplingError):
    """Throttling, 5xx or connection failures outlasted the retry budget."""


class RipplingPagingError(RipplingError):
    """A ``next_link`` pointing away from Rippling's host (the token must never follow it)."""


class RipplingDataError(RipplingError):
    """A record Rippling sent that does not fit the documented shape; names record and field."""
