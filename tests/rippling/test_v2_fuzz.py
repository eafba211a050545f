"""Rippling answers we did not expect, generated from the published v2 schemas (hypothesis).

A record with a field missing, null, of the wrong type, huge, with fractional cents or an enum
member the spec does not list is either read (when the model allows it) or refused with a
``RipplingDataError`` naming the endpoint, the record and the field: never another exception,
never a value silently changed. Paging that repeats a record id across pages or loops back to
a page already read is refused by name, never followed for ever.

The bodies come from ``spec_support``'s synthesizer over the spec beside the repository; the
module skips when the spec is not mounted, as the other contract tests do.
"""

import ssl
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from rippling.spec_support import SPEC_PATH, Spec, to_json, with_value
from rippling.test_v2_schema_contract import (
    BASE_URL,
    BY_TEMPLATE,
    Endpoint,
    body_for,
    records_of,
    serve,
)

from ml_connector_dagster.credentials.models import RipplingCredentials
from ml_connector_dagster.rippling.client import RipplingClient
from ml_connector_dagster.rippling.errors import (
    RipplingDataError,
    RipplingError,
    RipplingPagingError,
)

FUZZED = [
    BY_TEMPLATE[t]
    for t in (
        "/workers/",
        "/payroll-runs/",
        "/payroll-runs/{run_id}/worker-payroll-records/",
        "/compensations/",
        "/departments/",
    )
]
MUTATIONS = ("delete", "null", "wrong type", "huge", "fractional cents", "unknown enum")


@pytest.fixture(scope="module")
def spec() -> Spec:
    if not SPEC_PATH.exists():
        pytest.skip("shared reference not mounted")
    return Spec(yaml.safe_load(SPEC_PATH.read_text()))


def _leaves(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Every path into a record (objects and list items), the record's own id excluded."""
    if isinstance(value, dict):
        for key, child in value.items():
            if path == () and key == "id":
                continue
            yield (*path, key)
            yield from _leaves(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield (*path, index)
            yield from _leaves(child, (*path, index))


def _mutated(value: Any, mutation: str) -> Any:
    if mutation == "null":
        return None
    if mutation == "wrong type":
        return {"unexpected": True} if not isinstance(value, dict) else ["unexpected"]
    if mutation == "huge":
        return "x" * 100_000
    if mutation == "fractional cents":
        return "1000.005"
    return "NOT_A_MEMBER_OF_ANY_ENUM"


def _without(body: Any, path: tuple[str | int, ...]) -> Any:
    if len(path) == 1:
        if isinstance(body, dict):
            return {k: v for k, v in body.items() if k != path[0]}
        return [v for i, v in enumerate(body) if i != path[0]]
    copy = dict(body) if isinstance(body, dict) else list(body)
    copy[path[0]] = _without(body[path[0]], path[1:])  # type: ignore[index]
    return copy


def _record_path(endpoint: Endpoint, path: tuple[str | int, ...]) -> tuple[str | int, ...]:
    return path if endpoint.single else ("results", 0, *path)


def _exact(parsed: Any, sent: str) -> None:
    """A fractional-cent amount that was read is kept exactly: never a float, never rounded."""
    values = list(_values(parsed))
    assert not any(isinstance(v, float) for v in values)
    assert Decimal(sent).quantize(Decimal("0.01")) not in values


def _values(value: Any) -> Iterator[Any]:
    if hasattr(value, "model_dump"):
        value = value.model_dump()
    if isinstance(value, dict):
        for child in value.values():
            yield from _values(child)
    elif isinstance(value, list | tuple):
        for child in value:
            yield from _values(child)
    else:
        yield value


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_mutated_record_is_read_or_refused_naming_record_and_field(spec: Spec, data) -> None:
    endpoint = data.draw(st.sampled_from(FUZZED), label="endpoint")
    body = body_for(spec, endpoint, "maximal")
    record = records_of(endpoint, body)[0]
    path = data.draw(st.sampled_from(sorted(_leaves(record), key=str)), label="path")
    mutation = data.draw(st.sampled_from(MUTATIONS), label="mutation")
    full = _record_path(endpoint, path)
    if mutation == "delete":
        body = _without(body, full)
    else:
        current: Any = record
        for part in path:
            current = current[part]
        body = with_value(body, full, _mutated(current, mutation))
    try:
        parsed = serve(endpoint, body)
    except RipplingDataError as exc:
        message = str(exc)
        assert str(record["id"]) in message, message
        named = [str(p) for p in path if isinstance(p, str)]
        assert named and named[0] in message, (path, message)
        return
    except RipplingError as exc:  # pragma: no cover - the assertion says what went wrong
        raise AssertionError(f"{type(exc).__name__} instead of a named data error: {exc}") from None
    if mutation == "fractional cents":
        _exact(parsed, "1000.005")


def _paged(spec: Spec, pages: list[dict[str, Any]]) -> list[Any]:
    """The client's worker read over ``pages`` (each page's ``next_link`` as given)."""
    served: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor", "0")
        served.append(cursor)
        return httpx.Response(
            200,
            content=to_json(pages[int(cursor)]),
            headers={"content-type": "application/json"},
        )

    creds = RipplingCredentials(base_url=BASE_URL, api_token=SecretStr("fuzz"))
    client = RipplingClient(creds, ssl_context=ssl.create_default_context())
    client._http = httpx.Client(transport=httpx.MockTransport(handler))
    try:
        return list(client.workers())
    finally:
        client.close()
        assert len(served) <= len(pages) + 1, f"followed {len(served)} pages of {len(pages)}"


def _worker_page(spec: Spec, ids: list[str], next_cursor: str | None) -> dict[str, Any]:
    endpoint = BY_TEMPLATE["/workers/"]
    results = []
    for worker_id in ids:
        record = dict(records_of(endpoint, body_for(spec, endpoint, "maximal"))[0])
        record["id"] = worker_id
        results.append(record)
    page: dict[str, Any] = {"results": results}
    if next_cursor is not None:
        page["next_link"] = f"/workers/?cursor={next_cursor}"
    return page


def test_a_page_that_links_back_to_itself_is_refused_not_followed_for_ever(spec: Spec) -> None:
    pages = [_worker_page(spec, ["w1"], "1"), _worker_page(spec, ["w2"], "1")]
    with pytest.raises(RipplingPagingError, match="loops back to a page already read"):
        _paged(spec, pages)


def test_a_record_repeated_across_pages_is_read_once_or_refused_by_id(spec: Spec) -> None:
    same = [_worker_page(spec, ["w1", "w2"], "1"), _worker_page(spec, ["w2", "w3"], None)]
    assert [w.id for w in _paged(spec, same)] == ["w1", "w2", "w3"]
    changed = [_worker_page(spec, ["w1", "w2"], "1"), _worker_page(spec, ["w2"], None)]
    changed[1]["results"][0]["title"] = "changed while the list was read"
    with pytest.raises(RipplingPagingError, match="record w2 came back different"):
        _paged(spec, changed)
