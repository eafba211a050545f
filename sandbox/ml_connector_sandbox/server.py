"""Serve the three stand-ins (Rippling, Entra ID, Dynamics F&O) over HTTPS on loopback.

One process, one event loop, three uvicorn servers: each service has its own port and so its
own origin, because the F&O environment URL has no path and the clients' same-host checks
compare host and port. Sockets are bound before the services are built so that every service
knows the real URLs (the Entra stand-in must know the F&O audience, F&O its own URL).

A running sandbox writes ``sandbox.json`` (URLs, CA file, credentials) and ``sandbox.env``
(the connector's environment variables) into its data directory; state lives in SQLite files
beside them and survives restarts until ``reset``.

Everything in the data directory is owner-only: the directory is 0700 and its files 0600
(``company.json`` holds every worker's pay and the stand-ins' secrets, the SQLite files hold
issued tokens, ``tls/`` the server key). ``connector-storage.key`` is the Fernet key the
connector's environment gets as ``ML_CONNECTOR_CREDENTIALS_KEY``: the product stores pay data
only encrypted, and the demo and the tests run it against this sandbox without further setup.
The key is kept across restarts so a demo's stored values stay readable.
"""

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from cryptography.fernet import Fernet
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from ml_connector_sandbox import tls
from ml_connector_sandbox.clock import SandboxClock, as_of_instant
from ml_connector_sandbox.company.fileio import write_private_text
from ml_connector_sandbox.entra import DEFAULT_TOKEN_LIFETIME_SECONDS, EntraService
from ml_connector_sandbox.fault_middleware import FaultMiddleware
from ml_connector_sandbox.faults import ADMIN_PREFIX, FaultBoard, FaultConfigError
from ml_connector_sandbox.request_counts import (
    EndpointNames,
    RequestCountMiddleware,
    RequestCounts,
)

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"rippling": 8441, "entra": 8442, "dynamics": 8443}


@dataclass
class SandboxConfig:
    """How to start the sandbox. Port 0 picks a free port (what tests use)."""

    data_dir: Path
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    company_file: Path | None = None
    workers: int = 400
    legal_entities: int = 3
    departments: int = 12
    pay_periods: int = 13
    seed: int = 20261120
    as_of: dt.date = dt.date(2026, 11, 20)
    faults: dict[str, Any] | None = None
    token_lifetime: int = DEFAULT_TOKEN_LIFETIME_SECONDS
    dynamics_page_size: int | None = None
    reset: bool = False
    # The sandbox's one clock starts here; None: the company's as-of date at 18:00 UTC.
    clock_start: dt.datetime | None = None
    # Properties this tenant's F&O lacks, "Entity.Property" (e.g. an older tenant's
    # "LedgerJournalHeaders.IntegrationKey"): requests naming them get F&O's 400.
    dynamics_missing_properties: tuple[str, ...] = ()


def _load_or_generate_company(config: SandboxConfig) -> dict[str, Any]:
    """The company to serve: a given file, or the generated one (cached by its parameters)."""
    from ml_connector_sandbox.company import (
        generate_company,
        load_company,
        save_company,
    )

    if config.company_file is not None:
        return load_company(config.company_file)
    params = {
        "workers": config.workers,
        "legal_entities": config.legal_entities,
        "departments": config.departments,
        "pay_periods": config.pay_periods,
        "seed": config.seed,
        "as_of": config.as_of,
    }
    cache = config.data_dir / "company.json"
    marker = config.data_dir / "company.params.json"
    wanted = json.dumps(params, default=str, sort_keys=True)
    if cache.exists() and marker.exists() and marker.read_text() == wanted and not config.reset:
        _owner_only(cache)  # a cache written by an earlier release was 0644
        return load_company(cache)
    company = generate_company(**params)
    save_company(company, cache)
    write_private_text(marker, wanted)
    return company


POSIX = os.name == "posix"
STATE_FILES = ("rippling.sqlite", "entra.sqlite", "dynamics.sqlite")
STORAGE_KEY_FILE = "connector-storage.key"


