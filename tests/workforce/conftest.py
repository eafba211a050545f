"""Fixtures for the workforce sync tests: clients on the sandbox, a mapping, an audit store."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import yaml
from pydantic import SecretStr

from ml_connector_dagster.audit.store import AuditStore
from ml_connector_dagster.config.mapping import PayrollMapping, parse_mapping
from ml_connector_dagster.credentials.models import DynamicsCredentials, RipplingCredentials
from ml_connector_dagster.defs.resources import ConnectorResource
from ml_connector_dagster.dynamics.client import DynamicsClient
from ml_connector_dagster.rippling.client import RipplingClient
from ml_connector_sandbox.server import Sandbox


def mapping_document(company: dict[str, Any]) -> dict[str, Any]:
    """A finance mapping for the sandbox company: Rippling legal entities to the F&O company
    of the same legal name, departments by reference code."""
    rippling, dynamics = company["rippling"], company["dynamics"]
    currency = {r["LegalEntityId"].upper(): r["AccountingCurrency"] for r in dynamics["Ledgers"]}
    units = {
        r["Description"]: r["DimensionValue"]
        for r in dynamics["FinancialDimensionValues"]
        if r["FinancialDimension"] == "BusinessUnit"
    }
    return {
        "version": 1,
        "connection": "default",  # the connection of the tests' code location
        "dimension_format": {
            "dimensions": ["MainAccount", "BusinessUnit", "Department", "CostCenter"],
            "delimiter": "-",
        },
        "journal": {"name": "PAYROLL"},
        "legal_entities": [
            {
                "company": row["LegalEntityId"],
                "currency": currency[row["LegalEntityId"].upper()],
                "rippling_legal_entity_ids": [
                    le["id"] for le in rippling["legal_entities"] if le["legal_name"] == row["Name"]
                ],
                "dimensions": {"BusinessUnit": units[row["Name"]]},
            }
            for row in dynamics["LegalEntities"]
        ],
        "accounts": {
            "earnings": {"default": "600190"},
            "employer_taxes": "600200",
            "employer_benefits": "600300",
            "taxes_payable": "220100",
            "deductions_payable": "220200",
            "garnishments_payable": "220300",
            "net_pay_clearing": "220400",
        },
    }


@pytest.fixture(scope="session")
def wf_mapping(sandbox: Sandbox) -> PayrollMapping:
    return parse_mapping(yaml.safe_dump(mapping_document(sandbox.company)), "sandbox-mapping")


@pytest.fixture(scope="session")
def wf_mapping_file(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mapping") / "mapping.yaml"
    path.write_text(yaml.safe_dump(mapping_document(sandbox.company), sort_keys=False))
    return path


def rippling_client(sandbox: Sandbox, label: str = "full") -> RipplingClient:
    token = next(
        t["token"] for t in sandbox.rippling.credentials()["api_tokens"] if t["label"] == label
    )
    creds = RipplingCredentials(
        base_url=sandbox.urls["rippling"],
        v1_base_url=sandbox.urls["rippling"] + "/platform/api",
        api_token=SecretStr(token),
    )
    return RipplingClient(creds, ssl_context=sandbox.client_ssl_context())


def dynamics_client(sandbox: Sandbox) -> DynamicsClient:
    client = next(c for c in sandbox.entra.credentials()["clients"] if c["registered_in_dynamics"])
    creds = DynamicsCredentials(
        environment_url=sandbox.urls["dynamics"],
        tenant_id=sandbox.entra.tenant_id,
        client_id=client["client_id"],
        client_secret=SecretStr(client["client_secret"]),
        authority_host=sandbox.urls["entra"],
        allow_any_host=True,
    )
    return DynamicsClient(creds, ssl_context=sandbox.client_ssl_context())


@pytest.fixture
def rippling(fresh_sandbox: Sandbox) -> Iterator[RipplingClient]:
    with rippling_client(fresh_sandbox) as client:
        yield client


@pytest.fixture
def dynamics(fresh_sandbox: Sandbox) -> Iterator[DynamicsClient]:
    with dynamics_client(fresh_sandbox) as client:
        yield client


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AuditStore]:
    audit = AuditStore(f"sqlite:///{tmp_path / 'audit.sqlite'}")
    yield audit
    audit.dispose()


class Admin:
    """The Rippling stand-in's admin endpoints (hire, update, terminate, rehire)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.base = sandbox.urls["rippling"] + "/_sandbox"
        self.http = httpx.Client(verify=sandbox.client_ssl_context(), timeout=30)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.http.request(method, self.base + path, json=body)
        assert response.status_code < 300, response.text
        return response.json()

    def hire(self, **body: Any) -> dict[str, Any]:
        return self.call("POST", "/workers", body)["worker"]

    def update(self, worker_id: str, **body: Any) -> dict[str, Any]:
        return self.call("PATCH", f"/workers/{worker_id}", body)

    def terminate(self, worker_id: str, **body: Any) -> dict[str, Any]:
        return self.call("POST", f"/workers/{worker_id}/terminate", body)

    def rehire(self, worker_id: str, **body: Any) -> dict[str, Any]:
        return self.call("POST", f"/workers/{worker_id}/rehire", body)

    def hire_answer(self, **body: Any) -> dict[str, Any]:
        """The whole answer of a hire: the records, the ``employee_id`` and the ``webhook``
        form Rippling would POST for it (it names the employee id, not the worker id)."""
        return self.call("POST", "/workers", body)

    def grant(self, *scopes: str, label: str = "full") -> None:
        """Add scopes to a sandbox API token (the generated ones lack the v1 scopes)."""
        current = self.call("GET", f"/api-tokens/{label}")["scopes"]
        self.call("PUT", f"/api-tokens/{label}", {"scopes": current + list(scopes)})


V1_SCOPES = ("company", "company:activity", "employee")


class RecordingConnector(ConnectorResource):
    """The connector resource, noting the path of every Rippling request its clients send."""

    paths: ClassVar[list[str]] = []

    @contextmanager
    def rippling(self) -> Iterator[RipplingClient]:
        with super().rippling() as client:
            client._http.event_hooks["request"].append(
                lambda request: RecordingConnector.paths.append(request.url.path)
            )
            yield client


def recording(resources: dict[str, Any]) -> dict[str, Any]:
    """``resources`` with the connector swapped for a ``RecordingConnector`` (paths cleared)."""
    connector = resources["connector"]
    RecordingConnector.paths.clear()
    return {
        **resources,
        "connector": RecordingConnector(
            mapping_path=connector.mapping_path, audit_url=connector.audit_url
        ),
    }


@pytest.fixture
def admin(fresh_sandbox: Sandbox) -> Iterator[Admin]:
    helper = Admin(fresh_sandbox)
    yield helper
    helper.http.close()
