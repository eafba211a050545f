"""Precise Rippling failures, each naming the endpoint and saying what to do; never a token."""

from enum import StrEnum


class RipplingError(Exception):
    """Any failure talking to Rippling."""


class RipplingAuthError(RipplingError):
    """401: the credential is not (or no longer) accepted."""


class PermissionCause(StrEnum):
    """Why Rippling refused an endpoint, as far as its answer tells."""

    SCOPE = "scope"
    ENTITLEMENT = "entitlement"
    SCOPE_OR_ENTITLEMENT = "scope or entitlement"


class RipplingPermissionError(RipplingError):
    """403: the token lacks a scope, or the company lacks an entitlement, for an endpoint.

    ``cause`` says which: ``"scope"`` when Rippling's answer names a missing scope (or the
    endpoint needs no entitlement), ``"entitlement"`` when it names the entitlement, and
    ``"scope or entitlement"`` when it says neither. Rippling does not document the body of an
    entitlement 403, so the last case names both, each with what to do.
    """

    def __init__(
        self,
        endpoint: str,
        scope: str,
        detail: str = "",
        *,
        entitlement: str | None = None,
        cause: PermissionCause = PermissionCause.SCOPE,
    ) -> None:
        self.endpoint = endpoint
        self.scope = scope
        self.entitlement = entitlement
        self.cause = cause if entitlement else PermissionCause.SCOPE
        scope_fix = f"the token needs the scope '{scope}' (add it to the app or API token)"
        entitlement_fix = (
            f"the company lacks the entitlement '{entitlement}'"
            " (ask Rippling to enable it for the company)"
        )
        if self.cause is PermissionCause.ENTITLEMENT:
            reason = entitlement_fix
        elif self.cause is PermissionCause.SCOPE:
            reason = scope_fix
        else:
            reason = f"either {scope_fix} or {entitlement_fix}"
            reason += "; Rippling's answer does not say which"
        message = f"Rippling refused {endpoint} (403): {reason}"
        if detail:
            message += f" ({detail})"
        super().__init__(message)

    @property
    def missing_entitlement(self) -> str | None:
        """The entitlement that is (or may be) missing; ``None`` when the scope is the cause."""
        return None if self.cause is PermissionCause.SCOPE else self.entitlement


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
