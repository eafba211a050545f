"""Faults on demand: latency, throttling, server errors, dropped connections, expired tokens.

Each service (``rippling``, ``entra``, ``dynamics``) has its own list of rules and its own
seeded random generator, so a failing test can be replayed exactly. Rules fire either on a share
of requests (``share=0.1``) or on the Nth matching request (``nth=3``), optionally only for paths
starting with a prefix and at most ``times`` times. Everything is off by default.

The services differ where the real ones differ: Rippling answers 429 **without** Retry-After,
Dynamics (and Entra) answer 429 **with** ``Retry-After``. Rules are set by a config file, by
``--fault`` flags, or at run time through ``PUT /_sandbox/faults`` on the service's own port.
"""

import asyncio
import json
import random
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

FaultKind = Literal["latency", "throttle", "server_error", "drop", "expire_tokens"]
FAULT_KINDS: tuple[str, ...] = ("latency", "throttle", "server_error", "drop", "expire_tokens")
SERVICES: tuple[str, ...] = ("rippling", "entra", "dynamics")
ADMIN_PREFIX = "/_sandbox"


class FaultConfigError(ValueError):
    """A fault rule or file that cannot be understood; the message names the offending part."""


@dataclass
class FaultRule:
    """One switch. ``share`` and ``nth`` may be combined with ``times`` to bound it."""

    kind: FaultKind
    share: float = 0.0
    nth: int | None = None
    times: int | None = None
    path_prefix: str = ""
    latency_ms: int = 0
    status: int = 503
    retry_after: int = 2
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise FaultConfigError(
                f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}"
            )
        if not 0.0 <= float(self.share) <= 1.0:
            raise FaultConfigError(
                f"fault {self.kind}: share must be within 0..1, got {self.share}"
            )
        if self.nth is not None and int(self.nth) < 1:
            raise FaultConfigError(f"fault {self.kind}: nth counts from 1, got {self.nth}")
        if self.share == 0.0 and self.nth is None:
            raise FaultConfigError(f"fault {self.kind}: give share (0..1] or nth (>= 1)")
        if self.kind == "server_error" and not 500 <= int(self.status) <= 599:
            raise FaultConfigError(f"fault server_error: status must be 5xx, got {self.status}")

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> "FaultRule":
        known = {f for f in cls.__dataclass_fields__ if f != "fired"}
        unknown = set(raw) - known
        if unknown:
            raise FaultConfigError(
                f"unknown fault option(s) {sorted(unknown)}; known: {sorted(known)}"
            )
        if "kind" not in raw:
            raise FaultConfigError("a fault rule needs a kind")
        return cls(**dict(raw))


@dataclass
class ServiceFaults:
    """The rules of one service plus the counters that make them deterministic."""

    rules: list[FaultRule] = field(default_factory=list)
    seed: int = 0
    requests: int = 0
    _matching: dict[int, int] = field(default_factory=dict)
    _rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def decide(self, path: str) -> list[FaultRule]:
        """Count this request and return the rules that fire for it, in order."""
        self.requests += 1
        firing: list[FaultRule] = []
        for index, rule in enumerate(self.rules):
            if rule.path_prefix and not path.startswith(rule.path_prefix):
                continue
            if rule.times is not None and rule.fired >= rule.times:
                continue
            count = self._matching.get(index, 0) + 1
            self._matching[index] = count
            # Draw for every matching request so the sequence depends only on the seed.
            draw = self._rng.random()
            hit = (rule.nth is not None and count == rule.nth) or (
                rule.share > 0 and draw < rule.share
            )
            if hit:
                rule.fired += 1
                firing.append(rule)
        return firing

    def describe(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "requests": self.requests,
            "rules": [asdict(r) for r in self.rules],
        }


