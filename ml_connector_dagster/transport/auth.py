"""Bearer tokens as an ``httpx.Auth`` flow: set the header, and on a 401 refresh once.

Both services take a bearer token that can die before its advertised expiry (revoked, rotated,
a sandbox's ``tokens/expire``). The flow answers that the same way for both: the 401 response
drops the cached token (``invalidate``), a fresh one is asked for, and the same request is sent
once more. A second 401 is handed back to the client, which knows what to tell the operator.
Where nothing can be refreshed (a static API token) ``invalidate`` raises the client's own
error instead.

Token acquisition is a callable, so Rippling's OAuth refresh (an httpx call) and MSAL (a
requests session) plug in alike. The callables block, so the flow is synchronous only.
"""

import logging
from collections.abc import AsyncGenerator, Callable, Generator

import httpx

log = logging.getLogger(__name__)


class RefreshingBearerAuth(httpx.Auth):
    """``Authorization: Bearer <token()>``; on a 401, ``invalidate()`` and re-send once.

    ``on_send`` is told of every request the flow hands to the wire, the re-send after a 401
    included, so a client can count what it really sent.
    """

    # The body is read before the flow starts, so the re-send after a 401 carries it again.
    requires_request_body = True

    def __init__(
        self,
        token: Callable[[], str],
        invalidate: Callable[[], None],
        on_send: Callable[[httpx.Request], None] | None = None,
    ) -> None:
        self._token = token
        self._invalidate = invalidate
        self._on_send = on_send

    def __repr__(self) -> str:
        return "RefreshingBearerAuth(token=**********)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self._sign(request)
        response = yield request
        if response.status_code != 401:
            return
        # Read the refused answer first: its connection goes back to the pool before a token
        # refresh (Rippling's OAuth call) may need one.
        response.read()
        log.debug(
            "%s %s -> 401; dropping the token and sending once more with a fresh one",
            request.method,
            request.url.path,
        )
        self._invalidate()
        self._sign(request)
        yield request

    def _sign(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {self._token()}"
        if self._on_send is not None:
            self._on_send(request)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Refused: the token callables block, which an event loop must not do."""
        raise RuntimeError("RefreshingBearerAuth is synchronous; use it with httpx.Client")
        yield request  # pragma: no cover - makes this an (async) generator
