"""The workforce sync end to end against the sandbox, every outcome read back from Dynamics.

Most tests drive the sync itself (``workforce/sync.py``); the polling test drives the real poll
sensor and the workforce assets in Dagster.
"""

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from click.testing import CliRunner
from pipeline_support import admin as sandbox_admin
from pipeline_support import pipeline_env, planned, sync_workforce
from workforce.conftest import V1_SCOPES, RecordingConnector, recording

from ml_connector_dagster import clock
from ml_connector_dagster.audit.store import AuditStore
from ml_connector_dagster.cli import main
from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.config.workforce import WorkforceSettings
from ml_connector_dagster.defs.workforce.sensors import workforce_poll_sensor
from ml_connector_dagster.dynamics.client import DynamicsClient
from ml_connector_dagster.dynamics.odata import eq
from ml_connector_dagster.rippling.client import RipplingClient
from ml_connector_dagster.rippling.models import Worker
from ml_connector_dagster.workforce.cadence import NO_CALENDAR_INTERVAL
from ml_connector_dagster.workforce.sync import SyncOutcome, read_headcount, sync_workers
from ml_connector_dagster.workforce.triggers import PollCursor
from ml_connector_sandbox.rippling.employees import employee_id_for
from ml_connector_sandbox.server import Sandbox

TODAY = dt.date(2026, 11, 20)
NOW = dt.datetime(2026, 11, 20, 18, tzinfo=dt.UTC)  # the sandbox company's as-of instant
OPEN = "2154-12-31T23:59:59Z"
SETTINGS = WorkforceSettings()


class Env:
    def __init__(
        self,
        rippling: RipplingClient,
        dynamics: DynamicsClient,
        store: AuditStore,
        mapping: PayrollMapping,
    ) -> None:
        self.rippling, self.dynamics, self.store, self.mapping = rippling, dynamics, store, mapping

    def sync(
        self, *worker_ids: str, workers: list[Worker] | None = None, full: bool = False
    ) -> SyncOutcome:
        if workers is None:
            workers = (
                [self.rippling.worker(i) for i in worker_ids]
                if worker_ids
                else list(self.rippling.workers())
            )
        outcome = sync_workers(
            workers,
            dynamics=self.dynamics,
            store=self.store,
            mapping=self.mapping,
            settings=SETTINGS,
            today=TODAY,
            full=full,
        )
        assert outcome.result is not None and outcome.result.ok, outcome.result
        return outcome

    def worker_row(self, number: str) -> dict[str, Any] | None:
        return self.dynamics.get_entity("Workers", {"PersonnelNumber": number})

    def spans(self, number: str) -> list[tuple[str, str, str]]:
        rows = self.dynamics.list_entities("EmploymentsV2", filter=eq("PersonnelNumber", number))
        return sorted(
            (r["LegalEntityId"], r["EmploymentStartDate"], r["EmploymentEndDate"]) for r in rows
        )

    def vendor(self, company: str, account: str) -> dict[str, Any] | None:
        return self.dynamics.get_entity(
            "VendorsV2", {"dataAreaId": company.lower(), "VendorAccountNumber": account}
        )

    def writes(self) -> int:
        return sum(1 for a in self.store.workforce_actions() if a["action"] != "report")


@pytest.fixture
def env(rippling, dynamics, store, wf_mapping) -> Env:
    return Env(rippling, dynamics, store, wf_mapping)


def _company_of(sandbox: Sandbox, worker: dict[str, Any]) -> str:
    name = next(
        le["legal_name"]
        for le in sandbox.company["rippling"]["legal_entities"]
        if le["id"] == worker["legal_entity_id"]
    )
    return next(
        r["LegalEntityId"]
        for r in sandbox.company["dynamics"]["LegalEntities"]
        if r["Name"] == name
    ).upper()


def _seeded_active_employee(sandbox: Sandbox, skip: int = 0) -> dict[str, Any]:
    seeded = {
        w["PersonnelNumber"]
        for w in sandbox.company["dynamics"]["Workers"]
        if w["WorkerType"] == "Employee"
    }
    candidates = [
        w
        for w in sandbox.company["rippling"]["workers"]
        if w["status"] == "ACTIVE"
        and f"RP-{w['number']}" in seeded
        and w["start_date"] < "2026-01-01"
    ]
    return candidates[skip]


