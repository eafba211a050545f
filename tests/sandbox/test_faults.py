"""Fault switches: parsing, determinism from the seed, nth and share, bounds; faults that
fire after the write was processed (``when: after``) and late commits, through real HTTPS."""

import asyncio
import contextlib
import json
import ssl
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from ml_connector_dagster.dynamics.batch import BatchRequest, Operation, build_batch
from ml_connector_sandbox.fault_middleware import FaultMiddleware
from ml_connector_sandbox.faults import (
    FaultBoard,
    FaultConfigError,
    FaultRule,
    load_fault_file,
    parse_fault_flag,
)
from ml_connector_sandbox.server import Sandbox


def test_flag_parses_service_kind_and_typed_options() -> None:
    service, rule = parse_fault_flag(
        "dynamics:throttle:share=0.25,retry_after=3,path_prefix=/data/$batch"
    )
    assert service == "dynamics"
    assert rule.kind == "throttle"
    assert rule.share == 0.25
    assert rule.retry_after == 3
    assert rule.path_prefix == "/data/$batch"


@pytest.mark.parametrize(
    "flag, message",
    [
        ("nowhere:throttle:share=1", "unknown service"),
        ("rippling:explode:share=1", "unknown fault kind"),
        ("rippling:throttle", "give share"),
        ("rippling:throttle:share=2", "within 0..1"),
        ("rippling:server_error:nth=1,status=404", "must be 5xx"),
        ("rippling:throttle:bogus=1", "unknown fault option"),
        ("rippling:throttle:share", "needs key=value"),
    ],
)
def test_bad_flags_say_what_is_wrong(flag: str, message: str) -> None:
    with pytest.raises(FaultConfigError, match=message):
        parse_fault_flag(flag)


def test_nth_fires_exactly_once_on_that_request() -> None:
    board = FaultBoard()
    board.set("rippling", [FaultRule(kind="server_error", nth=3)])
    fired = [bool(board.decide("rippling", "/workers/")) for _ in range(6)]
    assert fired == [False, False, True, False, False, False]


def test_path_prefix_counts_only_matching_requests() -> None:
    board = FaultBoard()
    board.set("dynamics", [FaultRule(kind="throttle", nth=2, path_prefix="/data/$batch")])
    assert not board.decide("dynamics", "/data/$batch")
    assert not board.decide("dynamics", "/data/LedgerJournalHeaders")
    assert board.decide("dynamics", "/data/$batch")


def test_method_counts_only_requests_of_those_methods() -> None:
    board = FaultBoard()
    rule = FaultRule(kind="drop", nth=1, path_prefix="/data/Ledger", method="post|patch")
    board.set("dynamics", [rule])
    assert rule.method == "POST|PATCH"
    assert not board.decide("dynamics", "/data/LedgerJournalHeaders", "GET")  # a look-up
    assert not board.decide("dynamics", "/data/Workers", "POST")  # another entity set
    assert board.decide("dynamics", "/data/LedgerJournalHeaders", "POST")  # the first create
    assert not board.decide("dynamics", "/data/LedgerJournalHeaders", "PATCH")  # nth was 1
    with pytest.raises(FaultConfigError, match="HTTP methods"):
        FaultRule(kind="drop", nth=1, method="POST,PATCH")


def test_share_is_reproducible_from_the_seed_and_bounded_by_times() -> None:
    def pattern(seed: int) -> list[bool]:
        board = FaultBoard()
        board.set("dynamics", [FaultRule(kind="throttle", share=0.3)], seed=seed)
        return [bool(board.decide("dynamics", "/data/x")) for _ in range(200)]

    assert pattern(7) == pattern(7)
    assert pattern(7) != pattern(8)
    assert 30 <= sum(pattern(7)) <= 90  # about 30% of 200

    board = FaultBoard()
    board.set("dynamics", [FaultRule(kind="throttle", share=1.0, times=2)])
    assert [bool(board.decide("dynamics", "/")) for _ in range(4)] == [True, True, False, False]


