"""The webhook receiver: authentication, the inbox, duplicates; then the inbox drained by the
real webhook sensor and workforce assets into a sync against the sandbox, read back from
Dynamics."""

import datetime as dt
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import dagster as dg
import pytest
from pydantic import SecretStr

with warnings.catch_warnings():  # Starlette nags about httpx; the test client still works.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from pipeline_support import pipeline_env, planned, sync_workforce

from ml_connector_dagster import clock
from ml_connector_dagster.audit.store import AuditStore
from ml_connector_dagster.defs.resources import ConnectorResource
from ml_connector_dagster.defs.workforce.assets import PLAN_KEY
from ml_connector_dagster.defs.workforce.sensors import workforce_webhook_sensor
from ml_connector_dagster.dynamics.client import DynamicsClient
from ml_connector_dagster.rippling.client import RipplingClient
from ml_connector_dagster.workforce.webhooks import create_webhook_app
from ml_connector_sandbox.server import Sandbox

TOKEN = "s3cret-token-configured-in-rippling"
PATH_SECRET = "Zq7fT1u0nX4bQ9kLm2Pa8RcVd3"
COMPANY = "company_northwind"
URL = "/rippling/webhooks"
NOW = dt.datetime(2026, 11, 20, 18, tzinfo=dt.UTC)  # the sandbox company's as-of instant


def form(event: str = "employee.updated", company: str = COMPANY, object_id: str = "wkr_1"):
    return {
        "event_name": event,
        "company_id": company,
        "id": object_id,
        "company_primary_email": "hr@example.com",
    }


def client(
    store: AuditStore,
    *,
    token: str | None = TOKEN,
    path_secret: str | None = None,
    companies=(COMPANY,),
) -> TestClient:
    app = create_webhook_app(
        store,
        bearer_token=SecretStr(token) if token else None,
        path_secret=path_secret,
        known_company_ids=set(companies),
    )
    return TestClient(app)


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_accepts_an_authenticated_form_post_into_the_inbox(store: AuditStore) -> None:
    with client(store) as http:
        response = http.post(URL, data=form(), headers=bearer())
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": True, "duplicate": False}
    [row] = store.pending_webhooks()
    assert (row["company_id"], row["event_name"], row["object_id"]) == (
        COMPANY,
        "employee.updated",
        "wkr_1",
    )


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        (bearer("wrong"), 401),
        ({"Authorization": f"Basic {TOKEN}"}, 401),
        (bearer(TOKEN + "x"), 401),
    ],
)
def test_forged_token_is_refused_and_nothing_is_stored(
    store: AuditStore, headers: dict, status: int
) -> None:
    with client(store) as http:
        assert http.post(URL, data=form(), headers=headers).status_code == status
    assert store.pending_webhooks() == []


def test_unknown_company_is_refused_and_nothing_is_stored(store: AuditStore) -> None:
    with client(store) as http:
        response = http.post(URL, data=form(company="company_other"), headers=bearer())
    assert response.status_code == 403
    assert store.pending_webhooks() == []


def test_path_secret_authenticates_where_no_token_is_set_up(store: AuditStore) -> None:
    with client(store, token=None, path_secret=PATH_SECRET) as http:
        assert http.post(f"{URL}/{PATH_SECRET}", data=form()).status_code == 200
        assert http.post(f"{URL}/{PATH_SECRET[:-1]}X", data=form()).status_code == 404
        assert http.post(URL, data=form()).status_code in (404, 405)
    assert len(store.pending_webhooks()) == 1


def test_duplicates_collapse_and_bad_requests_are_refused(store: AuditStore) -> None:
    with client(store) as http:
        assert http.post(URL, data=form(), headers=bearer()).json()["duplicate"] is False
        assert http.post(URL, data=form(), headers=bearer()).json()["duplicate"] is True
        assert (
            http.post(URL, data={"event_name": "employee.updated"}, headers=bearer()).status_code
            == 400
        )
        assert http.post(URL, content=b"x" * 20000, headers=bearer()).status_code == 413
        ignored = http.post(URL, data=form(event="payroll.run.paid"), headers=bearer())
        assert ignored.status_code == 200 and ignored.json()["accepted"] is False
        as_json = http.post(URL, json=form(object_id="wkr_2"), headers=bearer())
        assert as_json.status_code == 200
    rows = store.pending_webhooks()
    assert [(r["object_id"], r["deliveries"]) for r in rows] == [("wkr_1", 2), ("wkr_2", 1)]


