"""Requests counted at the server, per service, method and endpoint (issue 12's benchmark).

Each service's app is wrapped in ``RequestCountMiddleware``, outside the fault middleware, so a
request is counted when it arrives, whatever answers it: the service, or a fault (a throttled
request is one the client sent). ``/_sandbox/*`` admin paths are never counted.

An endpoint is the path with its ids replaced by the route's own placeholders, read from the
service's Starlette routes: ``/workers/``, ``/payroll-runs/{run_id}/worker-payroll-records/``,
``/{tenant}/oauth2/v2.0/token``. F&O's catch-all ``/data/{path:path}`` keeps the entity set and
drops only the key predicate: ``/data/LedgerJournalHeaders``, ``/data/$batch``,
``/data/LedgerJournalHeaders({key})``. A path no route serves keeps its literal segments and
loses what looks like an id, so the table stays small whatever a client asks.

The answer's status is counted too (per service), so retries after a 401 or a 429 show.
"""

import re
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from starlette.convertors import PathConvertor
from starlette.routing import Mount, Route, compile_path

from ml_connector_sandbox.faults import ADMIN_PREFIX

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# An OData key predicate: "(...)" with quoted strings that may hold ")" or doubled quotes.
_KEY_PREDICATE = re.compile(r"\((?:[^()']|'(?:[^']|'')*')*\)")
_ID_SEGMENT = re.compile(
    r"^(?:[0-9a-fA-F]{16,}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{12}|\d+)$"
)


def odata_endpoint(path: str) -> str:
    """An OData resource path without its key values: ``Entity(key)`` -> ``Entity({key})``."""
    return _KEY_PREDICATE.sub("({key})", path)


def _unrouted(path: str) -> str:
    """A path no route serves: its id-like segments replaced (hex ids, GUIDs, numbers)."""
    return "/".join("{id}" if _ID_SEGMENT.match(s) else s for s in path.split("/"))


def _leaf_routes(routes: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for route in routes or ():
        if isinstance(route, Route):
            yield prefix + route.path, route
        elif isinstance(route, Mount):
            yield from _leaf_routes(route.routes, prefix + route.path)


class EndpointNames:
    """Path -> endpoint for one service, from the route templates of its Starlette app."""

    def __init__(self, app: Any) -> None:
        self._routes: list[tuple[re.Pattern[str], str, list[str]]] = []
        for template, _ in _leaf_routes(getattr(app, "routes", ())):
            if template.startswith(ADMIN_PREFIX):
                continue
            regex, _, convertors = compile_path(template)
            catch_all = [n for n, c in convertors.items() if isinstance(c, PathConvertor)]
            self._routes.append((regex, template, catch_all))

    def __call__(self, path: str) -> str:
        for regex, template, catch_all in self._routes:
            match = regex.match(path)
            if match is None:
                continue
            endpoint = template
            for name in catch_all:  # F&O's /data/{path:path}: the entity set, not its keys
                endpoint = endpoint.replace(
                    "{" + name + ":path}", odata_endpoint(match.group(name))
                )
            return endpoint
        return _unrouted(path)


class RequestCounts:
    """The counters of every service; read and cleared from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._endpoints: dict[str, Counter[str]] = {}
        self._statuses: dict[str, Counter[str]] = {}

    def add(self, service: str, method: str, endpoint: str) -> None:
        with self._lock:
            self._endpoints.setdefault(service, Counter())[f"{method.upper()} {endpoint}"] += 1

    def answered(self, service: str, status: int) -> None:
        with self._lock:
            self._statuses.setdefault(service, Counter())[str(status)] += 1

    def clear(self) -> None:
        with self._lock:
            self._endpoints.clear()
            self._statuses.clear()

    def describe(self) -> dict[str, Any]:
        """``{"requests": {service: {"GET /workers/": n}}, "statuses": {service: {"200": n}},
        "totals": {service: n}, "total": n}``, endpoints sorted by name."""
        with self._lock:
            requests = {
                service: dict(sorted(counts.items()))
                for service, counts in sorted(self._endpoints.items())
            }
            statuses = {
                service: dict(sorted(counts.items()))
                for service, counts in sorted(self._statuses.items())
            }
        totals = {service: sum(counts.values()) for service, counts in requests.items()}
        return {
            "requests": requests,
            "statuses": statuses,
            "totals": totals,
            "total": sum(totals.values()),
        }


class RequestCountMiddleware:
    """Counts each non-admin HTTP request of one service, then hands it on unchanged."""

    def __init__(
        self, app: ASGIApp, *, service: str, counts: RequestCounts, endpoints: EndpointNames
    ) -> None:
        self.app = app
        self.service = service
        self.counts = counts
        self.endpoints = endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        self.counts.add(self.service, scope.get("method", "GET"), self.endpoints(scope["path"]))

        async def counting_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.counts.answered(self.service, int(message["status"]))
            await send(message)

        await self.app(scope, receive, counting_send)