def test_hire_then_termination_and_a_second_sync_writes_nothing(
    fresh_sandbox: Sandbox, admin, env: Env
) -> None:
    hired = admin.hire(
        given_name="Grace",
        family_name="Hopper",
        start_date="2026-11-16",
        employment_type="SALARIED",
        department_reference_code="D120",
        work_email="grace.hopper@northwind-advisory.com",
    )
    number = f"RP-{hired['number']}"
    company = _company_of(fresh_sandbox, hired)
    assert env.worker_row(number) is None

    env.sync(hired["id"])
    row = env.worker_row(number)
    assert row is not None
    assert (row["FirstName"], row["LastName"], row["PrimaryContactEmail"]) == (
        "Grace",
        "Hopper",
        "grace.hopper@northwind-advisory.com",
    )
    assert row["WorkerType"] == "Employee"
    assert env.spans(number) == [(company, "2026-11-16T00:00:00Z", OPEN)]
    assert env.store.personnel_number(hired["id"]) == number

    writes = env.writes()
    again = env.sync(hired["id"])
    assert again.plan.actions == () and env.writes() == writes

    admin.terminate(hired["id"], end_date="2026-11-19")
    ended = env.sync(hired["id"])
    assert [a.kind.value for a in ended.plan.writes] == ["end-employment"]
    # The end of the last day, as F&O's UI stores it (not midnight: the day before, west of UTC).
    assert env.spans(number) == [(company, "2026-11-16T00:00:00Z", "2026-11-19T23:59:59Z")]
    assert env.worker_row(number) is not None  # never deleted
    assert env.sync(hired["id"]).plan.actions == ()


def test_full_sync_brings_the_seeded_changes_over_then_plans_nothing(
    fresh_sandbox: Sandbox, env: Env
) -> None:
    closed = {
        e["PersonnelNumber"]
        for e in fresh_sandbox.company["dynamics"]["EmploymentsV2"]
        if e["EmploymentEndDate"] != OPEN
    }
    rehired = next(
        w
        for w in fresh_sandbox.company["rippling"]["workers"]
        if w["status"] == "ACTIVE" and f"RP-{w['number']}" in closed
    )
    number = f"RP-{rehired['number']}"
    before = env.spans(number)
    assert len(before) == 1 and before[0][2] != OPEN

    def headcount():
        return read_headcount(
            rippling=env.rippling,
            dynamics=env.dynamics,
            store=env.store,
            mapping=env.mapping,
            settings=SETTINGS,
            as_of=TODAY,
        )

    differing = [row for row in headcount() if not row.matches]
    assert any(number in row.only_in_rippling for row in differing)  # the rehire, not synced

    first = env.sync(full=True)
    kinds = {a.kind.value for a in first.plan.writes}
    assert {"new-employment", "end-employment"} <= kinds
    # The one new hire is already in F&O under HR's numbering (same e-mail): linked, not
    # created again under the connector's number.
    legacy = next(
        w for w in fresh_sandbox.company["dynamics"]["Workers"] if w["PersonnelNumber"].isdigit()
    )
    person = next(
        w
        for w in fresh_sandbox.company["rippling"]["workers"]
        if w["work_email"] == legacy["PrimaryContactEmail"]
    )
    assert "create-worker" not in kinds
    assert env.worker_row(f"RP-{person['number']}") is None
    assert env.store.personnel_number(person["id"]) == legacy["PersonnelNumber"]
    assert any(
        a.rippling_worker_id == person["id"] and "by e-mail" in a.reason for a in first.plan.reports
    )
    after = env.spans(number)
    assert after == [*before, (before[0][0], f"{rehired['start_date']}T00:00:00Z", OPEN)]

    writes = env.writes()
    second = env.sync(full=True)
    assert second.plan.is_empty and env.writes() == writes
    rows = headcount()
    assert [r.company for r in rows] == list(env.mapping.companies)
    assert all(r.matches and r.rippling == r.dynamics > 0 for r in rows), rows


