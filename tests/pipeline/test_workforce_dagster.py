"""Workforce alignment through Dagster: plan and sync assets, the headcount check, both sensors."""

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import httpx
import pytest
from pipeline_support import resources, table_rows

from ml_connector_dagster import clock
from ml_connector_dagster.audit.store import AuditStore
from ml_connector_dagster.connections import Connection
from ml_connector_dagster.defs.workforce.assets import PLAN_KEY, workforce_plan, workforce_sync
from ml_connector_dagster.defs.workforce.sensors import (
    workforce_poll_sensor,
    workforce_webhook_sensor,
)
from ml_connector_sandbox.mapping import write_sandbox_mapping
from ml_connector_sandbox.server import Sandbox

NOW = dt.datetime(2026, 11, 20, 18, tzinfo=dt.UTC)  # the sandbox company's as-of instant


@pytest.fixture
def env(fresh_sandbox: Sandbox, sandbox_env, tmp_path: Path, monkeypatch) -> Iterator[dict]:
    """The sandbox's resources, with the connector's clock pinned to the company's as-of day."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    mapping = write_sandbox_mapping(fresh_sandbox.company, tmp_path / "mapping.yaml")
    with clock.pinned(NOW):
        yield {"sandbox": fresh_sandbox, "tmp": tmp_path, "resources": resources(tmp_path, mapping)}


def _hire(sandbox: Sandbox, **body) -> dict:
    with httpx.Client(verify=sandbox.client_ssl_context()) as admin:
        answer = admin.post(sandbox.urls["rippling"] + "/_sandbox/workers", json=body)
        assert answer.status_code < 300, answer.text
        return answer.json()["worker"]


def _sync(instance, env, worker_ids=None, run_config=None, **kwargs) -> dg.ExecuteInProcessResult:
    config = run_config or {
        "ops": {"dynamics__workforce_plan": {"config": {"worker_ids": worker_ids or []}}}
    }
    return dg.materialize(
        [workforce_plan, workforce_sync],
        instance=instance,
        resources=env["resources"],
        run_config=config,
        **kwargs,
    )


def _plan_metadata(result: dg.ExecuteInProcessResult) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == PLAN_KEY]
    return event.materialization.metadata


def test_full_sync_then_nothing_to_write_and_headcount_is_checked(env) -> None:
    with dg.instance_for_test() as instance:
        first = _sync(instance, env)
        assert first.success
        assert _plan_metadata(first)["writes_planned"].value > 0  # hires after the connector start
        second = _sync(instance, env)
        assert second.success
        assert _plan_metadata(second)["writes_planned"].value == 0
        assert "nothing to write" in _plan_metadata(second)["summary"].value
        assert table_rows(_plan_metadata(second)["changes"]) == []
        [check] = second.get_asset_check_evaluations()
        assert check.check_name == "headcount_matches"
        rows = table_rows(check.metadata["headcount"])
        assert rows and all(row["Rippling"] == row["Dynamics"] for row in rows)


def test_duplicated_webhook_gives_one_run_for_that_worker(env) -> None:
    hired = _hire(
        env["sandbox"],
        given_name="Grace",
        family_name="Hopper",
        start_date="2026-11-16",
        employment_type="SALARIED",
        department_reference_code="D110",
    )
    audit = AuditStore(f"sqlite:///{env['tmp'] / 'audit.sqlite'}")
    company_id = env["sandbox"].company["rippling"]["company_id"]
    assert audit.enqueue_webhook(company_id, "employee.hired", hired["id"])
    assert not audit.enqueue_webhook(company_id, "employee.hired", hired["id"])
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources=env["resources"])
        request = workforce_webhook_sensor(context)
        assert isinstance(request, dg.RunRequest)
        worker_ids = request.run_config["ops"]["dynamics__workforce_plan"]["config"]["worker_ids"]
        assert worker_ids == [hired["id"]]
        again = workforce_webhook_sensor(context)  # before the run: the same key, so no 2nd run
        assert isinstance(again, dg.RunRequest) and again.run_key == request.run_key
        assert _sync(instance, env, run_config=request.run_config).success
        assert isinstance(workforce_webhook_sensor(context), dg.SkipReason)  # inbox drained
    with Connection.from_environment().dynamics() as client:
        worker = client.get_entity("Workers", {"PersonnelNumber": f"RP-{hired['number']}"})
    assert worker is not None and worker["LastName"] == "Hopper"


def test_a_failed_sync_leaves_its_webhook_events_pending(env) -> None:
    hired = _hire(env["sandbox"], given_name="Alan", family_name="Turing", start_date="2026-11-16")
    audit = AuditStore(f"sqlite:///{env['tmp'] / 'audit.sqlite'}")
    audit.enqueue_webhook(
        env["sandbox"].company["rippling"]["company_id"], "employee.hired", hired["id"]
    )
    # the 1st /data/Workers request reads the current state, the 2nd creates the worker
    faults = {"dynamics": [{"kind": "server_error", "nth": 2, "path_prefix": "/data/Workers"}]}
    with httpx.Client(verify=env["sandbox"].client_ssl_context()) as admin:
        admin.put(env["sandbox"].urls["dynamics"] + "/_sandbox/faults", json=faults)
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources=env["resources"])
        request = workforce_webhook_sensor(context)
        assert not _sync(instance, env, run_config=request.run_config, raise_on_error=False).success
        assert len(audit.pending_webhooks()) == 1  # still waiting for a clean sync
        with httpx.Client(verify=env["sandbox"].client_ssl_context()) as admin:
            admin.delete(env["sandbox"].urls["dynamics"] + "/_sandbox/faults")
        assert _sync(instance, env, run_config=request.run_config).success
        assert audit.pending_webhooks() == []


def test_polling_picks_up_a_change_made_in_rippling(env) -> None:
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources=env["resources"])
        first = workforce_poll_sensor(context)
        assert isinstance(first, dg.RunRequest)  # the first poll syncs everyone
        assert first.run_config["ops"]["dynamics__workforce_plan"]["config"]["worker_ids"] == []
        state = json.loads(context.cursor)
        assert dt.datetime.fromisoformat(state["next_at"]) > NOW  # cadence set

        hired = _hire(env["sandbox"], given_name="Ada", family_name="Poll", start_date="2026-11-16")
        state["next_at"] = "2000-01-01T00:00:00+00:00"  # the cadence says: poll now
        context = dg.build_sensor_context(
            instance=instance, resources=env["resources"], cursor=json.dumps(state)
        )
        second = workforce_poll_sensor(context)
        assert isinstance(second, dg.RunRequest)
        ids = second.run_config["ops"]["dynamics__workforce_plan"]["config"]["worker_ids"]
        assert hired["id"] in ids
        assert _sync(instance, env, ids).success
    with Connection.from_environment().dynamics() as client:
        assert client.get_entity("Workers", {"PersonnelNumber": f"RP-{hired['number']}"})


def test_poll_sensor_waits_for_its_cadence(env) -> None:
    with dg.instance_for_test() as instance:
        cursor = json.dumps({"next_at": "2999-01-01T00:00:00+00:00"})
        context = dg.build_sensor_context(
            instance=instance, resources=env["resources"], cursor=cursor
        )
        assert isinstance(workforce_poll_sensor(context), dg.SkipReason)