class FaultBoard:
    """All services' fault settings; thread-safe since tests poke it from another thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._services: dict[str, ServiceFaults] = {name: ServiceFaults() for name in SERVICES}

    def set(self, service: str, rules: list[FaultRule], seed: int = 0) -> None:
        if service not in SERVICES:
            raise FaultConfigError(f"unknown service {service!r}; expected one of {SERVICES}")
        with self._lock:
            self._services[service] = ServiceFaults(rules=list(rules), seed=seed)

    def clear(self) -> None:
        with self._lock:
            self._services = {name: ServiceFaults() for name in SERVICES}

    def decide(self, service: str, path: str) -> list[FaultRule]:
        with self._lock:
            return self._services[service].decide(path)

    def describe(self, service: str) -> dict[str, Any]:
        with self._lock:
            return self._services[service].describe()

    def load(self, config: Mapping[str, Any]) -> None:
        """Apply a config mapping: ``{"seed": 7, "dynamics": [{...}], "rippling": [...]}``."""
        seed = int(config.get("seed", 0))
        unknown = set(config) - set(SERVICES) - {"seed"}
        if unknown:
            raise FaultConfigError(f"unknown key(s) in fault config: {sorted(unknown)}")
        for service in SERVICES:
            raw_rules = config.get(service) or []
            if not isinstance(raw_rules, list):
                raise FaultConfigError(f"fault config {service}: expected a list of rules")
            rules = []
            for position, raw in enumerate(raw_rules, start=1):
                try:
                    rules.append(FaultRule.from_mapping(raw))
                except (TypeError, FaultConfigError) as exc:
                    raise FaultConfigError(
                        f"fault config {service} rule {position}: {exc}"
                    ) from exc
            self.set(service, rules, seed=seed)


def load_fault_file(path: Path) -> dict[str, Any]:
    """Read a YAML (or JSON) fault config file."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise FaultConfigError(f"cannot read fault file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise FaultConfigError(f"fault file {path}: expected a mapping at the top level")
    return data


def parse_fault_flag(flag: str) -> tuple[str, FaultRule]:
    """Parse ``service:kind[:key=value,...]``: ``dynamics:throttle:share=0.2,retry_after=3``."""
    parts = flag.split(":", 2)
    if len(parts) < 2:
        raise FaultConfigError(f"--fault {flag!r}: expected service:kind[:key=value,...]")
    service, kind = parts[0], parts[1]
    if service not in SERVICES:
        raise FaultConfigError(f"--fault {flag!r}: unknown service {service!r}")
    options: dict[str, Any] = {"kind": kind}
    if len(parts) == 3 and parts[2]:
        for item in parts[2].split(","):
            key, sep, value = item.partition("=")
            if not sep:
                raise FaultConfigError(f"--fault {flag!r}: option {item!r} needs key=value")
            options[key.strip()] = _coerce(value.strip())
    try:
        return service, FaultRule.from_mapping(options)
    except TypeError as exc:
        raise FaultConfigError(f"--fault {flag!r}: {exc}") from exc


def _coerce(value: str) -> Any:
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class FaultMiddleware:
    """ASGI middleware that applies a service's fault rules before the app sees the request.

    ``/_sandbox/*`` admin paths are never faulted. ``expire_tokens`` calls the service's
    revocation hook and then lets the request through, so that very request meets a dead token.
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        for rule in self.board.decide(self.service, scope["path"]):
            if rule.kind == "latency":
                await asyncio.sleep(rule.latency_ms / 1000)
            elif rule.kind == "expire_tokens":
                if self.expire_tokens is not None:
                    self.expire_tokens()
            elif rule.kind == "throttle":
                await self._throttle(send, rule)
                return
            elif rule.kind == "server_error":
                await _send_json(
                    send,
                    rule.status,
                    {
                        "error": {
                            "code": "",
                            "message": "Service temporarily unavailable (sandbox fault).",
                        }
                    },
                )
                return
            elif rule.kind == "drop":
                await self._drop(send)
                return
        await self.app(scope, receive, send)

    async def _throttle(self, send: Send, rule: FaultRule) -> None:
        headers: list[tuple[bytes, bytes]] = []
        if self.throttle_sends_retry_after:
            headers.append((b"retry-after", str(rule.retry_after).encode()))
            body: dict[str, Any] = {
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


async def _send_json(
    send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(payload)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