def test_fault_file_loads_all_services_and_rejects_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "faults.yaml"
    path.write_text(
        "seed: 3\n"
        "rippling:\n  - {kind: throttle, share: 1.0}\n"
        "dynamics:\n  - {kind: latency, nth: 1, latency_ms: 5}\n"
    )
    board = FaultBoard()
    board.load(load_fault_file(path))
    assert board.describe("rippling")["rules"][0]["kind"] == "throttle"
    assert board.describe("dynamics")["seed"] == 3
    assert board.describe("entra")["rules"] == []
    with pytest.raises(FaultConfigError, match="unknown key"):
        board.load({"ripling": []})
    with pytest.raises(FaultConfigError, match="dynamics rule 1"):
        board.load({"dynamics": [{"kind": "throttle"}]})


# --- faults after the write: when=after, late_commit ------------------------------------------


def test_late_commit_flag_parses_with_its_defaults() -> None:
    service, rule = parse_fault_flag(
        "dynamics:late_commit:nth=1,delay_ms=500,path_prefix=/data/LedgerJournalHeaders"
    )
    assert service == "dynamics"
    assert (rule.kind, rule.nth, rule.delay_ms, rule.status) == ("late_commit", 1, 500, 504)
    assert rule.path_prefix == "/data/LedgerJournalHeaders"
    assert FaultRule(kind="late_commit", nth=1).delay_ms == 2000
    _, after = parse_fault_flag("dynamics:server_error:nth=2,when=after,status=504")
    assert (after.when, after.status) == ("after", 504)
    assert FaultRule(kind="server_error", nth=1).when == "before"
    assert FaultRule(kind="server_error", nth=1).status == 503


@pytest.mark.parametrize(
    "flag, message",
    [
        ("dynamics:server_error:nth=1,when=later", "when must be 'before' or 'after'"),
        ("dynamics:throttle:nth=1,when=after", "when=after applies only to server_error and drop"),
        ("dynamics:late_commit:nth=1,when=after", "when=after applies only"),
        ("dynamics:late_commit:nth=1,delay_ms=-1", "delay_ms must be a number of milliseconds"),
        ("dynamics:late_commit:nth=1,delay_ms=soon", "delay_ms must be a number of milliseconds"),
        ("dynamics:late_commit:nth=1,status=404", "late_commit: status must be 5xx"),
    ],
)
def test_bad_when_and_delay_say_what_is_wrong(flag: str, message: str) -> None:
    with pytest.raises(FaultConfigError, match=message):
        parse_fault_flag(flag)


def test_describe_shows_when_delay_and_late_commit_counters() -> None:
    board = FaultBoard()
    board.load(
        {
            "dynamics": [
                {"kind": "drop", "nth": 1, "when": "after"},
                {"kind": "late_commit", "share": 0.5, "delay_ms": 10},
            ]
        }
    )
    described = board.describe("dynamics")
    drop, late = described["rules"]
    assert (drop["when"], late["when"]) == ("after", "before")
    assert (late["delay_ms"], late["status"]) == (10, 504)
    assert described["late_commits"] == {"pending": 0, "answered": {}, "failed": 0, "dropped": 0}


# ASGI-level checks of the middleware (no network): body replay and a failing late commit.


def _run_asgi(
    middleware: FaultMiddleware, chunks: list[bytes], path: str = "/data/$batch"
) -> list[dict[str, Any]]:
    """One request whose body arrives in ``chunks``; returns what the middleware sent."""
    sent: list[dict[str, Any]] = []

    async def scenario() -> None:
        messages = [
            {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
            for i, c in enumerate(chunks)
        ]

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop(0)
            await asyncio.Event().wait()  # a live client that sends nothing more
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": path, "headers": []}
        with contextlib.suppress(ConnectionAbortedError):
            await middleware(scope, receive, send)
        # let background late commits finish (bounded)
        for _ in range(500):
            if middleware.board.describe(middleware.service)["late_commits"]["pending"] == 0:
                break
            await asyncio.sleep(0.01)

    asyncio.run(scenario())
    return sent


class _RecordingApp:
    def __init__(self, fail: bool = False) -> None:
        self.bodies: list[bytes] = []
        self.fail = fail

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        if self.fail:
            raise RuntimeError("backend exploded")
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"created"})