def test_the_app_refuses_to_start_without_authentication_or_companies(store: AuditStore) -> None:
    with pytest.raises(ValueError, match="authentication"):
        create_webhook_app(store, bearer_token=None, path_secret=None, known_company_ids={"c"})
    with pytest.raises(ValueError, match="company"):
        create_webhook_app(
            store, bearer_token=SecretStr(TOKEN), path_secret=None, known_company_ids=set()
        )
    with pytest.raises(ValueError, match="path secret"):
        create_webhook_app(store, bearer_token=None, path_secret="short", known_company_ids={"c"})


class CountingConnector(ConnectorResource):
    """The connector resource, noting how many requests each Rippling session of a run sent."""

    sessions: ClassVar[list[int]] = []

    @contextmanager
    def rippling(self) -> Iterator[RipplingClient]:
        with super().rippling() as client:
            yield client
            CountingConnector.sessions.append(client.requests_sent)


@pytest.fixture
def wf_env(fresh_sandbox: Sandbox, sandbox_env, tmp_path: Path, monkeypatch) -> dict:
    """Resources for the real sensors and assets; their audit store is the ``store`` fixture's."""
    env = pipeline_env(fresh_sandbox, tmp_path, monkeypatch)
    connector = env["resources"]["connector"]
    counting = CountingConnector(mapping_path=connector.mapping_path, audit_url=connector.audit_url)
    return {**env, "resources": {**env["resources"], "connector": counting}}


def test_duplicated_webhook_results_in_one_sync_and_forged_ones_change_nothing(
    fresh_sandbox: Sandbox, admin, dynamics: DynamicsClient, store: AuditStore, wf_env: dict
) -> None:
    company_id = fresh_sandbox.company["rippling"]["company_id"]
    admin.grant("employee")  # the v1 read that resolves an employee id
    answer = admin.hire_answer(
        given_name="Grace",
        family_name="Hopper",
        start_date="2026-11-16",
        employment_type="SALARIED",
    )
    hired, webhook = answer["worker"], answer["webhook"]
    # What Rippling sends names the employee, which is not the worker's v2 id.
    assert webhook["id"] == answer["employee_id"] != hired["id"]
    number = f"RP-{hired['number']}"
    with client(store, companies=(company_id,)) as http:
        for _ in range(2):  # Rippling repeats deliveries
            assert http.post(URL, data=webhook, headers=bearer()).status_code == 200
        assert (
            http.post(
                URL, data=form("employee.hired", company_id, "wkr_forged"), headers=bearer("forged")
            ).status_code
            == 401
        )
        assert (
            http.post(
                URL, data=form("employee.hired", "evil_co", "wkr_forged"), headers=bearer()
            ).status_code
            == 403
        )
    assert len(store.pending_webhooks()) == 1

    with dg.instance_for_test() as instance, clock.pinned(NOW):
        context = dg.build_sensor_context(instance=instance, resources=wf_env["resources"])
        request = workforce_webhook_sensor(context)
        assert isinstance(request, dg.RunRequest)
        config = request.run_config["ops"]["dynamics__workforce_plan"]["config"]
        assert config["employee_ids"] == [webhook["id"]] and config["worker_ids"] == []
        assert len(config["inbox_ids"]) == 1
        CountingConnector.sessions.clear()
        result = sync_workforce(instance, wf_env["resources"], request)
        assert result.success
        # The run resolved the employee id: not a worker id (404), not a user id (no match),
        # the v1 employee, then the worker with its work email (read expanded, once).
        assert CountingConnector.sessions[0] == 4
        plan = planned(result).plan
        assert [a.kind.value for a in plan.writes] == ["create-worker", "create-employment"]
        [applied] = [
            e for e in result.get_asset_materialization_events() if "workforce_sync" in str(e)
        ]
        metadata = applied.materialization.metadata
        assert (metadata["applied"].value, metadata["failed"].value) == (2, 0)
        assert store.pending_webhooks() == []

        row = dynamics.get_entity("Workers", {"PersonnelNumber": number})
        assert row is not None and row["FirstName"] == "Grace" and row["LastName"] == "Hopper"
        spans = dynamics.list_entities("EmploymentsV2", filter=f"PersonnelNumber eq '{number}'")
        assert [s["EmploymentStartDate"][:10] for s in spans] == ["2026-11-16"]
        assert dynamics.get_entity("Workers", {"PersonnelNumber": "RP-wkr_forged"}) is None
        # Nothing pending: the next tick requests nothing, so nothing is read or written.
        assert isinstance(workforce_webhook_sensor(context), dg.SkipReason)
    actions = [a for a in store.workforce_actions() if a["action"] != "report"]
    assert len(actions) == 2


