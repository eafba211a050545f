"""A tenant whose LedgerJournalHeaders lacks IntegrationKey: the marker in Description is used.

The sandbox serves that tenant strictly: a filter or body naming IntegrationKey gets F&O's 400.
Posting still happens once, a rerun finds the journal by its bracket-free marker, and the
trail says which way journals are found.
"""

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import httpx
import pytest
from conftest import SMALL_COMPANY
from pipeline_support import latest_paid_period, materialize, resources

from ml_connector_dagster.audit.store import AuditStore, Outcome
from ml_connector_dagster.connections import Connection
from ml_connector_dagster.ledger.journal import JournalIdentity, JournalType
from ml_connector_sandbox.mapping import write_sandbox_mapping
from ml_connector_sandbox.server import Sandbox, SandboxConfig, running_sandbox

COMPANY = "USMF"


@pytest.fixture(scope="module")
def older_tenant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    config = SandboxConfig(
        data_dir=tmp_path_factory.mktemp("older-tenant"),
        ports={"rippling": 0, "entra": 0, "dynamics": 0},
        as_of=dt.date(2026, 11, 20),
        dynamics_missing_properties=("LedgerJournalHeaders.IntegrationKey",),
        **SMALL_COMPANY,
    )
    with running_sandbox(config) as running:
        yield running


@pytest.fixture
def env(older_tenant: Sandbox, tmp_path: Path, monkeypatch) -> dict:
    older_tenant.reset()
    for key, value in older_tenant.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    mapping = write_sandbox_mapping(older_tenant.company, tmp_path / "mapping.yaml")
    period, runs = latest_paid_period(older_tenant)
    return {"tmp": tmp_path, "period": period, "runs": runs, "mapping": mapping}


def test_the_tenant_refuses_integration_key_like_f_and_o(env) -> None:
    with Connection.from_environment().dynamics() as client:
        with pytest.raises(Exception, match="IntegrationKey"):
            client.list_entities("LedgerJournalHeaders", filter="IntegrationKey eq 'x'")
        metadata = client.request("GET", client._url("$metadata"), safe_to_retry=True)
    assert isinstance(metadata, httpx.Response) and "IntegrationKey" not in metadata.text


def test_posting_falls_back_to_the_description_marker_and_stays_idempotent(env) -> None:
    res = resources(env["tmp"], env["mapping"])
    with dg.instance_for_test() as instance:
        assert materialize(instance, res, env["period"], COMPANY).success
        assert materialize(instance, res, env["period"], COMPANY).success  # a rerun
    with Connection.from_environment().dynamics() as client:
        headers = client.list_entities("LedgerJournalHeaders")
    markers = {
        JournalIdentity("default", run["id"], COMPANY, JournalType.SETTLEMENT).marker
        for run in env["runs"]
    }
    assert sorted(h["Description"].rsplit(" ", 1)[-1] for h in headers) == sorted(markers)
    trail = AuditStore(f"sqlite:///{env['tmp'] / 'audit.sqlite'}").attempts()
    outcomes = [a["outcome"] for a in trail]
    assert outcomes == [Outcome.CREATED] * len(markers) + [Outcome.SKIPPED_DUPLICATE] * len(markers)
    assert all("no IntegrationKey" in a["dynamics_answer"] for a in trail)
