"""For the alert tests: an HTTPS webhook and an SMTP server on 127.0.0.1, and an alert.

Both present a certificate for 127.0.0.1 from a CA the sandbox's TLS helper generates, so the
connector trusts them only through ``ML_CONNECTOR_CA_BUNDLE``, as it would a corporate CA.

The SMTP server is aiosmtpd (a test dependency): a real server with STARTTLS, implicit TLS and
AUTH, so the client is tried against the protocol as servers speak it, not against a stand-in
written next to the client.
"""

import datetime as dt
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope

from ml_connector_dagster.alerts import Alert, AlertKind
from ml_connector_sandbox.tls import TlsFiles

T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)  # the tests' pinned "now"


def blocked_alert(**changes: object) -> Alert:
    """A BLOCKED alert as the payroll assets would raise it."""
    values: dict[str, object] = {
        "kind": AlertKind.BLOCKED,
        "summary": "Department D110 is not in mapping.yaml: 45 workers; nothing was written"
        " to Dynamics",
        "reference": "run-7f3a",
        "company": "USMF",
        "pay_period": "2026-11-15",
        "amount": Decimal("175772.44"),
        "currency": "USD",
        "run_id": "run-7f3a",
        "run_url": "https://dagster.acme.test/runs/run-7f3a",
    }
    values.update(changes)
    return Alert(**values)  # type: ignore[arg-type]


@dataclass
class WebhookReceiver:
    """Records every POST; answers ``status`` (with ``answer`` as its body)."""

    port: int = 0
    status: int = 200
    answer: str = ""
    posts: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"


@contextmanager
def webhook_receiver(tls: TlsFiles) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            receiver.paths.append(self.path)
            receiver.posts.append(json.loads(body))
            data = receiver.answer.encode()
            self.send_response(receiver.status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the request line holds the webhook's secret path: print nothing

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = tls.server_context().wrap_socket(server.socket, server_side=True)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class Mailbox:
    """What the SMTP server received, and the login it accepts."""

    port: int = 0
    user: str = "alerts@acme.test"
    password: str = ""
    mails: list[Envelope] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.box.mails.append(envelope)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_server(
    tls: TlsFiles, *, security: str = "starttls", password: str = "", starttls: bool = True
) -> Iterator[Mailbox]:
    """An SMTP server on 127.0.0.1: STARTTLS required (``starttls``) or TLS from the start
    (``tls``); AUTH required when ``password`` is given; ``starttls=False`` offers none."""
    box = Mailbox(port=_free_port(), password=password)

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any):
        box.logins.append(data.login.decode())
        ok = data.login.decode() == box.user and data.password.decode() == box.password
        return AuthResult(success=ok, handled=False)  # not handled: the server answers 535

    context = tls.server_context()
    options: dict[str, Any] = {"hostname": "127.0.0.1", "port": box.port}
    if security == "tls":
        # TLS from the first byte; aiosmtpd only counts STARTTLS as TLS for AUTH, so it is
        # told the session is encrypted anyway.
        options.update(ssl_context=context, auth_require_tls=False)
    elif starttls:
        options.update(tls_context=context, require_starttls=True)
    if password:
        options.update(authenticator=authenticate, auth_required=True)
    controller = Controller(_Handler(box), **options)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def client_context(tls: TlsFiles) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls.ca_cert))
