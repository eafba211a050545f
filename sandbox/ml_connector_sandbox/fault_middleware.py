"""Applying the fault switches to live traffic: the ASGI middleware around each service's app.

The switches themselves (rules, config parsing, the per-service board with its seeded random
draws and late-commit counters) live in ``faults``; this module only acts on what the board
decides for each request: sleep, answer a 429 or a gateway error, cut the connection, expire
tokens, or process the request and throw its answer away (``when: after``, ``late_commit``).
"""

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ml_connector_sandbox.faults import ADMIN_PREFIX, FaultBoard, FaultRule

log = logging.getLogger(__name__)


Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class FaultMiddleware:
    """ASGI middleware that applies a service's fault rules around the app.

    ``/_sandbox/*`` admin paths are never faulted. ``expire_tokens`` calls the service's
    revocation hook and then lets the request through, so that very request meets a dead token.
    The first rule that answers (``throttle``, ``server_error``, ``drop``, ``late_commit``) ends
    the request. With ``when: after`` the request is first processed by the app (its request
    body replayed intact, its answer discarded). ``late_commit`` answers at once and processes
    the request later on a background task that outlives the connection, runs once, and only
    logs what the app raises.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        service: str,
        board: FaultBoard,
        throttle_sends_retry_after: bool,
        expire_tokens: Callable[[], None] | None = None,
    ) -> None:
        self.app = app
        self.service = service
        self.board = board
        self.throttle_sends_retry_after = throttle_sends_retry_after
        self.expire_tokens = expire_tokens
        # Strong references: the event loop keeps only weak ones to running tasks.
        self._background: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        for rule in self.board.decide(self.service, scope["path"], scope.get("method", "GET")):
            if rule.kind == "latency":
                await asyncio.sleep(rule.latency_ms / 1000)
            elif rule.kind == "expire_tokens":
                if self.expire_tokens is not None:
                    self.expire_tokens()
            elif rule.kind == "throttle":
                await self._throttle(send, rule)
                return
            elif rule.kind == "server_error":
                if rule.when == "after" and not await self._process_first(scope, receive):
                    return
                await _send_json(send, int(rule.status or 503), _server_error_body(rule.status))
                return
            elif rule.kind == "drop":
                if rule.when == "after" and not await self._process_first(scope, receive):
                    return
                await self._drop(send)
                return
            elif rule.kind == "refuse":
                await _send_json(send, int(rule.status or 400), _refusal_body(self.service))
                return
            elif rule.kind == "late_commit":
                await self._late_commit(scope, receive, send, rule)
                return
        await self.app(scope, receive, send)

    async def _throttle(self, send: Send, rule: FaultRule) -> None:
        headers: list[tuple[bytes, bytes]] = []
        if self.throttle_sends_retry_after:
            headers.append((b"retry-after", str(rule.retry_after).encode()))
        if self.service == "entra":
            # Entra throttles client-credentials calls with a bare "429 Too Many Requests" and
            # Retry-After, a body no OAuth error parser reads (Microsoft's MSAL.NET throttling
            # page; MSAL.NET issue 2855 shows the body): not Dynamics' OData error.
            await _send(send, 429, b"Too Many Requests", b"text/plain; charset=utf-8", headers)
            return
        body: dict[str, Any]
        if self.throttle_sends_retry_after:
            body = {
                "error": {"code": "TooManyRequests", "message": "Too many requests. Retry later."}
            }
        else:
            # Rippling sends no Retry-After and no documented error schema.
            body = {"detail": "Request was throttled."}
        await _send_json(send, 429, body, headers)

    @staticmethod
    async def _drop(send: Send) -> None:
        """Promise a body and cut the connection half-way: the client sees a broken response."""
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"partial": ', "more_body": True})
        raise ConnectionAbortedError("sandbox fault: connection dropped")

    async def _process_first(self, scope: Scope, receive: Receive) -> bool:
        """``when: after``: let the app process the request and throw its answer away.

        False when the client went away before its request body was complete (nothing was
        processed and nobody is left to answer)."""
        body = await _read_body(receive)
        if body is None:
            return False
        try:
            status = await _run_discarding(self.app, scope, body)
        except Exception:
            log.exception(
                "sandbox fault (%s, when=after): the app raised on %s %s",
                self.service,
                scope.get("method"),
                scope.get("path"),
            )
        else:
            log.info(
                "sandbox fault (%s, when=after): %s %s processed (%s), answer discarded",
                self.service,
                scope.get("method"),
                scope.get("path"),
                status,
            )
        return True

    async def _late_commit(
        self, scope: Scope, receive: Receive, send: Send, rule: FaultRule
    ) -> None:
        body = await _read_body(receive)
        if body is None:
            return  # the request never arrived whole: there is nothing to commit
        generation = self.board.late_commit_scheduled(self.service)
        # Scheduled before answering, so a client that hangs up at once changes nothing.
        task = asyncio.get_running_loop().create_task(
            self._commit_later(_copy_scope(scope), body, rule.delay_ms / 1000, generation),
            name=f"sandbox-late-commit-{self.service}",
        )
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        status = int(rule.status or 504)
        await _send_json(send, status, _server_error_body(status))

    async def _commit_later(self, scope: Scope, body: bytes, delay: float, generation: int) -> None:
        outcome, status = "dropped", None
        try:
            await asyncio.sleep(delay)
            if not self.board.late_commit_current(generation):
                return  # the faults were cleared (or the sandbox reset) meanwhile
            try:
                status = await _run_discarding(self.app, scope, body)
                outcome = "answered"
            except Exception:
                outcome = "failed"
                log.exception(
                    "sandbox fault late_commit (%s): the app raised on %s %s",
                    self.service,
                    scope.get("method"),
                    scope.get("path"),
                )
        finally:
            self.board.late_commit_finished(
                self.service, generation, status=status, outcome=outcome
            )


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None if the client disconnected before sending it all."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)


def _copy_scope(scope: Scope) -> Scope:
    """A scope the app may mutate (routers add to it) long after the connection ended."""
    copied = dict(scope)
    copied["headers"] = list(scope.get("headers", []))
    if isinstance(scope.get("state"), dict):
        copied["state"] = dict(scope["state"])
    return copied


async def _run_discarding(app: ASGIApp, scope: Scope, body: bytes) -> int | None:
    """Run ``app`` on ``body`` replayed as one ``http.request`` message; return the status it
    answered with, discarding the answer. After the body, ``receive`` waits until the app has
    finished its answer and then reports a disconnect, as a server does for a gone client."""
    answered = asyncio.Event()
    delivered = False
    status: int | None = None

    async def replay() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await answered.wait()
        return {"type": "http.disconnect"}

    async def discard(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            answered.set()

    try:
        await app(scope, replay, discard)
    finally:
        answered.set()
    return status


def _refusal_body(service: str) -> dict[str, Any]:
    """A refusal in the service's own error form: OData's for F&O, a bare detail elsewhere."""
    message = "The request was refused (sandbox fault)."
    if service == "dynamics":
        return {"error": {"code": "", "message": message, "innererror": {"message": message}}}
    return {"detail": message}


def _server_error_body(status: int | None) -> dict[str, Any]:
    """What a gateway in front of the service says for a timeout, a bad gateway or an outage."""
    if status == 504:
        return {
            "error": {
                "code": "GatewayTimeout",
                "message": "The gateway did not receive a response from the service within the"
                " specified time period (sandbox fault).",
            }
        }
    if status == 502:
        return {
            "error": {
                "code": "BadGateway",
                "message": "The gateway received an invalid response from the service"
                " (sandbox fault).",
            }
        }
    return {"error": {"code": "", "message": "Service temporarily unavailable (sandbox fault)."}}


async def _send_json(
    send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await _send(
        send, status, json.dumps(body).encode(), b"application/json; charset=utf-8", headers
    )


async def _send(
    send: Send,
    status: int,
    payload: bytes,
    content_type: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(payload)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