def test_rehire_gets_a_new_employment_unless_dynamics_forbids_it(
    fresh_sandbox: Sandbox, admin, env: Env
) -> None:
    allowed = _seeded_active_employee(fresh_sandbox, 0)
    refused = _seeded_active_employee(fresh_sandbox, 1)
    env.dynamics.patch(
        "Workers", {"PersonnelNumber": f"RP-{refused['number']}"}, {"AllowRehire": "No"}
    )
    for w in (allowed, refused):
        admin.terminate(w["id"], end_date="2026-11-06")
    env.sync(allowed["id"], refused["id"])
    for w in (allowed, refused):
        admin.rehire(w["id"], start_date="2026-11-16")
    outcome = env.sync(allowed["id"], refused["id"])

    ok_number, no_number = f"RP-{allowed['number']}", f"RP-{refused['number']}"
    ok_spans, no_spans = env.spans(ok_number), env.spans(no_number)
    assert len(ok_spans) == 2 and ok_spans[-1][1:] == ("2026-11-16T00:00:00Z", OPEN)
    assert ok_spans[0][2] == "2026-11-06T23:59:59Z"
    assert len(no_spans) == 1 and no_spans[0][2] == "2026-11-06T23:59:59Z"
    [report] = [a for a in outcome.plan.reports if a.personnel_number == no_number]
    assert "AllowRehire is No" in report.reason
    trail = env.store.workforce_actions(refused["id"])
    assert trail[-1]["action"] == "report" and trail[-1]["outcome"] == "reported"
    # Reported once, not on every sync.
    env.sync(allowed["id"], refused["id"])
    assert len(env.store.workforce_actions(refused["id"])) == len(trail)


def test_contractor_start_end_and_return_drive_the_vendor(
    fresh_sandbox: Sandbox, admin, env: Env
) -> None:
    hired = admin.hire(
        given_name="Linus",
        family_name="Freelance",
        start_date="2026-11-09",
        employment_type="CONTRACTOR",
        hourly_rate="95.00",
    )
    number = f"RP-{hired['number']}"
    company = _company_of(fresh_sandbox, hired)

    env.sync(hired["id"])
    assert env.worker_row(number)["WorkerType"] == "Contractor"
    vendor = env.vendor(company, number)
    assert vendor is not None
    assert (vendor["VendorGroupId"], vendor["OnHoldStatus"]) == ("CONTRACT", "No")
    assert (vendor["PersonFirstName"], vendor["PersonLastName"]) == ("Linus", "Freelance")

    admin.terminate(hired["id"], end_date="2026-11-13")
    env.sync(hired["id"])
    assert env.vendor(company, number)["OnHoldStatus"] == "All"
    assert env.spans(number) == [(company, "2026-11-09T00:00:00Z", "2026-11-13T23:59:59Z")]

    admin.rehire(hired["id"], start_date="2026-11-18")
    env.sync(hired["id"])
    assert env.vendor(company, number)["OnHoldStatus"] == "No"
    assert env.spans(number)[-1] == (company, "2026-11-18T00:00:00Z", OPEN)
    assert env.sync(hired["id"]).plan.actions == ()


def test_redacted_fields_are_left_as_they_are_in_dynamics(
    fresh_sandbox: Sandbox, admin, env: Env
) -> None:
    seeded = _seeded_active_employee(fresh_sandbox, 2)
    number = f"RP-{seeded['number']}"
    original = env.worker_row(number)
    emp_before = env.dynamics.list_entities("EmploymentsV2", filter=eq("PersonnelNumber", number))
    admin.update(
        seeded["id"],
        family_name="Renamed",
        work_email="renamed@example.com",
        department_reference_code="D110",
    )
    fresh = env.rippling.worker(seeded["id"])
    withheld = ("user", "work_email", "department", "department_id")
    redacted = Worker.model_validate(
        {**fresh.model_dump(exclude=set(withheld)), "redacted": withheld}
    )

    outcome = env.sync(workers=[redacted])
    assert outcome.plan.writes == ()
    row = env.worker_row(number)
    for field in ("FirstName", "LastName", "Name", "PrimaryContactEmail"):
        assert row[field] == original[field] and row[field]
    emp_after = env.dynamics.list_entities("EmploymentsV2", filter=eq("PersonnelNumber", number))
    assert [e.get("DimensionDisplayValue") for e in emp_after] == [
        e.get("DimensionDisplayValue") for e in emp_before
    ]

    # Readable again: the changes flow through as updates.
    env.sync(seeded["id"])
    row = env.worker_row(number)
    assert (row["LastName"], row["PrimaryContactEmail"]) == ("Renamed", "renamed@example.com")
    emp = env.dynamics.list_entities("EmploymentsV2", filter=eq("PersonnelNumber", number))
    assert (
        next(e for e in emp if e["EmploymentEndDate"] == OPEN)["DimensionDisplayValue"].startswith(
            "D110-"
        )  # the default format starts with Department
    )


