"""next_link resolution: relative or absolute, never to another origin."""

import pytest

from ml_connector_dagster.rippling.client import required_scope
from ml_connector_dagster.rippling.errors import RipplingPagingError
from ml_connector_dagster.rippling.paging import resolve_next_link

BASE = "https://rest.ripplingapis.com"


def test_relative_and_same_origin_links_resolve() -> None:
    current = f"{BASE}/workers/?limit=100"
    assert resolve_next_link(BASE, current, "/workers/?cursor=abc") == f"{BASE}/workers/?cursor=abc"
    assert (
        resolve_next_link(BASE, current, f"{BASE}/workers/?cursor=x") == f"{BASE}/workers/?cursor=x"
    )
    assert resolve_next_link(BASE, current, "https://rest.ripplingapis.com:443/w/") == (
        "https://rest.ripplingapis.com:443/w/"
    )


@pytest.mark.parametrize(
    "link",
    [
        "https://evil.example/workers/?cursor=abc",
        "https://rest.ripplingapis.com:8443/workers/",
        "http://rest.ripplingapis.com/workers/",
        "//evil.example/workers/",
        "https://rest.ripplingapis.com.evil.example/workers/",
    ],
)
def test_links_to_another_origin_are_refused(link: str) -> None:
    with pytest.raises(RipplingPagingError, match="refusing"):
        resolve_next_link(BASE, f"{BASE}/workers/", link)


def test_required_scope_follows_the_spec() -> None:
    assert required_scope("/workers/") == "workers.read"
    assert (
        required_scope("/payroll-runs/r1/worker-payroll-records/") == "worker-payroll-records.read"
    )
    assert required_scope("/company-legal-entities/") == "company-legal-entities.read"
