"""Ids go into Rippling URLs as exactly one escaped path segment, never as a path.

Issue 11: a webhook ``id`` of ``../payroll-runs`` went into ``/workers/{id}/`` unescaped and
reached another endpoint. A mock transport records the raw path of each request.
"""

import httpx
import pytest
from pydantic import SecretStr

from ml_connector_dagster.credentials.models import RipplingCredentials
from ml_connector_dagster.dynamics.odata import key_segment
from ml_connector_dagster.rippling.client import RipplingClient
from ml_connector_dagster.rippling.errors import RipplingRequestError
from ml_connector_dagster.rippling.ids import InvalidPathSegment, is_rippling_id, path_segment

BASE = "https://rippling.test/api"


def _client(sent: list[str]) -> RipplingClient:
    """A client whose every request answers 404, recording the raw (still escaped) path."""

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.raw_path.decode("ascii").split("?")[0])
        return httpx.Response(404, json={"detail": "not found"})

    credentials = RipplingCredentials(
        base_url=BASE, v1_base_url="https://rippling.test/platform/api", api_token=SecretStr("t")
    )
    client = RipplingClient(credentials)
    client._http = httpx.Client(transport=httpx.MockTransport(handler))
    return client


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda c: c.worker("../payroll-runs"), "/api/workers/..%2Fpayroll-runs/"),
        (lambda c: c.worker("a/b?c#d"), "/api/workers/a%2Fb%3Fc%23d/"),
        (lambda c: c.worker("x y%2F"), "/api/workers/x%20y%252F/"),
        (lambda c: c.payroll_run("r/../1"), "/api/payroll-runs/r%2F..%2F1/"),
        (
            lambda c: list(c.worker_payroll_records("../workers")),
            "/api/payroll-runs/..%2Fworkers/worker-payroll-records/",
        ),
        (
            lambda c: c.employee("../../v2/workers"),
            "/platform/api/employees/..%2F..%2Fv2%2Fworkers",
        ),
    ],
)
def test_every_id_is_one_escaped_segment(call, expected: str) -> None:
    sent: list[str] = []
    with _client(sent) as client, pytest.raises(RipplingRequestError):  # the mock answers 404
        call(client)
    assert sent == [expected]


@pytest.mark.parametrize("bad", ["", ".", ".."])
def test_empty_and_dot_segments_are_refused_before_any_request(bad: str) -> None:
    sent: list[str] = []
    with _client(sent) as client:
        for call in (client.worker, client.payroll_run, client.employee):
            with pytest.raises(InvalidPathSegment):
                call(bad)
    assert sent == []


def test_path_segment_and_the_id_form() -> None:
    assert path_segment("65f1c0de9a1b2c3d4e5f6a7b") == "65f1c0de9a1b2c3d4e5f6a7b"
    assert path_segment("..a") == "..a"  # not a dot segment
    assert is_rippling_id("65f1c0de9a1b2c3d4e5f6a7b") and is_rippling_id("wkr_1-A")
    for bad in ("../payroll-runs", "", "a" * 101, "abc\n", "a b", "a'b", "é", None, 12):
        assert not is_rippling_id(bad)


def test_odata_keys_double_quotes_and_escape_path_characters() -> None:
    segment = key_segment("VendorsV2", {"dataAreaId": "usmf", "VendorAccountNumber": "O'B/../x?#%"})
    assert segment == "VendorsV2(dataAreaId='usmf',VendorAccountNumber='O''B%2F..%2Fx%3F%23%25')"
