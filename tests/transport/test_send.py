"""The one send loop: waits through an injected sleeper, gives up on budget, raises ambiguity."""

import logging
import random

import httpx
import pytest

from ml_connector_dagster.transport.auth import RefreshingBearerAuth
from ml_connector_dagster.transport.inflight import InFlightCap
from ml_connector_dagster.transport.retry import ANY_SERVER_ERROR, RetryPolicy
from ml_connector_dagster.transport.send import Sender

URL = "https://api.test/things/"


class Unavailable(Exception):
    pass


class Ambiguous(Exception):
    pass


class Script:
    """A transport answering from a list: a status, (status, headers), or an exception."""

    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.bearers: list[str] = []  # as sent: a re-sent request object carries the last one

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.bearers.append(request.headers["authorization"])
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, tuple):
            return httpx.Response(answer[0], headers=answer[1])
        assert isinstance(answer, int)
        return httpx.Response(answer)


class Tokens:
    def __init__(self) -> None:
        self.current = 1

    def token(self) -> str:
        return f"tok-{self.current}"

    def invalidate(self) -> None:
        self.current += 1


def _sender(
    waits: list[float], *, attempts: int = 5, ambiguous: bool = True, **kwargs: object
) -> Sender:
    tokens = Tokens()
    policy = RetryPolicy(attempts=attempts, sleep=waits.append, rng=random.Random(7))
    return Sender(
        service="Svc",
        policy=policy,
        auth=RefreshingBearerAuth(tokens.token, tokens.invalidate),
        unavailable=Unavailable,
        ambiguous=Ambiguous if ambiguous else None,
        **kwargs,  # type: ignore[arg-type]
    )


def _send(sender: Sender, script: Script, method: str = "GET", **kwargs: object):
    http = httpx.Client(transport=httpx.MockTransport(script))
    request = http.build_request(method, URL, content=b"body" if method != "GET" else None)
    return sender.send(http, request, path="/things/", label="/things/", **kwargs)  # type: ignore[arg-type]


def test_429_waits_exactly_its_retry_after() -> None:
    waits: list[float] = []
    script = Script((429, {"Retry-After": "3"}), (429, {"Retry-After": "4"}), 200)
    assert _send(_sender(waits), script).status_code == 200
    assert waits == [3.0, 4.0] and len(script.requests) == 3


def test_429_without_retry_after_backs_off_growing_and_jittered() -> None:
    waits: list[float] = []
    script = Script(429, 429, 429, 429, 200)
    assert _send(_sender(waits), script).status_code == 200
    assert len(waits) == 4 and len(set(waits)) == 4
    for attempt, wait in enumerate(waits):
        assert 0 <= wait <= min(60.0, 2**attempt)


def test_a_write_throttled_is_sent_again_because_it_never_ran() -> None:
    waits: list[float] = []
    script = Script((429, {"Retry-After": "1"}), 201)
    assert _send(_sender(waits), script, "POST").status_code == 201
    assert waits == [1.0] and [r.content for r in script.requests] == [b"body", b"body"]


def test_the_budget_ends_in_the_unavailable_error() -> None:
    waits: list[float] = []
    script = Script(503)
    with pytest.raises(Unavailable, match=r"Svc /things/: gave up after 3 attempts \(last: 503\)"):
        _send(_sender(waits, attempts=3), script)
    assert len(script.requests) == 3 and len(waits) == 2


def test_a_5xx_to_a_write_is_ambiguous_and_never_resent() -> None:
    waits: list[float] = []
    script = Script(503, 201)
    with pytest.raises(Ambiguous, match="may or may not have landed"):
        _send(_sender(waits), script, "POST")
    assert len(script.requests) == 1 and waits == []


def test_a_write_the_caller_calls_idempotent_is_retried_on_5xx() -> None:
    waits: list[float] = []
    script = Script(503, 204)
    assert _send(_sender(waits), script, "PATCH", idempotent=True).status_code == 204
    assert len(script.requests) == 2 and len(waits) == 1


def test_a_connection_lost_after_sending_a_write_is_ambiguous() -> None:
    waits: list[float] = []
    script = Script(httpx.ReadTimeout("slow"), 201)
    with pytest.raises(Ambiguous, match=r"connection lost after sending \(ReadTimeout\)"):
        _send(_sender(waits), script, "POST")
    assert len(script.requests) == 1


