"""How the webhook receiver reads a form body (Starlette's parser on the body it read itself).

The body limit holds before anything is parsed, a repeated field keeps its last value, a blank
field counts as missing, and any body not labelled JSON is read as a url-encoded form, however
it is labelled (Rippling's deliveries are; a missing label must not lose one).
"""

import warnings
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from pydantic import SecretStr

with warnings.catch_warnings():  # Starlette nags about httpx; the test client still works.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from ml_connector_dagster.audit.store import AuditStore
from ml_connector_dagster.workforce.webhooks import MAX_BODY, WEBHOOK_PATH, create_webhook_app

TOKEN = "s3cret-token-configured-in-rippling"
COMPANY = "company_northwind"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def http(store: AuditStore) -> Iterator[TestClient]:
    app = create_webhook_app(
        store,
        bearer_token=SecretStr(TOKEN),
        path_secret=None,
        known_company_ids={COMPANY},
    )
    with TestClient(app) as client:
        yield client


def _post(http: TestClient, body: bytes, content_type: str | None = FORM, **kwargs):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return http.post(WEBHOOK_PATH, content=body, headers=headers, **kwargs)


def _stored(store: AuditStore) -> list[tuple[str, str, str]]:
    return [(r["company_id"], r["event_name"], r["object_id"]) for r in store.pending_webhooks()]


def test_a_repeated_field_keeps_its_last_value(http: TestClient, store: AuditStore) -> None:
    body = f"event_name=employee.updated&company_id={COMPANY}&id=wkr_first&id=wkr_last"
    assert _post(http, body.encode()).status_code == 200
    assert _stored(store) == [(COMPANY, "employee.updated", "wkr_last")]


@pytest.mark.parametrize("blank", ["id=", "id", "id=+++", "id=%20"], ids=repr)
def test_a_blank_required_field_is_refused(http: TestClient, store: AuditStore, blank: str) -> None:
    body = f"event_name=employee.updated&company_id={COMPANY}&{blank}"
    response = _post(http, body.encode())
    assert response.status_code == 400
    assert "required" in response.json()["error"]
    assert store.pending_webhooks() == []


def test_escaped_values_are_decoded(http: TestClient, store: AuditStore) -> None:
    """Decoded before the id is checked: an escaped id of Rippling's form is stored decoded, one
    that decodes to something else (a space, a slash) is refused and nothing is stored."""
    body = f"event_name=employee%2Eupdated&company_id={COMPANY}&id=wkr%5F1"
    assert _post(http, body.encode()).status_code == 200
    assert _stored(store) == [(COMPANY, "employee.updated", "wkr_1")]
    body = urlencode({"event_name": "employee.updated", "company_id": COMPANY, "id": "wkr 1/ü"})
    assert "+" in body and "%" in body
    assert _post(http, body.encode()).status_code == 400
    assert _stored(store) == [(COMPANY, "employee.updated", "wkr_1")]


@pytest.mark.parametrize("content_type", [None, "text/plain", f"{FORM}; charset=utf-8"])
def test_any_body_not_labelled_json_is_read_as_a_form(
    http: TestClient, store: AuditStore, content_type: str | None
) -> None:
    body = f"event_name=employee.updated&company_id={COMPANY}&id=wkr_1".encode()
    assert _post(http, body, content_type).status_code == 200
    assert _stored(store) == [(COMPANY, "employee.updated", "wkr_1")]


def test_a_body_over_the_limit_is_refused_before_parsing_even_unannounced(
    http: TestClient, store: AuditStore
) -> None:
    """Sent in chunks without a Content-Length: the limit holds while reading the stream."""
    head = f"event_name=employee.updated&company_id={COMPANY}&id=wkr_1&pad=".encode()

    def chunks() -> Iterator[bytes]:
        yield head
        for _ in range(MAX_BODY // 1024 + 1):
            yield b"x" * 1024

    response = _post(http, chunks())
    assert response.status_code == 413
    announced = _post(http, head + b"x" * MAX_BODY)
    assert announced.status_code == 413
    assert store.pending_webhooks() == []


def test_a_form_of_many_fields_within_the_limit_is_read_whole(
    http: TestClient, store: AuditStore
) -> None:
    """More fields than Starlette's default of 1000: the body limit is the only bound."""
    fields = f"event_name=employee.updated&company_id={COMPANY}&id=wkr_1"
    padding = "&x=1" * ((MAX_BODY - len(fields)) // 4)
    body = (padding[1:] + "&" + fields).encode()
    assert len(body) <= MAX_BODY and body.count(b"&") > 1000
    assert _post(http, body).status_code == 200
    assert _stored(store) == [(COMPANY, "employee.updated", "wkr_1")]