def _poll(
    instance: dg.DagsterInstance,
    res: dict,
    cursor: str | None,
    log: logging.Handler | None = None,
):
    """One tick of the real poll sensor at the instant its cadence asked for (the clock is
    pinned there, so the test does not wait): its answer and its new cursor. ``log`` receives
    what the sensor logs."""
    due = json.loads(cursor)["next_at"] if cursor else None
    moment = dt.datetime.fromisoformat(due) if due else NOW
    with clock.pinned(moment):
        context = dg.build_sensor_context(instance=instance, resources=res, cursor=cursor)
        if log is not None:
            context.log.addHandler(log)
        return workforce_poll_sensor(context), context.cursor


def test_polling_without_webhooks_picks_up_a_change(
    fresh_sandbox: Sandbox, admin, env: Env, sandbox_env, tmp_path: Path, monkeypatch
) -> None:
    res = recording(pipeline_env(fresh_sandbox, tmp_path, monkeypatch)["resources"])
    with dg.instance_for_test() as instance:
        first, cursor = _poll(instance, res, None)
        assert isinstance(first, dg.RunRequest)  # the first poll syncs everyone
        assert first.run_config["ops"]["dynamics__workforce_plan"]["config"]["worker_ids"] == []
        assert first.tags["ml_connector/trigger"] == "poll"
        with clock.pinned(NOW):
            assert sync_workforce(instance, res, first).success
        state = json.loads(cursor)
        polled = PollCursor.from_json(state["poll"])
        # company_activity is off by default: not even asked.
        assert polled.updated_watermark is not None and polled.activity_cursor is None
        assert not any("company_activity" in p for p in RecordingConnector.paths)
        assert "/payroll-runs/" in RecordingConnector.paths  # the calendar paces it
        assert dt.datetime.fromisoformat(state["next_at"]) > NOW  # the cadence is set

        seeded = _seeded_active_employee(fresh_sandbox, 3)
        admin.update(seeded["id"], family_name="Polled")
        writes = env.writes()
        second, cursor = _poll(instance, res, cursor)
        assert isinstance(second, dg.RunRequest)
        ids = second.run_config["ops"]["dynamics__workforce_plan"]["config"]["worker_ids"]
        assert seeded["id"] in ids and len(ids) < 5  # what changed (plus the overlap window)
        with clock.pinned(NOW):
            result = sync_workforce(instance, res, second)
        assert result.success
        assert [(a.kind.value, a.personnel_number) for a in planned(result).plan.writes] == [
            ("update-worker", f"RP-{seeded['number']}")
        ]
        assert env.worker_row(f"RP-{seeded['number']}")["LastName"] == "Polled"
        assert env.writes() == writes + 1

        third, _ = _poll(instance, res, cursor)
        # The overlap window names the changed worker once more; the sync finds nothing to do.
        assert isinstance(third, dg.RunRequest)
        ids = third.run_config["ops"]["dynamics__workforce_plan"]["config"]["worker_ids"]
        assert ids == [seeded["id"]]
        with clock.pinned(NOW):
            again = sync_workforce(instance, res, third)
        assert again.success and planned(again).plan.is_empty
        assert env.writes() == writes + 1