def test_a_connection_never_made_is_retried_even_for_a_write() -> None:
    waits: list[float] = []
    script = Script(httpx.ConnectError("refused"), 201)
    assert _send(_sender(waits), script, "POST").status_code == 201
    assert len(script.requests) == 2 and len(waits) == 1


def test_a_read_only_service_without_an_ambiguous_error_raises_unavailable() -> None:
    script = Script(500)
    with pytest.raises(Unavailable, match="may or may not have landed"):
        _send(_sender([], ambiguous=False), script, "POST")


def test_which_5xx_are_retried_is_the_sender_s_choice() -> None:
    answered = _send(_sender([]), Script(501, 200))
    assert answered.status_code == 501  # handed back for the client to name
    waits: list[float] = []
    assert (
        _send(_sender(waits, server_errors=ANY_SERVER_ERROR), Script(501, 200)).status_code == 200
    )
    assert len(waits) == 1


def test_a_401_is_the_auth_flow_s_not_a_retry() -> None:
    waits: list[float] = []
    script = Script(401, 200)
    assert _send(_sender(waits), script).status_code == 200
    assert script.bearers == ["Bearer tok-1", "Bearer tok-2"]
    assert waits == []


def test_a_refresh_then_a_throttle_is_still_retried() -> None:
    waits: list[float] = []
    script = Script(401, (429, {"Retry-After": "2"}), 200)
    assert _send(_sender(waits), script).status_code == 200
    assert waits == [2.0] and len(script.requests) == 3


def test_retry_lines_name_the_service_and_label(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("tests.sender")
    _send(_sender([], log=log), Script((429, {"Retry-After": "2"}), 200))
    lines = [(r.name, r.getMessage()) for r in caplog.records if r.name == "tests.sender"]
    assert lines == [
        ("tests.sender", "GET /things/ -> 429"),
        ("tests.sender", "Svc /things/ answered 429; retrying in 2.0s"),
        ("tests.sender", "GET /things/ -> 200"),
    ]


def test_an_untrusted_certificate_is_not_retried_and_names_the_ca_setting() -> None:
    import ssl

    refused = ssl.SSLCertVerificationError(1, "certificate verify failed")
    refused.verify_message = "self-signed certificate in certificate chain"
    error = httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED]")
    error.__cause__ = refused
    waits: list[float] = []
    script = Script(error)
    with pytest.raises(Unavailable) as caught:
        _send(_sender(waits), script)
    message = str(caught.value)
    assert "api.test" in message and "self-signed certificate in certificate chain" in message
    assert "ML_CONNECTOR_CA_BUNDLE" in message
    assert waits == [] and len(script.requests) == 1


def test_a_refused_connection_still_retries_and_names_the_host() -> None:
    waits: list[float] = []
    script = Script(httpx.ConnectError("connection refused"))
    with pytest.raises(Unavailable, match=r"last: ConnectError from api\.test"):
        _send(_sender(waits, attempts=3), script)
    assert len(waits) == 2


def test_the_in_flight_slot_is_held_while_sending_and_free_while_waiting(tmp_path) -> None:
    """A throttled request gives its slot back before its Retry-After wait, so waiting
    requests never hold the machine's cap (``transport/inflight.py``)."""
    cap = InFlightCap(tmp_path, "svc", 1)
    free_when: list[tuple[str, bool]] = []

    def slot_free() -> bool:
        lock = cap._take()
        if lock is None:
            return False
        lock.release()
        return True

    def wait(seconds: float) -> None:
        free_when.append(("waiting", slot_free()))

    class Answer(Script):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            free_when.append(("sending", slot_free()))
            return super().__call__(request)

    tokens = Tokens()
    sender = Sender(
        service="Svc",
        policy=RetryPolicy(attempts=3, sleep=wait, rng=random.Random(7)),
        auth=RefreshingBearerAuth(tokens.token, tokens.invalidate),
        unavailable=Unavailable,
        cap=cap,
    )
    assert _send(sender, Answer((429, {"Retry-After": "2"}), 200)).status_code == 200
    assert free_when == [("sending", False), ("waiting", True), ("sending", False)]
    assert slot_free()  # and given back after the answer
