"""The webhook-intake stage: Rippling is the sender here and our receiver the server, so the
harness plays Rippling, faults included, against ``ml-connector webhooks serve``.

Rippling re-delivers a webhook that got no 2xx answer; the guarantee to hold is that every
event it sent ends in the inbox exactly once (pending, for the workforce sync to drain), however
deliveries are cut, doubled or met by a dead receiver.
"""

import socket
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

import httpx

from faultmatrix.cells import CellResult
from faultmatrix.product import Product, kill, pause, product_env
from ml_connector_dagster.audit.store import AuditStore
from ml_connector_dagster.workforce.webhooks import WEBHOOK_PATH
from ml_connector_sandbox.rippling.employees import webhook
from ml_connector_sandbox.server import Sandbox

TOKEN = "fault-matrix-webhook-token"  # the static bearer token "configured in Rippling"
EVENTS = 40  # one burst
REDELIVERIES = 20  # Rippling gives up on a delivery after this many tries (the sandbox's guess)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receiver:
    """``ml-connector webhooks serve`` as its own process, restartable on the same port."""

    def __init__(self, product: Product) -> None:
        self.product = product
        self.port = _free_port()
        self.process = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    def start(self) -> None:
        self.process, _ = self.product.start("webhooks", "serve", "--port", str(self.port))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the webhook receiver exited at start")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                pause(0.1)
        raise RuntimeError("the webhook receiver did not start listening")

    def kill(self) -> None:
        if self.process is not None:
            kill(self.process)

    def stop(self) -> None:
        self.kill()


def _body(form: dict[str, str]) -> bytes:
    return urlencode(form).encode()


def _raw_request(port: int, body: bytes, send: int | None) -> None:
    """Send a delivery by hand and hang up: after ``send`` body bytes (None: all of it, then
    hang up before reading the answer)."""
    head = (
        f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {TOKEN}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + (body if send is None else body[:send]))
        if send is None:
            pause(0.05)  # the receiver has the whole request; its answer goes nowhere


def _deliver(client: httpx.Client, url: str, form: dict[str, str]) -> bool:
    """One delivery; True when the receiver acknowledged it (2xx)."""
    try:
        answer = client.post(
            url,
            content=_body(form),
            headers={
                "Authorization": f"Bearer {TOKEN}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
    except httpx.HTTPError:
        return False
    return 200 <= answer.status_code < 300


def _until_acknowledged(client: httpx.Client, receiver: Receiver, form: dict[str, str]) -> bool:
    for _ in range(REDELIVERIES):
        if _deliver(client, receiver.url, form):
            return True
        pause(0.2)
    return False


def run_webhook_cell(sandbox: Sandbox, fault_name: str, workdir: Path) -> CellResult:
    started = time.monotonic()
    sandbox.reset()
    workdir.mkdir(parents=True, exist_ok=True)
    company_id = sandbox.company["rippling"]["company_id"]
    env = {
        **product_env(sandbox, workdir),
        "ML_CONNECTOR_WEBHOOK_TOKEN": TOKEN,
        "ML_CONNECTOR_RIPPLING_COMPANY_IDS": company_id,
    }
    product = Product(env, workdir)
    workers = [w["id"] for w in sandbox.company["rippling"]["workers"]][:EVENTS]
    forms = [webhook("employee.updated", company_id, w) for w in workers]
    result = CellResult(fault_name, "webhook-intake", "holds", workdir=str(workdir))
    receiver = Receiver(product)
    receiver.start()
    acknowledged: set[int] = set()
    try:
        with httpx.Client(timeout=10) as client:
            if fault_name == "drop-before":
                for form in forms:
                    body = _body(form)
                    _raw_request(receiver.port, body, send=len(body) // 2)
                    result.fired += 1
            elif fault_name == "drop-after":
                for form in forms:
                    _raw_request(receiver.port, _body(form), send=None)
                    result.fired += 1
            elif fault_name == "late-commit":
                for form in forms:  # twice at once
                    twins = [
                        threading.Thread(target=_deliver, args=(client, receiver.url, form))
                        for _ in range(2)
                    ]
                    for twin in twins:
                        twin.start()
                    for twin in twins:
                        twin.join()
                    result.fired += 1
            elif fault_name == "kill":
                for index, form in enumerate(forms):
                    if index == len(forms) // 2:
                        receiver.kill()  # mid-burst: the rest meet a dead receiver
                        result.fired += 1
                    if _deliver(client, receiver.url, form):
                        acknowledged.add(index)
                result.first = f"{len(acknowledged)} of {len(forms)} acknowledged, then killed"
                receiver.start()  # the operator's service manager restarts it
            else:
                raise ValueError(f"no webhook fault {fault_name!r}")
            # Rippling re-delivers every event it has no 2xx for (and, for the doubled
            # deliveries, once more later).
            for index, form in enumerate(forms):
                if index in acknowledged and fault_name != "late-commit":
                    continue
                if _until_acknowledged(client, receiver, form):
                    acknowledged.add(index)
    finally:
        receiver.stop()
    result.first = result.first or f"{result.fired} faulted deliveries"
    result.replay = f"{len(acknowledged)} of {len(forms)} acknowledged after re-delivery"
    result.problems += _check_inbox(env, company_id, forms, acknowledged)
    if result.problems:
        result.verdict = "BROKEN"
    result.seconds = time.monotonic() - started
    return result


def _check_inbox(
    env: dict[str, str], company_id: str, forms: list[dict[str, str]], acknowledged: set[int]
) -> list[str]:
    """Every event sent is pending exactly once; nothing else is in the inbox."""
    problems = []
    if len(acknowledged) != len(forms):
        problems.append(f"{len(forms) - len(acknowledged)} events never acknowledged")
    store = AuditStore(env["ML_CONNECTOR_AUDIT_URL"])
    try:
        pending = Counter(
            (r["company_id"], r["event_name"], r["object_id"]) for r in store.pending_webhooks()
        )
        dead = store.dead_webhooks()
    finally:
        store.dispose()
    sent = {(company_id, f["event_name"], f["id"]) for f in forms}
    for event in sorted(sent):
        if pending[event] != 1:
            problems.append(f"event {event[2]}: pending {pending[event]} times, expected 1")
    for event in sorted(set(pending) - sent):
        problems.append(f"an event nobody sent is in the inbox: {event}")
    for row in dead:
        problems.append(f"event {row['object_id']} was dead-lettered: {row['dead_letter_reason']}")
    return problems
