"""next_link resolution: relative or absolute, never to another origin."""

import pytest

from ml_connector_dagster.rippling.client import required_scope
from ml_connector_dagster.rippling.entitlements import required_entitlement
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
    # v1 scopes, as the v1 spec's security lists them (no ".read"; activity needs two).
    assert required_scope("/platform/api/company_activity") == "company, company:activity"
    assert required_scope("/platform/api/employees/e1") == "employee"


def test_required_entitlement_follows_the_spec_for_list_by_id_and_nested_paths() -> None:
    assert required_entitlement("/workers/") == "API_Tier_1"
    assert required_entitlement("/workers/w1/") == "API_Tier_1"
    assert required_entitlement("/job-codes/") == "API_Tier_2"
    assert required_entitlement("/payroll-runs/r1/") == "Global_Payroll"
    assert required_entitlement("/payroll-runs/r1/worker-payroll-records/") == "Global_Payroll"
    assert required_entitlement("/platform/api/company_activity") is None
    assert required_entitlement("/job-codes/j1/change-log/") is None  # not called by the client
