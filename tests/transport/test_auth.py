"""The bearer auth flow: header from the token source, one refresh and re-send on a 401."""

import asyncio
from collections.abc import Callable

import httpx
import pytest

from ml_connector_dagster.transport.auth import RefreshingBearerAuth


class Tokens:
    """A token source handing out tok-1, tok-2, ...; ``invalidate`` moves to the next."""

    def __init__(self, refusal: Exception | None = None) -> None:
        self.current = 1
        self.invalidated = 0
        self.refusal = refusal

    def token(self) -> str:
        return f"tok-{self.current}"

    def invalidate(self) -> None:
        self.invalidated += 1
        if self.refusal is not None:
            raise self.refusal
        self.current += 1


def _client(answer: Callable[[httpx.Request], httpx.Response]) -> tuple[httpx.Client, list]:
    seen: list[tuple[str, bytes]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.headers.get("authorization", ""), request.read()))
        return answer(request)

    return httpx.Client(transport=httpx.MockTransport(handler)), seen


def test_every_request_carries_the_current_bearer_and_is_counted() -> None:
    tokens, sent = Tokens(), []
    auth = RefreshingBearerAuth(tokens.token, tokens.invalidate, sent.append)
    http, seen = _client(lambda r: httpx.Response(200))
    assert http.get("https://api.test/a", auth=auth).status_code == 200
    assert seen == [("Bearer tok-1", b"")]
    assert len(sent) == 1 and tokens.invalidated == 0


def test_a_401_invalidates_once_and_resends_the_same_body_with_a_fresh_token() -> None:
    tokens, sent = Tokens(), []
    auth = RefreshingBearerAuth(tokens.token, tokens.invalidate, sent.append)
    http, seen = _client(
        lambda r: httpx.Response(200 if r.headers["authorization"] == "Bearer tok-2" else 401)
    )
    response = http.post("https://api.test/a", content=b'{"x": 1}', auth=auth)
    assert response.status_code == 200
    assert seen == [("Bearer tok-1", b'{"x": 1}'), ("Bearer tok-2", b'{"x": 1}')]
    assert tokens.invalidated == 1 and len(sent) == 2  # the re-send is counted too


def test_a_second_401_is_handed_back_not_refreshed_again() -> None:
    tokens = Tokens()
    auth = RefreshingBearerAuth(tokens.token, tokens.invalidate)
    http, seen = _client(lambda r: httpx.Response(401))
    assert http.get("https://api.test/a", auth=auth).status_code == 401
    assert [header for header, _ in seen] == ["Bearer tok-1", "Bearer tok-2"]
    assert tokens.invalidated == 1


def test_a_source_that_cannot_refresh_raises_its_own_error_without_a_resend() -> None:
    tokens = Tokens(refusal=LookupError("create a new token"))
    auth = RefreshingBearerAuth(tokens.token, tokens.invalidate)
    http, seen = _client(lambda r: httpx.Response(401))
    with pytest.raises(LookupError, match="create a new token"):
        http.get("https://api.test/a", auth=auth)
    assert len(seen) == 1


def test_other_refusals_do_not_touch_the_token() -> None:
    tokens = Tokens()
    auth = RefreshingBearerAuth(tokens.token, tokens.invalidate)
    http, seen = _client(lambda r: httpx.Response(403))
    assert http.get("https://api.test/a", auth=auth).status_code == 403
    assert len(seen) == 1 and tokens.invalidated == 0


def test_repr_shows_no_token_and_async_use_is_refused() -> None:
    tokens = Tokens()
    auth = RefreshingBearerAuth(tokens.token, tokens.invalidate)
    assert "tok-" not in repr(auth)

    async def use() -> None:
        transport = httpx.MockTransport(lambda r: httpx.Response(200))
        async with httpx.AsyncClient(transport=transport) as http:
            await http.get("https://api.test/a", auth=auth)

    with pytest.raises(RuntimeError, match="synchronous"):
        asyncio.run(use())