def test_deleted_worker_is_reported_and_dynamics_is_left_alone(
    fresh_sandbox: Sandbox, store: AuditStore, wf_env: dict
) -> None:
    company_id = fresh_sandbox.company["rippling"]["company_id"]
    store.enqueue_webhook(company_id, "employee.deleted", "wkr_does_not_exist")
    with dg.instance_for_test() as instance, clock.pinned(NOW):
        context = dg.build_sensor_context(instance=instance, resources=wf_env["resources"])
        request = workforce_webhook_sensor(context)
        assert isinstance(request, dg.RunRequest)
        result = sync_workforce(instance, wf_env["resources"], request)
    assert result.success
    plan = planned(result).plan
    assert plan.writes == ()
    [report] = plan.reports
    assert report.rippling_worker_id == "wkr_does_not_exist" and "gone" in report.reason
    assert store.pending_webhooks() == []


def _plan_metadata(result: dg.ExecuteInProcessResult) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == PLAN_KEY]
    return event.materialization.metadata


def test_an_unknown_employee_id_is_reported_once_and_not_retried(
    fresh_sandbox: Sandbox, admin, store: AuditStore, wf_env: dict
) -> None:
    """An id Rippling knows under no name is logged, recorded and answered, among ids that
    resolve: the batch syncs the known employee and the event is not requested again."""
    company_id = fresh_sandbox.company["rippling"]["company_id"]
    admin.grant("employee")
    known = admin.hire_answer(given_name="Known", family_name="Person", start_date="2026-11-16")
    store.enqueue_webhook(company_id, "employee.updated", "0123456789abcdef01234567")
    store.enqueue_webhook(company_id, "employee.updated", known["employee_id"])
    with dg.instance_for_test() as instance, clock.pinned(NOW):
        context = dg.build_sensor_context(instance=instance, resources=wf_env["resources"])
        request = workforce_webhook_sensor(context)
        assert isinstance(request, dg.RunRequest)
        result = sync_workforce(instance, wf_env["resources"], request)
        assert result.success
        plan = planned(result).plan
        assert [a.personnel_number for a in plan.writes] == [f"RP-{known['worker']['number']}"] * 2
        [report] = plan.reports
        assert report.rippling_worker_id == "0123456789abcdef01234567"
        [unresolved] = _plan_metadata(result)["unresolved_employee_ids"].value
        assert unresolved.startswith("0123456789abcdef01234567: ")
        assert "knows no worker, user or employee" in unresolved
        assert store.pending_webhooks() == []  # answered: not retried
        assert isinstance(workforce_webhook_sensor(context), dg.SkipReason)
        warned = [
            e.user_message
            for e in instance.all_logs(result.run_id)
            if e.level == logging.WARNING and "resolves to no worker" in e.user_message
        ]
    assert len(warned) == 1 and "0123456789abcdef01234567" in warned[0]
    reports = [a for a in store.workforce_actions() if a["action"] == "report"]
    assert [r["rippling_worker_id"] for r in reports] == ["0123456789abcdef01234567"]


