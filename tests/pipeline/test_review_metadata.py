"""What finance reads on a posted partition: names next to codes, links, the audit trail.

Expected names come from the sandbox's seed (F&O MainAccounts, Rippling departments and the
mapping file), not from the connector's code.
"""

from pathlib import Path

import dagster as dg
import pytest
import yaml
from openpyxl import load_workbook
from pipeline_support import materialize, pipeline_env, table_rows

from ml_connector_dagster.defs.payroll.assets import labor_cost_journals, posted_journals
from ml_connector_sandbox.server import Sandbox

COMPANY = "USMF"


@pytest.fixture
def env(fresh_sandbox: Sandbox, sandbox_env, tmp_path: Path, monkeypatch) -> dict:
    monkeypatch.setenv(
        "ML_CONNECTOR_RIPPLING_PAY_RUN_URL", "https://app.example.test/payroll/{run_id}"
    )
    return pipeline_env(fresh_sandbox, tmp_path, monkeypatch)


def _metadata(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    return event.materialization.metadata


def test_a_posted_partition_names_accounts_departments_links_and_its_audit_trail(env) -> None:
    with dg.instance_for_test() as instance:  # the preview lives under its DAGSTER_HOME
        result = materialize(instance, env["resources"], env["period"], COMPANY)
        preview = _metadata(result, labor_cost_journals.key)["journal_preview"]
        assert isinstance(preview, dg.PathMetadataValue)
        lines = list(load_workbook(preview.path)["Lines"].iter_rows(values_only=True))
    assert result.success
    seed = env["sandbox"].company
    account_names = {
        a["MainAccountId"]: a["Name"] for a in seed["dynamics"]["MainAccounts"] if a.get("Name")
    }
    mapping = yaml.safe_load(env["mapping"].read_text())
    rippling_names: dict[str, set[str]] = {}
    for department in seed["rippling"]["departments"]:
        value = mapping["departments"].get(department["reference_code"], {}).get("Department")
        if value:
            rippling_names.setdefault(value, set()).add(department["name"])

    rows = table_rows(_metadata(result, labor_cost_journals.key)["journal_summary"])
    named = [r for r in rows if r["account"] in account_names]
    assert named, rows
    for row in named:
        assert row["account name"] == account_names[row["account"]]
    with_department = [r for r in rows if r["department"] in rippling_names]
    assert with_department, rows
    for row in with_department:
        assert set(row["department name"].split(" / ")) <= rippling_names[row["department"]]

    posted = _metadata(result, posted_journals.key)
    batches = {r["JournalBatchNumber"] for r in table_rows(posted["journals"])}
    assert batches and None not in batches
    for batch in batches:
        link = posted[f"F&O journal {batch}"]
        assert isinstance(link, dg.UrlMetadataValue)
        assert link.url.startswith(env["sandbox"].urls["dynamics"] + "/?cmp=USMF&mi=")
    for run in env["runs"]:
        if run["company_entity_id"] and f"Rippling pay run {run['id']}" in posted:
            assert posted[f"Rippling pay run {run['id']}"].url == (
                f"https://app.example.test/payroll/{run['id']}"
            )
    assert any(key.startswith("Rippling pay run ") for key in posted)

    trail = table_rows(posted["audit_trail"])
    created = [r for r in trail if r["outcome"] == "created"]
    assert {r["JournalBatchNumber"] for r in created} == batches
    assert all(r["Dagster run"] == result.run_id for r in created)
    assert all(r["triggered by"] for r in created)  # who launched the post

    # The journal preview finance opens in Excel, with the same names beside the codes.
    header = lines[0]
    shown = {(row[header.index("account")], row[header.index("account name")]) for row in lines[1:]}
    assert {(a, n) for a, n in shown if a in account_names} <= set(account_names.items())
    assert any(a in account_names for a, _ in shown)


def test_a_blocked_partition_leaves_no_preview_that_looks_current(env) -> None:
    with dg.instance_for_test() as instance:
        first = materialize(instance, env["resources"], env["period"], COMPANY)
        preview = Path(_metadata(first, labor_cost_journals.key)["journal_preview"].path)
        assert preview.exists()
        mapping = yaml.safe_load(env["mapping"].read_text())
        mapping["departments"] = {}
        env["mapping"].write_text(yaml.safe_dump(mapping, sort_keys=False))
        blocked = materialize(instance, env["resources"], env["period"], COMPANY)
        assert not blocked.success
        assert not preview.exists()