def _middleware(app: _RecordingApp, rule: FaultRule) -> FaultMiddleware:
    board = FaultBoard()
    board.set("dynamics", [rule])
    return FaultMiddleware(app, service="dynamics", board=board, throttle_sends_retry_after=True)


@pytest.mark.parametrize("kind", ["server_error", "drop"])
def test_after_fault_replays_a_chunked_body_intact_and_discards_the_answer(kind: str) -> None:
    app = _RecordingApp()
    chunks = [b"--batch_1\r\n", b"x" * 70_000, b"\r\n--batch_1--\r\n"]
    rule = FaultRule(kind=kind, nth=1, when="after", status=504)  # type: ignore[arg-type]
    sent = _run_asgi(_middleware(app, rule), chunks)
    assert app.bodies == [b"".join(chunks)]
    assert sent[0]["status"] == (504 if kind == "server_error" else 200)
    assert all(m.get("body") != b"created" for m in sent)  # the app's own answer never left
    if kind == "server_error":
        assert json.loads(sent[1]["body"])["error"]["code"] == "GatewayTimeout"
    else:
        assert sent[-1]["more_body"] is True  # cut half-way


def test_late_commit_answers_first_and_survives_a_failing_app() -> None:
    app = _RecordingApp(fail=True)
    middleware = _middleware(app, FaultRule(kind="late_commit", nth=1, delay_ms=0))
    sent = _run_asgi(middleware, [b'{"a": ', b"1}"])
    assert sent[0]["status"] == 504
    assert app.bodies == [b'{"a": 1}']  # processed once, in the background, after answering
    assert middleware.board.describe("dynamics")["late_commits"]["failed"] == 1
    # the middleware still serves: a request without a firing rule reaches the app
    app.fail = False
    assert _run_asgi(middleware, [b"{}"], path="/data/Workers")[0]["status"] == 201
    assert len(app.bodies) == 2


# Through the real HTTPS sandbox: the write happened although the answer was a failure.


def _token(sandbox: Sandbox, ssl_ctx: ssl.SSLContext) -> str:
    client = next(c for c in sandbox.entra.credentials()["clients"] if c["registered_in_dynamics"])
    with httpx.Client(verify=ssl_ctx) as http:
        answer = http.post(
            f"{sandbox.urls['entra']}/{sandbox.entra.tenant_id}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client["client_id"],
                "client_secret": client["client_secret"],
                "scope": f"{sandbox.urls['dynamics']}/.default",
            },
        )
    answer.raise_for_status()
    return answer.json()["access_token"]


@contextlib.contextmanager
def _fo(sandbox: Sandbox, ssl_ctx: ssl.SSLContext) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {_token(sandbox, ssl_ctx)}"}
    with httpx.Client(
        base_url=sandbox.urls["dynamics"], verify=ssl_ctx, headers=headers, timeout=30
    ) as client:
        yield client


def _set_faults(client: httpx.Client, config: dict) -> None:
    answer = client.put("/_sandbox/faults", json=config)
    assert answer.status_code == 200, answer.text