def _owner_only(path: Path, mode: int = 0o600) -> None:
    if POSIX and path.exists() and (path.stat().st_mode & 0o777) != mode:
        path.chmod(mode)


def _private_data_dir(data_dir: Path) -> None:
    """The data directory 0700, and the state files 0600 before SQLite first opens them.

    SQLite creates a missing database with the process umask (0644 usually) and its journal
    with the database's mode; an empty file created 0600 here is a valid new database, so the
    stand-ins' stores (and their tokens) are never readable by others, not even briefly.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    _owner_only(data_dir, 0o700)
    for name in STATE_FILES:
        path = data_dir / name
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        _owner_only(path)
    for path in data_dir.glob("*.sqlite-*"):  # journals left by an earlier run
        _owner_only(path)


def storage_key(data_dir: Path) -> str:
    """The Fernet key the connector stores its values under against this sandbox (0600 file)."""
    path = data_dir / STORAGE_KEY_FILE
    if path.is_file():
        key = path.read_text().strip()
        if key:
            _owner_only(path)
            return key
    key = Fernet.generate_key().decode("ascii")
    write_private_text(path, key + "\n")
    return key


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, created with ``IPPROTO_TCP`` named: asyncio sets TCP_NODELAY on
    accepted connections only when the socket says it is TCP, and without it every small
    answer waited ~40 ms for the client's delayed ACK (Nagle), a latency no real service adds
    (benchmarks/sandbox_cpu.py: 48 -> 6 ms per job-assignment page)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


class Sandbox:
    """The three services, their sockets and their shared switches (faults, reset)."""

    def __init__(self, config: SandboxConfig) -> None:
        from ml_connector_sandbox.dynamics import DynamicsService
        from ml_connector_sandbox.rippling import RipplingService

        self.config = config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        if config.reset:
            for stale in config.data_dir.glob("*.sqlite"):
                stale.unlink()
        _private_data_dir(config.data_dir)
        self.storage_key = storage_key(config.data_dir)
        self.tls = tls.generate(config.data_dir / "tls", hosts=(config.host, "localhost"))
        self.sockets = {
            name: _bind(config.host, config.ports.get(name, 0)) for name in DEFAULT_PORTS
        }
        self.urls = {
            name: f"https://{config.host}:{sock.getsockname()[1]}"
            for name, sock in self.sockets.items()
        }
        self.company = _load_or_generate_company(config)
        self.faults = FaultBoard()
        if config.faults:
            self.faults.load(config.faults)
        self.clock = SandboxClock(self.clock_start)
        # Requests per service and endpoint (GET/DELETE /_sandbox/requests; benchmarks).
        self.request_counts = RequestCounts()

        self.entra = EntraService(
            config.data_dir,
            self.company,
            base_url=self.urls["entra"],
            environment_url=self.urls["dynamics"],
            token_lifetime=config.token_lifetime,
            clock=self.clock,
        )
        self.rippling = RipplingService(
            config.data_dir, self.company, base_url=self.urls["rippling"], clock=self.clock
        )
        dynamics_kwargs: dict[str, Any] = {}
        if config.dynamics_page_size:
            dynamics_kwargs["page_size"] = config.dynamics_page_size
        self.dynamics = DynamicsService(
            config.data_dir,
            self.company,
            environment_url=self.urls["dynamics"],
            token_validator=self.entra.validate_for_dynamics,
            clock=self.clock,
            missing_properties=config.dynamics_missing_properties,
            **dynamics_kwargs,
        )
        self.apps = {
            "rippling": self._wrap(
                "rippling", self.rippling.app, False, self.rippling.expire_tokens
            ),
            # Entra and F&O both send Retry-After with their 429s.
            "entra": self._wrap("entra", self.entra.app, True, self.entra.expire_tokens),
            "dynamics": self._wrap("dynamics", self.dynamics.app, True, self.entra.expire_tokens),
        }
        self._servers: list[uvicorn.Server] = []
        self.write_info()

    # --- admin shared by every port -------------------------------------------------------
    def _wrap(self, name: str, app: Any, retry_after: bool, expire: Any) -> Any:
        admin_routes = [
            Route(f"{ADMIN_PREFIX}/info", self._admin_info, methods=["GET"]),
            Route(f"{ADMIN_PREFIX}/faults", self._admin_faults, methods=["GET", "PUT", "DELETE"]),
            Route(f"{ADMIN_PREFIX}/reset", self._admin_reset, methods=["POST"]),
            Route(f"{ADMIN_PREFIX}/clock", self._admin_clock, methods=["GET", "PUT"]),
            Route(f"{ADMIN_PREFIX}/tokens/expire", _expire_endpoint(expire), methods=["POST"]),
            Route(f"{ADMIN_PREFIX}/requests", self._admin_requests, methods=["GET", "DELETE"]),
            Mount("/", app=app),
        ]
        outer = Starlette(routes=admin_routes)
        faulted = FaultMiddleware(
            outer,
            service=name,
            board=self.faults,
            throttle_sends_retry_after=retry_after,
            expire_tokens=expire,
        )
        # Outermost: a request answered by a fault was still sent, and is counted.
        return RequestCountMiddleware(
            faulted, service=name, counts=self.request_counts, endpoints=EndpointNames(app)
        )

    async def _admin_requests(self, request: Request) -> JSONResponse:
        """GET: requests per service and endpoint since the last reset; DELETE: reset them."""
        if request.method == "DELETE":
            self.request_counts.clear()
        return JSONResponse(self.request_counts.describe())

    async def _admin_info(self, request: Request) -> JSONResponse:
        return JSONResponse(self.info())

    async def _admin_faults(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.faults.clear()
        elif request.method == "PUT":
            try:
                self.faults.load(await request.json())
            except (FaultConfigError, ValueError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({name: self.faults.describe(name) for name in DEFAULT_PORTS})

    @property
    def clock_start(self) -> dt.datetime:
        """Where the clock starts and returns to on reset."""
        return self.config.clock_start or as_of_instant(
            dt.date.fromisoformat(self.company["meta"]["as_of"])
        )

    async def _admin_clock(self, request: Request) -> JSONResponse:
        """GET: the sandbox's now. PUT {"now": ISO instant} or {"advance_seconds": n}."""
        if request.method == "PUT":
            try:
                body = await request.json()
                if "advance_seconds" in body:
                    self.clock.advance(float(body["advance_seconds"]))
                else:
                    moment = dt.datetime.fromisoformat(str(body["now"]))
                    if moment.tzinfo is None:
                        raise ValueError("give the instant with its offset, e.g. ...T09:00:00Z")
                    self.clock.set(moment, frozen=body.get("frozen"))
            except (KeyError, TypeError, ValueError) as exc:
                return JSONResponse({"error": f"bad clock request: {exc}"}, status_code=400)
        return JSONResponse(self.clock.describe())

    async def _admin_reset(self, request: Request) -> JSONResponse:
        self.reset()
        return JSONResponse({"reset": True})

    def reset(self) -> None:
        """Back to the seeded company, no faults, no tokens, the clock at its start, no
        requests counted."""
        self.faults.clear()
        self.request_counts.clear()
        self.clock.set(self.clock_start, frozen=False)
        self.entra.reset(self.company)
        self.rippling.reset(self.company)
        self.dynamics.reset(self.company)

    # --- what clients need -----------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        return {
            "urls": {**self.urls, "rippling_v1": self.urls["rippling"] + "/platform/api"},
            "ca_file": str(self.tls.ca_cert),
            "data_dir": str(self.config.data_dir),
            "company": self.company["meta"],
            "clock": self.clock.describe(),
            "entra": self.entra.credentials(),
            "rippling": self.rippling.credentials(),
        }

    def env(self) -> dict[str, str]:
        """Environment variables that point the connector at this sandbox."""
        rippling = self.rippling.credentials()
        full_token = next(
            (t["token"] for t in rippling.get("api_tokens", []) if t.get("label") == "full"), ""
        )
        client = next(c for c in self.entra.credentials()["clients"] if c["registered_in_dynamics"])
        return {
            "RIPPLING_API_BASE_URL": self.urls["rippling"],
            "RIPPLING_V1_BASE_URL": self.urls["rippling"] + "/platform/api",
            "RIPPLING_API_TOKEN": full_token,
            "DYNAMICS_ENVIRONMENT_URL": self.urls["dynamics"],
            "DYNAMICS_AUTHORITY_HOST": self.urls["entra"],
            "DYNAMICS_TENANT_ID": self.entra.tenant_id,
            "DYNAMICS_CLIENT_ID": client["client_id"],
            "DYNAMICS_CLIENT_SECRET": client["client_secret"],
            "DYNAMICS_ALLOW_ANY_HOST": "true",
            "ML_CONNECTOR_CA_BUNDLE": str(self.tls.ca_cert),
            "ML_CONNECTOR_MAPPING": str(self.mapping_path),
            # The connector stores pay data only encrypted: the sandbox's own key.
            "ML_CONNECTOR_CREDENTIALS_KEY": self.storage_key,
        }

    @property
    def mapping_path(self) -> Path:
        """The complete finance mapping for the served company (written with the info files)."""
        return self.config.data_dir / "mapping.yaml"

    def write_info(self) -> None:
        from ml_connector_sandbox.mapping import write_sandbox_mapping

        write_sandbox_mapping(self.company, self.mapping_path)
        info_path = self.config.data_dir / "sandbox.json"
        write_private_text(info_path, json.dumps(self.info(), indent=2, default=str))
        env_path = self.config.data_dir / "sandbox.env"
        write_private_text(env_path, "".join(f"{k}={v}\n" for k, v in self.env().items()))
        _owner_only(self.mapping_path)

    def client_ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.tls.ca_cert))

    # --- serving ----------------------------------------------------------------------------
    async def serve(self) -> None:
        """Serve all three services until ``stop`` is called."""
        self._servers = []
        for app in self.apps.values():
            server = uvicorn.Server(
                uvicorn.Config(
                    app,
                    ssl_certfile=str(self.tls.server_cert),
                    ssl_keyfile=str(self.tls.server_key),
                    log_level="warning",
                    access_log=False,
                    lifespan="off",
                    timeout_keep_alive=30,
                )
            )
            server.config.load()
            self._servers.append(server)
        await asyncio.gather(
            *(
                s.serve(sockets=[self.sockets[n]])
                for s, n in zip(self._servers, self.apps, strict=True)
            )
        )

    @property
    def started(self) -> bool:
        return bool(self._servers) and all(s.started for s in self._servers)

    def stop(self) -> None:
        for server in self._servers:
            server.should_exit = True


def _expire_endpoint(expire: Any) -> Any:
    async def endpoint(request: Request) -> JSONResponse:
        expire()
        return JSONResponse({"expired": True})

    return endpoint


@contextlib.contextmanager
def running_sandbox(config: SandboxConfig, timeout: float = 60.0) -> Iterator[Sandbox]:
    """Start the sandbox on a background thread (tests, benchmarks, the demo) and stop it after."""
    sandbox = Sandbox(config)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(sandbox.serve())
        except BaseException as exc:  # surfaced to the caller below
            failure.append(exc)

    thread = threading.Thread(target=run, name="ml-connector-sandbox", daemon=True)
    thread.start()
    waited = 0.0
    while not sandbox.started:
        if failure:
            raise RuntimeError("sandbox failed to start") from failure[0]
        if waited > timeout:
            raise TimeoutError("sandbox did not start in time")
        thread.join(0.05)
        waited += 0.05
    try:
        yield sandbox
    finally:
        sandbox.stop()
        thread.join(10)