def test_polling_works_without_payroll_access_on_a_fixed_interval(
    fresh_sandbox: Sandbox,
    admin,
    env: Env,
    sandbox_env,
    tmp_path: Path,
    monkeypatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A company without Global_Payroll: the payroll calendar is unreadable, so the poll sensor
    waits NO_CALENDAR_INTERVAL, says why once, and the workforce sync still runs."""
    admin.call("PUT", "/entitlements", {"entitlements": ["API_Tier_1", "API_Tier_2"]})
    res = pipeline_env(fresh_sandbox, tmp_path, monkeypatch)["resources"]
    with dg.instance_for_test() as instance:
        first, cursor = _poll(instance, res, None, caplog.handler)
        assert isinstance(first, dg.RunRequest)
        state = json.loads(cursor)
        assert state["calendar_unreadable"] is True
        assert dt.datetime.fromisoformat(state["next_at"]) == NOW + NO_CALENDAR_INTERVAL
        with clock.pinned(NOW):
            assert sync_workforce(instance, res, first).success  # no payroll endpoint needed
        warnings = [r.getMessage() for r in caplog.records if "payroll calendar" in r.getMessage()]
        assert len(warnings) == 1 and "Global_Payroll" in warnings[0]

        seeded = _seeded_active_employee(fresh_sandbox, 4)
        admin.update(seeded["id"], family_name="Unpayrolled")
        second, cursor = _poll(instance, res, cursor, caplog.handler)
        assert isinstance(second, dg.RunRequest)
        assert (
            seeded["id"]
            in second.run_config["ops"]["dynamics__workforce_plan"]["config"]["worker_ids"]
        )
        with clock.pinned(NOW):
            assert sync_workforce(instance, res, second).success
        assert env.worker_row(f"RP-{seeded['number']}")["LastName"] == "Unpayrolled"
        due = NOW + 2 * NO_CALENDAR_INTERVAL
        assert dt.datetime.fromisoformat(json.loads(cursor)["next_at"]) == due
        warnings = [r.getMessage() for r in caplog.records if "payroll calendar" in r.getMessage()]
        assert len(warnings) == 1  # said once, not on every poll

        # Payroll access granted: the cadence follows the calendar again.
        admin.call(
            "PUT", "/entitlements", {"entitlements": ["API_Tier_1", "API_Tier_2", "Global_Payroll"]}
        )
        _, cursor = _poll(instance, res, cursor, caplog.handler)
        assert "calendar_unreadable" not in json.loads(cursor)


def _ids(request: dg.RunRequest) -> list[str]:
    return request.run_config["ops"]["dynamics__workforce_plan"]["config"]["worker_ids"]


def test_company_activity_on_but_refused_leaves_the_poll_standing_and_warns_once(
    fresh_sandbox: Sandbox,
    admin,
    env: Env,
    sandbox_env,
    tmp_path: Path,
    monkeypatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The sandbox's token lacks the v1 scope ``company`` (403): updated_at still finds the
    change, the refusal is said once and remembered in the cursor, never a failed tick."""
    monkeypatch.setenv("ML_CONNECTOR_COMPANY_ACTIVITY", "true")
    res = recording(pipeline_env(fresh_sandbox, tmp_path, monkeypatch)["resources"])
    with dg.instance_for_test() as instance:
        first, cursor = _poll(instance, res, None, caplog.handler)
        assert isinstance(first, dg.RunRequest)
        assert any(p.endswith("/company_activity") for p in RecordingConnector.paths)
        polled = PollCursor.from_json(json.loads(cursor)["poll"])
        assert polled.activity_error and "'company' and 'company:activity'" in polled.activity_error
        assert polled.updated_watermark is not None and polled.activity_cursor is None

        seeded = _seeded_active_employee(fresh_sandbox, 5)
        admin.update(seeded["id"], family_name="Refused")
        second, cursor = _poll(instance, res, cursor, caplog.handler)
        assert isinstance(second, dg.RunRequest) and seeded["id"] in _ids(second)
        warnings = [r for r in caplog.records if "company_activity" in r.getMessage()]
        assert len(warnings) == 1 and warnings[0].levelname == "WARNING"
        assert "updated_at alone" in warnings[0].getMessage()

        # Scopes granted: it answers again, says so, and the cursor forgets the error.
        admin.grant(*V1_SCOPES)
        _, cursor = _poll(instance, res, cursor, caplog.handler)
        polled = PollCursor.from_json(json.loads(cursor)["poll"])
        assert polled.activity_error is None and polled.activity_cursor
        assert any("answers again" in r.getMessage() for r in caplog.records)


def test_company_activity_on_names_employees_that_are_resolved_to_workers(
    fresh_sandbox: Sandbox, admin, env: Env, sandbox_env, tmp_path: Path, monkeypatch
) -> None:
    """With the v1 scopes, activity names employee ids (not worker ids): the sensor hands them
    to the run, which resolves them to the worker and syncs it."""
    monkeypatch.setenv("ML_CONNECTOR_COMPANY_ACTIVITY", "on")
    admin.grant(*V1_SCOPES)
    res = recording(pipeline_env(fresh_sandbox, tmp_path, monkeypatch)["resources"])
    with dg.instance_for_test() as instance:
        _, cursor = _poll(instance, res, None)
        seeded = _seeded_active_employee(fresh_sandbox, 6)
        admin.update(seeded["id"], family_name="Witnessed")
        # Forget the watermark's news: only company_activity can tell of the change now.
        state = json.loads(cursor)
        polled = PollCursor.from_json(state["poll"])
        later = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
        state["poll"] = PollCursor(later, polled.activity_cursor).to_json()
        RecordingConnector.paths.clear()
        second, _ = _poll(instance, res, json.dumps(state))
        assert isinstance(second, dg.RunRequest)
        config = second.run_config["ops"]["dynamics__workforce_plan"]["config"]
        assert config["worker_ids"] == [] and config["employee_ids"] == [
            employee_id_for(seeded["id"])
        ]
        # The tick made no per-id read; the run resolves the id and syncs the worker.
        assert not any(p.startswith("/platform/api/employees/") for p in RecordingConnector.paths)
        with clock.pinned(NOW):
            result = sync_workforce(instance, res, second)
        assert result.success
        writes = [(a.kind.value, a.personnel_number) for a in planned(result).plan.writes]
        assert ("update-worker", f"RP-{seeded['number']}") in writes
        assert any(p.startswith("/platform/api/employees/") for p in RecordingConnector.paths)
    assert env.worker_row(f"RP-{seeded['number']}")["LastName"] == "Witnessed"


@pytest.mark.parametrize(("seconds", "interval"), [(None, 6 * 3600), ("3600", 3600)])
def test_with_webhooks_on_the_poll_keeps_running_as_a_slow_safety_net(
    fresh_sandbox: Sandbox,
    admin,
    env: Env,
    sandbox_env,
    tmp_path: Path,
    monkeypatch,
    seconds: str | None,
    interval: int,
) -> None:
    """Webhooks fire only for employees provisioned to the app, so the updated_at poll stays
    on, at ML_CONNECTOR_SAFETY_POLL_SECONDS (6 h by default), without reading payroll runs."""
    monkeypatch.setenv("ML_CONNECTOR_WEBHOOKS", "on")
    if seconds:
        monkeypatch.setenv("ML_CONNECTOR_SAFETY_POLL_SECONDS", seconds)
    res = recording(pipeline_env(fresh_sandbox, tmp_path, monkeypatch)["resources"])
    with dg.instance_for_test() as instance:
        first, cursor = _poll(instance, res, None)
        assert isinstance(first, dg.RunRequest)
        assert first.tags["ml_connector/trigger"] == "safety-poll"
        due = dt.datetime.fromisoformat(json.loads(cursor)["next_at"])
        assert due == NOW + dt.timedelta(seconds=interval)
        assert "/payroll-runs/" not in RecordingConnector.paths
        # Before it is due, a tick does nothing (and reads nothing).
        RecordingConnector.paths.clear()
        with clock.pinned(due - dt.timedelta(minutes=1)):
            context = dg.build_sensor_context(instance=instance, resources=res, cursor=cursor)
            early = workforce_poll_sensor(context)
        assert isinstance(early, dg.SkipReason) and "safety-net" in str(early.skip_message)
        assert RecordingConnector.paths == []
        # Due: a worker changed outside any webhook is found.
        seeded = _seeded_active_employee(fresh_sandbox, 7)
        admin.update(seeded["id"], family_name="Unprovisioned")
        second, cursor = _poll(instance, res, cursor)
        assert isinstance(second, dg.RunRequest) and seeded["id"] in _ids(second)
        due2 = dt.datetime.fromisoformat(json.loads(cursor)["next_at"])
        assert due2 == due + dt.timedelta(seconds=interval)


def test_cli_plan_is_a_dry_run_and_sync_applies(
    fresh_sandbox: Sandbox,
    admin,
    sandbox_env,
    wf_mapping_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dynamics: DynamicsClient,
) -> None:
    audit_url = f"sqlite:///{tmp_path / 'cli-audit.sqlite'}"
    monkeypatch.setenv("ML_CONNECTOR_AUDIT_URL", audit_url)
    monkeypatch.setenv("ML_CONNECTOR_MAPPING", str(wf_mapping_file))
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))  # sync submits a Dagster run
    hired = admin.hire(given_name="Ada", family_name="Cli", start_date="2026-11-16")
    number = f"RP-{hired['number']}"
    runner = CliRunner()

    dry = runner.invoke(main, ["workforce", "plan", "--worker", hired["id"]])
    assert dry.exit_code == 0, dry.output
    assert "create-worker" in dry.output and number in dry.output
    assert "2 write(s) planned" in dry.output
    assert dynamics.get_entity("Workers", {"PersonnelNumber": number}) is None
    assert AuditStore(audit_url).workforce_actions() == []

    applied = runner.invoke(main, ["workforce", "sync", "--worker", hired["id"]])
    assert applied.exit_code == 0, applied.output
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        [run] = instance.get_runs()
    assert run.job_name == "workforce_sync" and run.status == dg.DagsterRunStatus.SUCCESS
    assert "create-worker" in applied.output and "applied" in applied.output
    assert dynamics.get_entity("Workers", {"PersonnelNumber": number})["LastName"] == "Cli"

    again = runner.invoke(main, ["workforce", "plan", "--worker", hired["id"]])
    assert again.exit_code == 0 and "0 write(s) planned" in again.output

    # The seeded changes after the connector start are not synced yet: headcount differs.
    counted = runner.invoke(main, ["workforce", "headcount", "--today", "2026-11-20"])
    assert counted.exit_code == 1, counted.output
    assert "USMF" in counted.output and "only in Rippling" in counted.output


