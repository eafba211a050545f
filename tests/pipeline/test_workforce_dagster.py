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


def _hire_answer(sandbox: Sandbox, **body) -> dict:
    """The sandbox's whole answer to a hire: the worker, its ``employee_id`` and the
    ``webhook`` form Rippling would send (naming the employee id)."""
    with httpx.Client(verify=sandbox.client_ssl_context()) as admin:
        answer = admin.post(sandbox.urls["rippling"] + "/_sandbox/workers", json=body)
        assert answer.status_code < 300, answer.text
        return answer.json()


def _hire(sandbox: Sandbox, **body) -> dict:
    return _hire_answer(sandbox, **body)["worker"]


def _grant_employee_scope(sandbox: Sandbox) -> None:
    """The v1 ``employee`` scope on the sandbox's full token: resolving an employee id reads
    the v1 employee (the generated tokens lack v1 scopes, as a v2 token may)."""
    url = sandbox.urls["rippling"] + "/_sandbox/api-tokens/full"
    with httpx.Client(verify=sandbox.client_ssl_context()) as admin:
        scopes = admin.get(url).json()["scopes"] + ["employee"]
        admin.put(url, json={"scopes": scopes}).raise_for_status()


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
    _grant_employee_scope(env["sandbox"])
    answer = _hire_answer(
        env["sandbox"],
        given_name="Grace",
        family_name="Hopper",
        start_date="2026-11-16",
        employment_type="SALARIED",
        department_reference_code="D110",
    )
    hired, employee_id = answer["worker"], answer["employee_id"]
    assert employee_id != hired["id"]  # webhooks name the employee, not the v2 worker
    audit = AuditStore(f"sqlite:///{env['tmp'] / 'audit.sqlite'}")
    company_id = env["sandbox"].company["rippling"]["company_id"]
    assert audit.enqueue_webhook(company_id, "employee.created", employee_id)
    assert not audit.enqueue_webhook(company_id, "employee.created", employee_id)
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources=env["resources"])
        request = workforce_webhook_sensor(context)
        assert isinstance(request, dg.RunRequest)
        config = request.run_config["ops"]["dynamics__workforce_plan"]["config"]
        # The sensor only reads the inbox; the run resolves the employee id to its worker.
        assert config["employee_ids"] == [employee_id] and config["worker_ids"] == []
        again = workforce_webhook_sensor(context)  # before the run: the same key, so no 2nd run
        assert isinstance(again, dg.RunRequest) and again.run_key == request.run_key
        result = _sync(instance, env, run_config=request.run_config)
        assert result.success
        assert _plan_metadata(result)["unresolved_employee_ids"].value == []
        assert isinstance(workforce_webhook_sensor(context), dg.SkipReason)  # inbox drained
    with Connection.from_environment().dynamics() as client:
        worker = client.get_entity("Workers", {"PersonnelNumber": f"RP-{hired['number']}"})
    assert worker is not None and worker["LastName"] == "Hopper"


def test_a_failed_sync_leaves_its_webhook_events_pending(env) -> None:
    _grant_employee_scope(env["sandbox"])
    answer = _hire_answer(
        env["sandbox"], given_name="Alan", family_name="Turing", start_date="2026-11-16"
    )
    audit = AuditStore(f"sqlite:///{env['tmp'] / 'audit.sqlite'}")
    audit.enqueue_webhook(
        env["sandbox"].company["rippling"]["company_id"], "employee.created", answer["employee_id"]
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


def test_poll_sensor_runs_with_webhooks_on_at_the_safety_net_cadence(env, monkeypatch) -> None:
    """Webhooks on: the poll is not switched off but runs every 6 h (the default)."""
    monkeypatch.setenv("ML_CONNECTOR_WEBHOOKS", "true")
    monkeypatch.delenv("ML_CONNECTOR_SAFETY_POLL_SECONDS", raising=False)
    fresh = resources(env["tmp"], env["tmp"] / "mapping.yaml")  # settings read anew
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources=fresh)
        first = workforce_poll_sensor(context)
        assert isinstance(first, dg.RunRequest)
        assert first.tags["ml_connector/trigger"] == "safety-poll"
        state = json.loads(context.cursor)
        assert dt.datetime.fromisoformat(state["next_at"]) == NOW + dt.timedelta(hours=6)


def test_poll_sensor_waits_for_its_cadence(env) -> None:
    with dg.instance_for_test() as instance:
        cursor = json.dumps({"next_at": "2999-01-01T00:00:00+00:00"})
        context = dg.build_sensor_context(
            instance=instance, resources=env["resources"], cursor=cursor
        )
        assert isinstance(workforce_poll_sensor(context), dg.SkipReason)


