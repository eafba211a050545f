"""The code location: one package per flow, merged once; its settings come from the environment.

The settings are read when the definitions load, so each case loads them in a fresh process.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from ml_connector_dagster.definitions import defs
from ml_connector_dagster.defs.month_end import definitions as month_end
from ml_connector_dagster.defs.payroll import definitions as payroll
from ml_connector_dagster.defs.reference import definitions as reference
from ml_connector_dagster.defs.workforce import definitions as workforce

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import json
from ml_connector_dagster.definitions import defs
from ml_connector_dagster.defs.payroll.partitions import pay_periods
from ml_connector_dagster.defs.pools import DYNAMICS_POOL
sensors = {s.name: [s.default_status.value, s.minimum_interval_seconds]
           for s in defs.sensors}
schedules = {s.name: [s.default_status.value, s.cron_schedule]
             for s in defs.schedules}
zones = {s.name: s.execution_timezone for s in defs.schedules}
print(json.dumps({"sensors": sensors, "schedules": schedules, "zones": zones,
                  "partitions": pay_periods.name, "pool": DYNAMICS_POOL}))
"""


def _load(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ML_CONNECTOR_")}
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", PROBE],
        cwd=REPO,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _keys(asset: dg.AssetsDefinition | dg.SourceAsset) -> set[dg.AssetKey]:
    return {asset.key} if isinstance(asset, dg.SourceAsset) else set(asset.keys)


def test_each_flow_brings_its_own_definitions_and_the_merge_holds_them_all() -> None:
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    # resources are shared: only the merge has them
    for flow in (payroll, reference, workforce, month_end):
        keys = {key for asset in flow.defs.assets for key in _keys(asset)}
        assert keys and keys <= graph.get_all_asset_keys()
    groups = {graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert groups == {"payroll", "reference", "workforce", "month_end"}
    assert {j.name for j in defs.resolve_all_job_defs()} >= {
        "payroll_to_ledger",
        "correct_ledger",
        "refresh_reference_data",
        "workforce_sync",
        "month_end_reconciliation",
    }


def test_automation_is_off_by_default_with_the_default_schedules() -> None:
    loaded = _load()
    assert loaded["sensors"] == {
        "pay_run_sensor": ["STOPPED", 60],
        "workforce_webhook_sensor": ["STOPPED", 60],
        "workforce_poll_sensor": ["STOPPED", 300],
        "alert_on_run_failure": ["STOPPED", 30],
        "deliver_alerts": ["STOPPED", 30],
    }
    assert loaded["schedules"] == {
        "refresh_reference_data_schedule": ["STOPPED", "0 5 * * *"],
        "workforce_sync_schedule": ["STOPPED", "30 5 * * *"],
        "observe_payroll_mapping_schedule": ["STOPPED", "0 * * * *"],
        "observe_posted_journals_schedule": ["STOPPED", "0 7 * * *"],
    }
    assert (loaded["partitions"], loaded["pool"]) == ("default__pay_period", "dynamics__default")
    assert set(loaded["zones"].values()) == {"UTC"}


def test_the_environment_switches_automation_on_and_names_the_connection() -> None:
    loaded = _load(
        ML_CONNECTOR_AUTOMATION_ON="true",
        ML_CONNECTOR_WEBHOOKS="on",
        ML_CONNECTOR_SENSOR_INTERVAL="17",
        ML_CONNECTOR_REFERENCE_CRON="0 6 * * *",
        ML_CONNECTOR_CONNECTION="acme",
        ML_CONNECTOR_SCHEDULE_TIMEZONE="America/Chicago",
        ML_CONNECTOR_MAPPING_CRON="*/15 * * * *",
        ML_CONNECTOR_FO_OBSERVATION_CRON="30 8 * * 1-5",
    )
    assert loaded["sensors"] == {
        "pay_run_sensor": ["RUNNING", 17],
        "workforce_webhook_sensor": ["RUNNING", 60],
        "workforce_poll_sensor": ["RUNNING", 300],  # the safety-net poll stays on
        "alert_on_run_failure": ["RUNNING", 30],
        "deliver_alerts": ["RUNNING", 30],
    }
    assert loaded["schedules"]["refresh_reference_data_schedule"] == ["RUNNING", "0 6 * * *"]
    assert (loaded["partitions"], loaded["pool"]) == ("acme__pay_period", "dynamics__acme")
    assert loaded["schedules"]["observe_payroll_mapping_schedule"] == ["RUNNING", "*/15 * * * *"]
    assert loaded["schedules"]["observe_posted_journals_schedule"] == ["RUNNING", "30 8 * * 1-5"]
    # every schedule fires at finance's wall-clock time
    assert loaded["zones"] == {
        "refresh_reference_data_schedule": "America/Chicago",
        "workforce_sync_schedule": "America/Chicago",
        "observe_payroll_mapping_schedule": "America/Chicago",
        "observe_posted_journals_schedule": "America/Chicago",
    }


def test_the_journals_are_downstream_of_the_mapping_and_the_reference_data() -> None:
    graph = defs.resolve_asset_graph()
    journals = graph.get(dg.AssetKey(["ledger", "labor_cost_journals"]))
    lineage = {
        dg.AssetKey(["finance", "payroll_mapping"]),
        dg.AssetKey(["rippling", "departments"]),
        dg.AssetKey(["rippling", "legal_entities"]),
        dg.AssetKey(["dynamics", "ledger_dimensions"]),
    }
    assert lineage <= set(journals.parent_keys)
    # real assets of this code location, not names nothing produces
    assert all(graph.has(key) and not graph.get(key).is_virtual for key in lineage)
    assert graph.get(dg.AssetKey(["finance", "payroll_mapping"])).is_observable


def test_unchanged_in_fo_is_on_the_posted_journals_but_not_in_the_payroll_run() -> None:
    check = dg.AssetCheckKey(dg.AssetKey(["dynamics", "posted_journals"]), "unchanged_in_fo")
    assert check in defs.resolve_asset_graph().asset_check_keys
    payroll_job = defs.resolve_job_def("payroll_to_ledger")
    assert check not in payroll_job.asset_layer.asset_graph.asset_check_keys
    assert "source_sane" in {k.name for k in payroll_job.asset_layer.asset_graph.asset_check_keys}


def test_dg_check_defs_passes_from_the_repository_root() -> None:
    """What CI runs (``make lint``): ``[tool.dg]`` in pyproject.toml points at definitions.py."""
    dg_cli = Path(sys.executable).parent / "dg"
    done = subprocess.run(
        [str(dg_cli), "check", "defs"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All definitions loaded successfully" in done.stdout + done.stderr