def _headers_described(client: httpx.Client, description: str) -> list[dict]:
    answer = client.get(
        "/data/LedgerJournalHeaders",
        params={"$filter": f"Description eq '{description}'", "cross-company": "true"},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["value"]


def _line_count(client: httpx.Client, batch: str) -> int:
    answer = client.get(
        "/data/LedgerJournalLines/$count",
        params={"$filter": f"JournalBatchNumber eq '{batch}'"},
    )
    assert answer.status_code == 200, answer.text
    return int(answer.text)


def _new_header(client: httpx.Client, description: str) -> str:
    answer = client.post(
        "/data/LedgerJournalHeaders",
        json={"dataAreaId": "usmf", "JournalName": "PAYROLL", "Description": description},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["JournalBatchNumber"]


def _lines_batch(sandbox: Sandbox, batch: str, pairs: int) -> BatchRequest:
    """One changeset of ``pairs`` balanced debit/credit line pairs for journal ``batch``."""
    base = {
        "dataAreaId": "usmf",
        "JournalBatchNumber": batch,
        "TransDate": "2026-11-20T00:00:00Z",
        "CurrencyCode": "USD",
    }
    operations = []
    for n in range(1, pairs + 1):
        for account, side, number in (
            ("600100-001-D100-CCEXE", "DebitAmount", 2 * n - 1),
            ("220400-001--", "CreditAmount", 2 * n),
        ):
            body = {
                **base,
                "LineNumber": number,
                "AccountDisplayValue": account,
                side: Decimal("12.34"),
            }
            operations.append(Operation("POST", "LedgerJournalLines", body, str(number)))
    return build_batch([operations], sandbox.urls["dynamics"] + "/data", query="cross-company=true")


def _post_batch(client: httpx.Client, request: BatchRequest) -> httpx.Response:
    return client.post(
        "/data/$batch", content=request.body, headers={"Content-Type": request.content_type}
    )


HEADERS = "/data/LedgerJournalHeaders"


def test_server_error_after_the_write_answers_504_but_the_header_exists(
    fresh_sandbox: Sandbox, sandbox_ssl: ssl.SSLContext
) -> None:
    with _fo(fresh_sandbox, sandbox_ssl) as client:
        _set_faults(
            client,
            {
                "dynamics": [
                    {
                        "kind": "server_error",
                        "nth": 1,
                        "when": "after",
                        "status": 504,
                        "path_prefix": HEADERS,
                    }
                ]
            },
        )
        answer = client.post(
            HEADERS,
            json={"dataAreaId": "usmf", "JournalName": "PAYROLL", "Description": "after 504"},
        )
        assert answer.status_code == 504
        assert answer.json()["error"]["code"] == "GatewayTimeout"
        [header] = _headers_described(client, "after 504")
    assert header["IsPosted"] == "No" and header["JournalName"] == "PAYROLL"


def test_dropped_connection_after_the_write_still_leaves_the_header(
    fresh_sandbox: Sandbox, sandbox_ssl: ssl.SSLContext
) -> None:
    with _fo(fresh_sandbox, sandbox_ssl) as client:
        _set_faults(
            client,
            {"dynamics": [{"kind": "drop", "nth": 1, "when": "after", "path_prefix": HEADERS}]},
        )
        with pytest.raises(httpx.RemoteProtocolError):
            client.post(
                HEADERS,
                json={"dataAreaId": "usmf", "JournalName": "PAYROLL", "Description": "after drop"},
            )
        assert len(_headers_described(client, "after drop")) == 1


def test_before_faults_still_write_nothing(
    fresh_sandbox: Sandbox, sandbox_ssl: ssl.SSLContext
) -> None:
    with _fo(fresh_sandbox, sandbox_ssl) as client:
        _set_faults(
            client,
            {
                "dynamics": [
                    {"kind": "server_error", "nth": 1, "status": 504, "path_prefix": HEADERS},
                    {"kind": "drop", "nth": 2, "path_prefix": HEADERS},
                ]
            },
        )
        body = {"dataAreaId": "usmf", "JournalName": "PAYROLL", "Description": "never"}
        assert client.post(HEADERS, json=body).status_code == 504
        with pytest.raises(httpx.RemoteProtocolError):
            client.post(HEADERS, json=body)
        assert _headers_described(client, "never") == []


@pytest.mark.parametrize("kind", ["server_error", "drop"])
def test_batch_changeset_lands_although_the_answer_failed_after_it(
    fresh_sandbox: Sandbox, sandbox_ssl: ssl.SSLContext, kind: str
) -> None:
    with _fo(fresh_sandbox, sandbox_ssl) as client:
        batch = _new_header(client, f"batch after {kind}")
        # 150 pairs: a body of well over 100 kB, which reaches the server in several chunks
        request = _lines_batch(fresh_sandbox, batch, pairs=150)
        assert len(request.body) > 100_000
        _set_faults(
            client,
            {
                "dynamics": [
                    {
                        "kind": kind,
                        "nth": 1,
                        "when": "after",
                        "status": 502,
                        "path_prefix": "/data/$batch",
                    }
                ]
            },
        )
        if kind == "drop":
            with pytest.raises(httpx.RemoteProtocolError):
                _post_batch(client, request)
        else:
            assert _post_batch(client, request).status_code == 502
        assert _line_count(client, batch) == 300
        header = client.get(f"{HEADERS}(dataAreaId='usmf',JournalBatchNumber='{batch}')").json()
    assert header["JournalTotalDebit"] == header["JournalTotalCredit"] == pytest.approx(1851)


def _poll(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    """True as soon as ``check`` holds; False after ``seconds`` (real waits, no time.sleep)."""
    waiter = threading.Event()
    for _ in range(int(seconds / 0.1)):
        if check():
            return True
        waiter.wait(0.1)
    return check()


def test_late_commit_answers_504_at_once_and_writes_later(
    fresh_sandbox: Sandbox, sandbox_ssl: ssl.SSLContext
) -> None:
    with _fo(fresh_sandbox, sandbox_ssl) as client:
        # the default delay (2,000 ms) leaves ample room for the immediate read-back
        _set_faults(
            client, {"dynamics": [{"kind": "late_commit", "nth": 1, "path_prefix": HEADERS}]}
        )
        answer = client.post(
            HEADERS,
            json={"dataAreaId": "usmf", "JournalName": "PAYROLL", "Description": "late one"},
        )
        assert answer.status_code == 504
        assert answer.json()["error"]["code"] == "GatewayTimeout"
        assert _headers_described(client, "late one") == []
        assert client.get("/_sandbox/faults").json()["dynamics"]["late_commits"]["pending"] == 1
    # a new connection (the first one is closed: the commit does not depend on it)
    with _fo(fresh_sandbox, sandbox_ssl) as client:
        assert _poll(lambda: len(_headers_described(client, "late one")) == 1)
        late = client.get("/_sandbox/faults").json()["dynamics"]["late_commits"]
    assert late == {"pending": 0, "answered": {"201": 1}, "failed": 0, "dropped": 0}


def test_late_commit_of_a_batch_changeset(
    fresh_sandbox: Sandbox, sandbox_ssl: ssl.SSLContext
) -> None:
    with _fo(fresh_sandbox, sandbox_ssl) as client:
        batch = _new_header(client, "late batch")
        _set_faults(
            client,
            {
                "dynamics": [
                    {
                        "kind": "late_commit",
                        "nth": 1,
                        "delay_ms": 1500,
                        "status": 503,
                        "path_prefix": "/data/$batch",
                    }
                ]
            },
        )
        assert _post_batch(client, _lines_batch(fresh_sandbox, batch, pairs=3)).status_code == 503
        assert _line_count(client, batch) == 0
        assert _poll(lambda: _line_count(client, batch) == 6)


def test_clearing_faults_drops_late_commits_still_waiting(
    fresh_sandbox: Sandbox, sandbox_ssl: ssl.SSLContext
) -> None:
    late = {
        "dynamics": [{"kind": "late_commit", "nth": 1, "delay_ms": 300, "path_prefix": HEADERS}]
    }
    body = {"dataAreaId": "usmf", "JournalName": "PAYROLL", "Description": "kept"}
    with _fo(fresh_sandbox, sandbox_ssl) as client:
        _set_faults(client, late)
        assert client.post(HEADERS, json=body).status_code == 504
        assert _poll(lambda: len(_headers_described(client, "kept")) == 1)
        _set_faults(client, late)  # the same rule afresh
        assert client.post(HEADERS, json={**body, "Description": "dropped"}).status_code == 504
        assert client.delete("/_sandbox/faults").status_code == 200  # what a reset does too
        # well past the 300 ms delay: the cleared late commit never lands
        threading.Event().wait(1.5)
        assert _headers_described(client, "dropped") == []
        assert len(_headers_described(client, "kept")) == 1