def test_employment_dimensions_follow_fo_default_format_and_stop_without_one(
    fresh_sandbox: Sandbox, admin, env: Env
) -> None:
    """The sandbox's default format (Department-CostCenter-BusinessUnit) differs from its
    ledger format; a value in the ledger's order would be refused by F&O."""
    first = admin.hire(
        given_name="Katherine",
        family_name="Johnson",
        start_date="2026-11-16",
        employment_type="SALARIED",
        department_reference_code="D120",
        work_email="katherine.johnson@northwind-advisory.com",
    )
    env.sync(first["id"])
    rows = env.dynamics.list_entities(
        "EmploymentsV2", filter=eq("PersonnelNumber", f"RP-{first['number']}")
    )
    assert [r["DimensionDisplayValue"].split("-")[0] for r in rows] == ["D120"]

    with sandbox_admin(fresh_sandbox, "dynamics") as fo:
        answer = fo.patch(
            "/_sandbox/entities/DimensionIntegrationFormats",
            json={
                "key": {
                    "DimensionFormatName": "DefaultDimensionFormat",
                    "DimensionFormatType": "DataEntityDefaultDimensionFormat",
                },
                "values": {"IsActive": "No"},
            },
        )
        assert answer.status_code < 300, answer.text
    second = admin.hire(
        given_name="Dorothy",
        family_name="Vaughan",
        start_date="2026-11-16",
        employment_type="SALARIED",
        department_reference_code="D120",
        work_email="dorothy.vaughan@northwind-advisory.com",
    )
    outcome = env.sync(second["id"])
    reasons = [a.reason for a in outcome.plan.actions if a.kind.value == "report"]
    assert any(
        "dimensions not written" in r and "DataEntityDefaultDimensionFormat" in r for r in reasons
    )
    rows = env.dynamics.list_entities(
        "EmploymentsV2", filter=eq("PersonnelNumber", f"RP-{second['number']}")
    )
    assert len(rows) == 1 and not rows[0].get("DimensionDisplayValue")
