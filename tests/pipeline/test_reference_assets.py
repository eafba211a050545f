"""Reference data assets: incremental workers with redactions, the mapping against both sides."""

from pathlib import Path

import dagster as dg
import httpx
import pytest
from pipeline_support import resources, table_rows

from ml_connector_dagster.defs.reference.assets import REFERENCE_ASSETS, workers
from ml_connector_sandbox.mapping import write_sandbox_mapping
from ml_connector_sandbox.server import Sandbox


@pytest.fixture
def env(fresh_sandbox: Sandbox, sandbox_env, tmp_path: Path, monkeypatch) -> dict:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    mapping = write_sandbox_mapping(fresh_sandbox.company, tmp_path / "mapping.yaml")
    return {"sandbox": fresh_sandbox, "resources": resources(tmp_path, mapping)}


def _metadata(result: dg.ExecuteInProcessResult, key: str) -> dict:
    [event] = [
        e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key
    ]
    return event.materialization.metadata


def test_workers_read_in_full_then_incrementally(env, monkeypatch) -> None:
    sandbox = env["sandbox"]
    with dg.instance_for_test() as instance:
        first = dg.materialize([workers], instance=instance, resources=env["resources"])
        meta = _metadata(first, "rippling/workers")
        assert meta["read"].value == "full"
        assert meta["count"].value == len(sandbox.company["rippling"]["workers"])
        target = sandbox.company["rippling"]["workers"][0]["id"]
        with httpx.Client(verify=sandbox.client_ssl_context()) as admin:
            admin.patch(
                f"{sandbox.urls['rippling']}/_sandbox/workers/{target}", json={"title": "CFO"}
            )
        second = dg.materialize([workers], instance=instance, resources=env["resources"])
        meta = _metadata(second, "rippling/workers")
        assert meta["read"].value == "incremental"
        assert 1 <= meta["changed_since_last_read"].value < meta["count"].value
        value = second.output_for_node("rippling__workers")
        assert next(w for w in value if w["id"] == target)["title"] == "CFO"
        assert len(value) == len(sandbox.company["rippling"]["workers"])


def test_redactions_are_recorded_with_the_limited_token(env, monkeypatch) -> None:
    token = next(
        t["token"]
        for t in env["sandbox"].rippling.credentials()["api_tokens"]
        if t["label"] == "limited"
    )
    monkeypatch.setenv("RIPPLING_API_TOKEN", token)
    with dg.instance_for_test() as instance:
        result = dg.materialize([workers], instance=instance, resources=env["resources"])
    meta = _metadata(result, "rippling/workers")
    assert meta["redacted_workers"].value > 0
    assert all("compensation" in fields for fields in meta["redactions"].value.values())
    value = result.output_for_node("rippling__workers")
    assert all(w.get("compensation") is None for w in value if w.get("redacted"))


def test_dimension_mapping_finds_no_gap_in_the_sandbox_and_reports_a_suspended_value(env) -> None:
    with dg.instance_for_test() as instance:
        result = dg.materialize(REFERENCE_ASSETS, instance=instance, resources=env["resources"])
        meta = _metadata(result, "ledger/dimension_mapping")
        assert meta["format_matches_fo"].value is True
        assert meta["gaps"].value == 0
        sandbox = env["sandbox"]
        with httpx.Client(verify=sandbox.client_ssl_context()) as admin:
            admin.patch(
                sandbox.urls["dynamics"] + "/_sandbox/entities/FinancialDimensionValues",
                json={
                    "key": {
                        "FinancialDimension": "Department",
                        "LegalEntityId": "",
                        "DimensionValue": "D100",
                    },
                    "values": {"IsSuspended": "Yes"},
                },
            )
        again = dg.materialize(REFERENCE_ASSETS, instance=instance, resources=env["resources"])
        meta = _metadata(again, "ledger/dimension_mapping")
        assert meta["gaps"].value >= 1
        assert {"what": "Department", "key": "D100", "finding": "suspended in F&O"} in table_rows(
            meta["details"]
        )