def test_without_the_v1_employee_scope_an_employee_id_is_reported_with_why(
    fresh_sandbox: Sandbox, admin, store: AuditStore, wf_env: dict
) -> None:
    """The sandbox's default token lacks v1 ``employee``, as a v2 token may: the employee id
    cannot be resolved, so it is reported naming the scope (the poll and the daily full sync
    still bring the change over); the batch does not fail."""
    company_id = fresh_sandbox.company["rippling"]["company_id"]
    answer = admin.hire_answer(given_name="Scope", family_name="Less", start_date="2026-11-16")
    store.enqueue_webhook(company_id, "employee.created", answer["employee_id"])
    with dg.instance_for_test() as instance, clock.pinned(NOW):
        context = dg.build_sensor_context(instance=instance, resources=wf_env["resources"])
        result = sync_workforce(instance, wf_env["resources"], workforce_webhook_sensor(context))
    assert result.success and planned(result).plan.writes == ()
    [unresolved] = _plan_metadata(result)["unresolved_employee_ids"].value
    assert "needs the scope 'employee'" in unresolved
    assert store.pending_webhooks() == []


def test_employee_rehired_is_accepted_as_a_harmless_trigger(store: AuditStore) -> None:
    """Not in Rippling's published events; should one come, it is one more hint."""
    with client(store) as http:
        response = http.post(URL, data=form(event="employee.rehired"), headers=bearer())
    assert response.json() == {"accepted": True, "duplicate": False}
    assert [r["event_name"] for r in store.pending_webhooks()] == ["employee.rehired"]


def test_secrets_never_reach_the_logs(store: AuditStore, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    with client(store, path_secret=PATH_SECRET) as http:
        http.post(f"{URL}/{PATH_SECRET}", data=form(), headers=bearer())
        http.post(f"{URL}/{PATH_SECRET}", data=form(), headers=bearer("forged"))
        http.post(f"{URL}/{PATH_SECRET}", data=form(company="x"), headers=bearer())
    # The test client's own httpx log shows the URL it called; the server's logs must not.
    server = [r.getMessage() for r in caplog.records if r.name.startswith("ml_connector")]
    assert len(server) == 3
    assert not any(TOKEN in m or PATH_SECRET in m for m in server)


def test_serve_reads_its_settings_from_the_environment_and_refuses_without_auth(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    from click.testing import CliRunner

    from ml_connector_dagster.cli import main
    from ml_connector_dagster.cli.webhooks import webhook_settings
    from ml_connector_dagster.config.settings import ConnectorSettings

    token, secret, companies = webhook_settings(
        ConnectorSettings.from_env(
            {"ML_CONNECTOR_WEBHOOK_TOKEN": TOKEN, "ML_CONNECTOR_RIPPLING_COMPANY_IDS": "a, b,"}
        )
    )
    assert token is not None and token.get_secret_value() == TOKEN and TOKEN not in repr(token)
    assert secret is None and companies == {"a", "b"}

    monkeypatch.setenv("ML_CONNECTOR_AUDIT_URL", f"sqlite:///{tmp_path / 'a.sqlite'}")
    monkeypatch.delenv("ML_CONNECTOR_WEBHOOK_TOKEN", raising=False)
    monkeypatch.delenv("ML_CONNECTOR_WEBHOOK_PATH_SECRET", raising=False)
    monkeypatch.setenv("ML_CONNECTOR_RIPPLING_COMPANY_IDS", "a")
    result = CliRunner().invoke(main, ["webhooks", "serve", "--port", "0"])
    assert result.exit_code != 0 and "authentication" in result.output


@pytest.mark.parametrize(
    "bad_id", ["../payroll-runs", "a/b", "w\x001", "x' or status eq 'ACTIVE", "w 1", "%2e%2e", "é"]
)
def test_an_id_that_is_not_a_rippling_id_is_refused_and_not_stored(
    store: AuditStore, bad_id: str
) -> None:
    with client(store) as http:
        response = http.post(URL, data=form(object_id=bad_id), headers=bearer())
    assert response.status_code == 400
    assert response.json() == {"error": "id is not a Rippling id"}
    assert store.pending_webhooks() == []