def test_a_bad_inbox_event_is_dead_lettered_and_the_others_are_synced(env) -> None:
    """Issue 11: an event with ``id=../payroll-runs`` (stored before the receiver checked ids)
    failed every webhook-driven run it rode in. The sensor dead-letters it with the reason and
    requests the run for the rest; a run already requested with it (an older sensor's) dead-
    letters it in the plan and syncs the others all the same."""
    _grant_employee_scope(env["sandbox"])
    answer = _hire_answer(
        env["sandbox"], given_name="Grace", family_name="Hopper", start_date="2026-11-16"
    )
    audit = AuditStore(f"sqlite:///{env['tmp'] / 'audit.sqlite'}")
    company_id = env["sandbox"].company["rippling"]["company_id"]
    audit.enqueue_webhook(company_id, "employee.updated", "../payroll-runs")
    audit.enqueue_webhook(company_id, "employee.created", answer["employee_id"])
    bad, good = audit.pending_webhooks()
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources=env["resources"])
        request = workforce_webhook_sensor(context)
        assert isinstance(request, dg.RunRequest)
        config = request.run_config["ops"]["dynamics__workforce_plan"]["config"]
        assert config["employee_ids"] == [answer["employee_id"]]
        assert config["inbox_ids"] == [good["id"]]
        [dead] = audit.dead_webhooks()
        assert dead["id"] == bad["id"] and dead["dead_letter_reason"] == "not a Rippling id"
        assert _sync(instance, env, run_config=request.run_config).success
        assert audit.pending_webhooks() == []

        # The same through the run: a request that still carries the bad event.
        audit.enqueue_webhook(company_id, "employee.updated", "..")
        audit.enqueue_webhook(company_id, "employee.updated", answer["employee_id"])
        bad, good = audit.pending_webhooks()
        config = {
            "employee_ids": [bad["object_id"], good["object_id"]],
            "inbox_ids": [bad["id"], good["id"]],
        }
        result = _sync(
            instance, env, run_config={"ops": {"dynamics__workforce_plan": {"config": config}}}
        )
        assert result.success
        assert _plan_metadata(result)["dead_lettered_events"].value == [
            f"#{bad['id']}: employee id '..': not a Rippling id"
        ]
        assert audit.pending_webhooks() == []
        assert audit.dead_webhooks()[0]["id"] == bad["id"]
    with Connection.from_environment().dynamics() as client:
        worker = client.get_entity(
            "Workers", {"PersonnelNumber": f"RP-{answer['worker']['number']}"}
        )
    assert worker is not None and worker["LastName"] == "Hopper"


def test_an_event_whose_worker_dynamics_keeps_refusing_is_dead_lettered_after_the_limit(
    env,
) -> None:
    """Issue 11: events of a worker whose write kept failing stayed pending for ever, and every
    webhook run they rode in failed. Refusals are counted per event; at the limit the event is
    dead-lettered with the refusal, while another worker's event in the same runs is synced.
    An outage (a 5xx) is not a refusal and counts nothing."""
    from ml_connector_dagster.audit.store import MAX_REFUSED_SYNCS

    _grant_employee_scope(env["sandbox"])
    refused = _hire_answer(
        env["sandbox"], given_name="Ada", family_name="Refused", start_date="2026-11-16"
    )
    audit = AuditStore(f"sqlite:///{env['tmp'] / 'audit.sqlite'}")
    company_id = env["sandbox"].company["rippling"]["company_id"]
    audit.enqueue_webhook(company_id, "employee.created", refused["employee_id"])
    [event] = audit.pending_webhooks()

    def faults(rules: list[dict]) -> None:
        with httpx.Client(verify=env["sandbox"].client_ssl_context()) as admin:
            admin.put(
                env["sandbox"].urls["dynamics"] + "/_sandbox/faults", json={"dynamics": rules}
            )

    # F&O refuses every create of a Worker: this worker can never be written.
    refuse = {"kind": "refuse", "share": 1.0, "path_prefix": "/data/Workers", "method": "POST"}
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources=env["resources"])
        faults(
            [
                {
                    "kind": "server_error",
                    "share": 1.0,
                    "path_prefix": "/data/Workers",
                    "method": "POST",
                    "status": 503,
                }
            ]
        )
        request = workforce_webhook_sensor(context)
        assert not _sync(instance, env, run_config=request.run_config, raise_on_error=False).success
        assert audit.webhooks([event["id"]])[0]["refused_syncs"] == 0  # an outage counts nothing
        faults([refuse])
        for n in range(1, MAX_REFUSED_SYNCS):
            result = _sync(instance, env, run_config=request.run_config, raise_on_error=False)
            assert not result.success
            [row] = audit.webhooks([event["id"]])
            assert row["refused_syncs"] == n and row["processed_at"] is None  # still pending
        # The last refused sync also carries another worker's event (an employee F&O already
        # has), which is answered: the refusal holds back only its own worker's events.
        other = next(
            w for w in env["sandbox"].company["rippling"]["workers"] if w["status"] == "ACTIVE"
        )
        audit.enqueue_webhook(company_id, "employee.updated", other["id"])
        [_, other_event] = audit.pending_webhooks()
        request = workforce_webhook_sensor(context)
        assert not _sync(instance, env, run_config=request.run_config, raise_on_error=False).success
        assert audit.pending_webhooks() == []
        [answered] = audit.webhooks([other_event["id"]])
        assert answered["processed_at"] is not None and answered["dead_letter_reason"] is None
        [dead] = audit.dead_webhooks()
        assert dead["id"] == event["id"]
        assert (
            f"refused this worker's write in {MAX_REFUSED_SYNCS} syncs"
            in (dead["dead_letter_reason"])
        )
        assert "create-worker" in dead["dead_letter_reason"]
        assert "refused (sandbox fault)" in dead["dead_letter_reason"]
        assert isinstance(workforce_webhook_sensor(context), dg.SkipReason)  # nothing rides on
