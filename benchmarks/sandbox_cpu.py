"""The Rippling stand-in's own CPU per list page, endpoint by endpoint; prints a table.

.venv/bin/python benchmarks/sandbox_cpu.py --workers 50000 --legal-entities 12

Starts the sandbox in-process (its event loop runs on one thread, ``ml-connector-sandbox``) and
pages through each list endpoint with httpx as a client would, ``limit=100`` and following
``next_link``. Figures per endpoint: pages, the **server thread's CPU** per page (read from that
thread's own CPU clock, ``pthread_getcpuclockid``: TLS, HTTP parsing, the handler, SQLite and
JSON encoding, and nothing of the client, which runs on this thread), and wall time per page as
the client sees it.

``--profile`` then calls the list handler of each endpoint directly on this thread (no HTTP) for
up to ``--profile-pages`` pages under cProfile and prints the handler's CPU per page and the
top functions: where a page's time goes.

``--tcp-nodelay`` sets TCP_NODELAY on the sandbox's listening socket (accepted connections
inherit it on Linux). The sandbox binds its sockets without ``IPPROTO_TCP``, so asyncio does not
set it, and a small response (headers and body written apart) waits about 40 ms for the
client's delayed ACK (Nagle): the wall figures with and without the flag show that stall.

``--data-dir`` keeps the generated company and the SQLite state between runs (generating 50,000
workers takes a while); by default a temporary directory is used and removed.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import pstats
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from starlette.requests import Request

from ml_connector_sandbox.rippling.api import ReadApi
from ml_connector_sandbox.rippling.resources import RESOURCES
from ml_connector_sandbox.server import Sandbox, SandboxConfig, running_sandbox

PAGE = 100
SNAPSHOT_EXPAND = "department"  # what the payroll snapshot asks of /workers/
SYNC_EXPAND = "user,legal_entity,department,employment_type,compensation"  # workforce sync


@dataclass
class Figures:
    label: str
    pages: int = 0
    records: int = 0
    server_cpu: float = 0.0
    wall: float = 0.0


def server_thread() -> threading.Thread:
    return next(t for t in threading.enumerate() if t.name == "ml-connector-sandbox")


def thread_cpu_clock(thread: threading.Thread) -> Callable[[], float]:
    clock = time.pthread_getcpuclockid(thread.ident or 0)
    return lambda: time.clock_gettime(clock)


def page_through(
    client: httpx.Client, path: str, params: dict[str, str], cpu: Callable[[], float], f: Figures
) -> Iterator[dict[str, Any]]:
    url: str | None = path
    query: dict[str, str] | None = {**params, "limit": str(PAGE)}
    while url:
        cpu_before, wall_before = cpu(), time.perf_counter()
        response = client.get(url, params=query)
        f.wall += time.perf_counter() - wall_before
        f.server_cpu += cpu() - cpu_before
        response.raise_for_status()
        body = response.json()
        f.pages += 1
        f.records += len(body["results"])
        yield from body["results"]
        url, query = body.get("next_link"), None


def measure(sandbox: Sandbox, token: str) -> tuple[list[Figures], list[str]]:
    cpu = thread_cpu_clock(server_thread())
    figures: list[Figures] = []
    run_ids: list[str] = []
    with httpx.Client(
        base_url=sandbox.urls["rippling"],
        verify=sandbox.client_ssl_context(),
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    ) as client:
        client.get("/entitlements/").raise_for_status()  # TLS handshake outside the figures
        for label, path, params in (
            (f"/workers/ expand={SNAPSHOT_EXPAND}", "/workers/", {"expand": SNAPSHOT_EXPAND}),
            ("/workers/ expand=(sync's five)", "/workers/", {"expand": SYNC_EXPAND}),
            ("/job-assignments/", "/job-assignments/", {}),
            ("/payroll-runs/ order_by=check_date", "/payroll-runs/", {"order_by": "check_date"}),
        ):
            f = Figures(label)
            for record in page_through(client, path, params, cpu, f):
                if path == "/payroll-runs/":
                    run_ids.append(record["id"])
            figures.append(f)
        f = Figures(f"worker-payroll-records ({len(run_ids)} runs)")
        for run_id in run_ids:
            path = f"/payroll-runs/{run_id}/worker-payroll-records/"
            for _ in page_through(client, path, {}, cpu, f):
                pass
        figures.append(f)
    return figures, run_ids


def profile(
    sandbox: Sandbox, token: str, run_ids: list[str], pages: int
) -> list[tuple[str, int, float, str]]:
    """Call each list handler directly on this thread: (label, pages, CPU ms/page, top).

    The CPU figure is this thread's CPU clock around the handler calls without the profiler;
    the same pages are then read again under cProfile for the top functions.
    """
    api = ReadApi(sandbox.rippling.store, sandbox.rippling.auth)
    out = []
    biggest_run = max(
        run_ids,
        key=lambda r: sandbox.rippling.store.scalar(
            "SELECT COUNT(*) FROM records WHERE kind = 'worker_payroll_records' AND run_id = ?",
            (r,),
        ),
    )
    for label, kind, params, path_params in (
        (f"/workers/ expand={SNAPSHOT_EXPAND}", "workers", {"expand": SNAPSHOT_EXPAND}, {}),
        ("/workers/ expand=(sync's five)", "workers", {"expand": SYNC_EXPAND}, {}),
        ("/job-assignments/", "job_assignments", {}, {}),
        ("worker-payroll-records", "worker_payroll_records", {}, {"run_id": biggest_run}),
    ):
        resource = RESOURCES[kind]
        path = resource.path.format(**path_params)
        first = urlencode({**params, "limit": str(PAGE)})
        cpu, done = _handler_pages(api, resource, path, path_params, token, first, pages, None)
        profiler = cProfile.Profile()
        _handler_pages(api, resource, path, path_params, token, first, pages, profiler)
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(8)
        out.append((label, done, 1000 * cpu / max(done, 1), text.getvalue()))
    return out


def _handler_pages(
    api: ReadApi,
    resource: Any,
    path: str,
    path_params: dict[str, str],
    token: str,
    query: str | None,
    pages: int,
    profiler: cProfile.Profile | None,
) -> tuple[float, int]:
    """Follow ``next_link`` through up to ``pages`` handler calls; (CPU seconds, pages)."""
    done, cpu = 0, 0.0
    while query is not None and done < pages:
        request = Request(
            {
                "type": "http",
                "method": "GET",
                "path": path,
                "query_string": query.encode(),
                "headers": [(b"authorization", f"Bearer {token}".encode())],
                "path_params": path_params,
            }
        )
        started = time.thread_time()
        if profiler is not None:
            profiler.enable()
        response = api.list_page(request, resource)
        if profiler is not None:
            profiler.disable()
        cpu += time.thread_time() - started
        done += 1
        link = _next_link(bytes(response.body))
        query = urlsplit(link).query if link else None
    return cpu, done


def _next_link(body: bytes) -> str | None:
    return json.loads(body).get("next_link")


@contextlib.contextmanager
def data_dir(path: Path | None) -> Iterator[Path]:
    if path is not None:
        yield path
        return
    with tempfile.TemporaryDirectory() as directory:
        yield Path(directory)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=5000)
    parser.add_argument("--legal-entities", type=int, default=12)
    parser.add_argument("--pay-periods", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--tcp-nodelay", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--profile-pages", type=int, default=50)
    args = parser.parse_args()
    with data_dir(args.data_dir) as directory:
        config = SandboxConfig(
            data_dir=directory,
            ports={"rippling": 0, "entra": 0, "dynamics": 0},
            workers=args.workers,
            legal_entities=args.legal_entities,
            pay_periods=args.pay_periods,
        )
        started = time.perf_counter()
        with running_sandbox(config, timeout=3600) as sandbox:
            print(
                f"workers={args.workers} legal_entities={args.legal_entities} "
                f"pay_periods={args.pay_periods} tcp_nodelay={args.tcp_nodelay}: sandbox ready in "
                f"{time.perf_counter() - started:.1f} s"
            )
            if args.tcp_nodelay:
                sandbox.sockets["rippling"].setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            token = next(
                t["token"]
                for t in sandbox.rippling.credentials()["api_tokens"]
                if t["label"] == "full"
            )
            figures, run_ids = measure(sandbox, token)
            print(f"{'endpoint':46} {'pages':>6} {'records':>8} {'server CPU':>14} {'wall':>12}")
            for f in figures:
                pages = max(f.pages, 1)
                print(
                    f"{f.label:46} {f.pages:6d} {f.records:8d} "
                    f"{1000 * f.server_cpu / pages:8.2f} ms/pg {1000 * f.wall / pages:6.2f} ms/pg"
                )
            if args.profile:
                for label, pages, cpu, top in profile(sandbox, token, run_ids, args.profile_pages):
                    print(f"\n--- {label}: handler only, {pages} pages, {cpu:.2f} ms CPU/page")
                    print(top)


if __name__ == "__main__":
    main()
