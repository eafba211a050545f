"""Approval before posting, end to end on the sandbox through a real Dagster instance.

With ``journal.approval: required`` nothing reaches F&O (read back from the sandbox: its write
count and its journals) until an approval bound to exactly the built content is recorded; the
run that finds none ends well and the partition shows "waiting for approval". An approval made
in another process (``ml-connector approve`` as a subprocess) is seen by the sensor, which asks
for one run; that run posts and the trail says who approved and who triggered it. A Rippling
change after the approval, or a rejection, posts nothing and says why. ``automatic`` is
unchanged, and the UI's ``approve_journals`` job records a decision from its run config.
"""

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
import yaml
from click.testing import CliRunner
from pipeline_support import admin, sandbox_writes

from ml_connector_dagster.alerts.outbox import outbox_rows
from ml_connector_dagster.audit.store import AuditStore, Outcome
from ml_connector_dagster.cli import main
from ml_connector_dagster.cli.payroll import EXIT_AWAITING_APPROVAL, EXIT_OK
from ml_connector_dagster.config.settings import current_settings
from ml_connector_dagster.connections import Connection
from ml_connector_dagster.defs.headless import run_partition
from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager
from ml_connector_dagster.defs.payroll.approval import approve_journals
from ml_connector_dagster.defs.payroll.assets import posted_journals
from ml_connector_dagster.defs.payroll.launcher import APPROVAL_TAG
from ml_connector_dagster.defs.payroll.partitions import partition_key
from ml_connector_dagster.defs.payroll.sensors import pay_run_sensor
from ml_connector_dagster.defs.resources import ConnectorResource
from ml_connector_dagster.defs.stale_runs import TRIGGER_TAG

COMPANY = "USMF"
WAITING = "waiting for approval"


@pytest.fixture
def env(home_env) -> dict:
    """home_env with the mapping's ``journal.approval: required``."""
    path = Path(os.environ["ML_CONNECTOR_MAPPING"])
    data = yaml.safe_load(path.read_text())
    data["journal"]["approval"] = "required"
    path.write_text(yaml.safe_dump(data))
    home_env["key"] = str(partition_key(home_env["period"], COMPANY))
    home_env["connection"] = data.get("connection", "default")
    return home_env


def _cli(*args: str):
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "250"}, catch_exceptions=False)


def _run(env):
    return _cli("run", "--pay-period", env["period"], "--legal-entity", COMPANY)


def _approve(env, *extra: str):
    return _cli("approve", "--pay-period", env["period"], "--legal-entity", COMPANY, *extra)


def _headers() -> list[dict]:
    with Connection.from_environment().dynamics() as client:
        return client.list_entities("LedgerJournalHeaders")


def _store() -> AuditStore:
    return AuditStore(current_settings().audit_database_url())


def _latest_attempts(env) -> list[dict]:
    """The latest trail row of each journal of the partition."""
    store = _store()
    try:
        rows = [
            r for r in store.attempts(pay_period=env["period"]) if r["partition_key"] == env["key"]
        ]
    finally:
        store.dispose()
    latest: dict[str, dict] = {}
    for row in rows:
        latest[row["journal_key"]] = row
    return list(latest.values())


def _tick(instance: dg.DagsterInstance) -> list[dg.RunRequest]:
    context = dg.build_sensor_context(
        instance=instance, resources={"connector": ConnectorResource()}
    )
    result = pay_run_sensor(context)
    return list(result.run_requests) if isinstance(result, dg.SensorResult) else []


def _extra_requests(instance, env) -> list[dg.RunRequest]:
    """The tick's approval and retry requests of the partition (not its first-time builds)."""
    return [
        r
        for r in _tick(instance)
        if str(r.partition_key) == env["key"]
        and (r.run_key or "").startswith(("approval:", "retry:"))
    ]


def _bump_first_record(env, amount: Decimal = Decimal("48.75")) -> None:
    """Rippling changes after approval: more gross (and net) on the period's first record."""
    run_id = env["runs"][0]["id"]
    record = next(
        dict(r)
        for r in env["sandbox"].company["rippling"]["worker_payroll_records"]
        if r["run_id"] == run_id
    )
    first = record["earnings"][0]
    record["earnings"] = [
        {**first, "amount": str(Decimal(first["amount"]) + amount)},
        *record["earnings"][1:],
    ]
    record["gross_pay"] = str(Decimal(record["gross_pay"]) + amount)
    record["net_pay"] = str(Decimal(record["net_pay"]) + amount)
    with admin(env["sandbox"], "rippling") as rippling:
        answer = rippling.put(
            f"/_sandbox/payroll-runs/{run_id}/worker-payroll-records/{record['id']}", json=record
        )
        assert answer.status_code in (200, 201), answer.text


def test_required_without_approval_writes_nothing_and_the_partition_waits(env) -> None:
    before = sandbox_writes(env["sandbox"])
    result = _run(env)
    assert result.exit_code == EXIT_AWAITING_APPROVAL, result.output
    assert WAITING in result.output and "not approved" in result.output
    assert sandbox_writes(env["sandbox"]) == before
    assert _headers() == []
    latest = _latest_attempts(env)
    assert len(latest) == len(env["runs"])
    assert {r["outcome"] for r in latest} == {Outcome.AWAITING_APPROVAL}
    assert all("not approved" in r["dynamics_answer"] for r in latest)
    assert all("ml-connector CLI" in r["triggered_by"] for r in latest)
    store = _store()
    try:
        [waiting] = store.approvals.awaiting_approval(env["connection"])
        assert store.unfinished() == []  # waiting is not a failure: replay leaves it alone
    finally:
        store.dispose()
    assert waiting.partition_key == env["key"] and not waiting.approved_since
    with dg.DagsterInstance.get() as instance:
        key = env["key"]
        assert instance.get_latest_materialization_event(posted_journals.key) is None
        observed = instance.fetch_observations(
            dg.AssetRecordsFilter(asset_key=posted_journals.key, asset_partitions=[key]), limit=1
        ).records
        metadata = observed[0].asset_observation.metadata
        assert metadata["status"].value == WAITING
        assert "not approved" in metadata["why"].value
        assert _extra_requests(instance, env) == []  # no retry, no request storm
        assert _extra_requests(instance, env) == []
    # Finance is told once that the journals wait, with their total, however many runs see it.
    assert _run(env).exit_code == EXIT_AWAITING_APPROVAL
    store = _store()
    try:
        alerts = [a for a in outbox_rows(store) if a["kind"] == "approval-waiting"]
    finally:
        store.dispose()
    [alert] = alerts
    assert (alert["company"], alert["pay_period"]) == (COMPANY, env["period"])
    assert f"ml-connector approve --pay-period {env['period']}" in alert["summary"]
    runs = {r["id"] for r in env["runs"]}
    labor_cost = sum(
        Decimal(r["gross_pay"])
        + Decimal(r["summary"]["employer_taxes"])
        + Decimal(r["summary"]["employer_contributions"])
        for r in env["sandbox"].company["rippling"]["worker_payroll_records"]
        if r["run_id"] in runs
    )
    assert (Decimal(alert["amount"]), alert["currency"]) == (labor_cost, "USD")


def test_an_approval_from_another_process_lets_the_next_run_post(env) -> None:
    assert _run(env).exit_code == EXIT_AWAITING_APPROVAL
    approve = subprocess.run(
        [
            str(Path(sys.executable).parent / "ml-connector"),
            "approve",
            "--pay-period",
            env["period"],
            "--legal-entity",
            COMPANY,
            "--by",
            "Ana Ruiz",
            "--note",
            "checked against the payroll register",
        ],
        env={**os.environ, "COLUMNS": "250"},
        capture_output=True,
        text=True,
    )
    assert approve.returncode == 0, approve.stdout + approve.stderr
    assert "approved by Ana Ruiz" in approve.stdout
    store = _store()
    try:
        decision = store.approvals.decision_for(env["connection"], env["period"], COMPANY)
    finally:
        store.dispose()
    assert decision is not None and decision.decided_by == "Ana Ruiz"
    assert len(decision.payload_hashes) == len(env["runs"])
    assert all(h[:12] in approve.stdout for h in decision.payload_hashes.values())
    assert "ml-connector approve" in decision.via
    assert _headers() == []  # approving writes nothing by itself
    with dg.DagsterInstance.get() as instance:  # a second instance of the same home
        [request] = _extra_requests(instance, env)
        assert request.run_key == f"approval:{env['key']}:{decision.id}"
        assert [r.run_key for r in _extra_requests(instance, env)] == [request.run_key]
        assert "Ana Ruiz" in request.tags[APPROVAL_TAG]
        # What the daemon launches for the request: its tags, plus the sensor's name.
        outcome = run_partition(
            instance,
            env["period"],
            COMPANY,
            tags={**request.tags, "dagster/sensor_name": "pay_run_sensor"},
        )
        assert outcome.success and outcome.status == "created in F&O, not posted", outcome
        assert _extra_requests(instance, env) == []  # posted: nothing more to ask for
    headers = _headers()
    assert len(headers) == len(env["runs"])
    latest = _latest_attempts(env)
    assert {r["outcome"] for r in latest} == {Outcome.CREATED}
    assert {r["approval_id"] for r in latest} == {decision.id}
    assert all("sensor pay_run_sensor" in r["triggered_by"] for r in latest)
    assert all("approved by Ana Ruiz" in r["triggered_by"] for r in latest)
    trail = _cli("audit", "--pay-period", env["period"])
    assert trail.exit_code == 0
    assert "approvals" in trail.output and "Ana Ruiz" in trail.output
    assert "checked against the payroll register" in trail.output
    assert "awaiting-approval" in trail.output and "created" in trail.output


def test_a_rippling_change_after_approval_posts_nothing_and_says_why(env) -> None:
    assert _run(env).exit_code == EXIT_AWAITING_APPROVAL
    assert _approve(env, "--by", "Ana Ruiz").exit_code == 0
    _bump_first_record(env)
    before = sandbox_writes(env["sandbox"])
    result = _run(env)
    assert result.exit_code == EXIT_AWAITING_APPROVAL, result.output
    assert "approved content changed" in result.output
    assert sandbox_writes(env["sandbox"]) == before and _headers() == []
    changed = [
        r for r in _latest_attempts(env) if "approved content changed" in r["dynamics_answer"]
    ]
    assert changed and {r["outcome"] for r in changed} == {Outcome.AWAITING_APPROVAL}
    with dg.DagsterInstance.get() as instance:
        assert _extra_requests(instance, env) == []  # the approval was tried; it waits again
    assert _approve(env, "--by", "Ana Ruiz", "--note", "the overtime fix").exit_code == 0
    assert _run(env).exit_code == EXIT_OK
    assert len(_headers()) == len(env["runs"])


def test_a_rejection_posts_nothing_until_a_new_approval(env) -> None:
    assert _run(env).exit_code == EXIT_AWAITING_APPROVAL
    rejected = _cli(
        "reject",
        "--pay-period",
        env["period"],
        "--legal-entity",
        COMPANY,
        "--by",
        "Bo Chen",
        "--reason",
        "wrong cost center on the bonus",
    )
    assert rejected.exit_code == 0, rejected.output
    result = _run(env)
    assert result.exit_code == EXIT_AWAITING_APPROVAL
    assert "rejected by Bo Chen: wrong cost center on the bonus" in result.output
    assert _headers() == []
    with dg.DagsterInstance.get() as instance:
        assert _extra_requests(instance, env) == []
    assert _approve(env, "--by", "Bo Chen").exit_code == 0
    assert _run(env).exit_code == EXIT_OK
    assert len(_headers()) == len(env["runs"])


def test_approve_refuses_a_partition_with_nothing_stored_or_blocked(env) -> None:
    nothing = _approve(env, "--by", "Ana Ruiz")
    assert nothing.exit_code == 1 and "no journals are stored" in nothing.output
    assert _run(env).exit_code == EXIT_AWAITING_APPROVAL
    mapping = Path(os.environ["ML_CONNECTOR_MAPPING"])
    data = yaml.safe_load(mapping.read_text())
    data["journal"]["name"] = "NOSUCHJRN"
    mapping.write_text(yaml.safe_dump(data))
    assert _run(env).exit_code == 1  # blocked by valid_in_dynamics
    blocked = _approve(env, "--by", "Ana Ruiz")
    assert blocked.exit_code == 1 and "blocked by a check" in blocked.output
    store = _store()
    try:
        assert store.approvals.decisions() == []
    finally:
        store.dispose()


def test_automatic_posts_as_before_and_approve_is_refused(home_env) -> None:
    result = _cli("run", "--pay-period", home_env["period"], "--legal-entity", COMPANY)
    assert result.exit_code == EXIT_OK, result.output
    assert len(_headers()) == len(home_env["runs"])
    refused = _cli(
        "approve", "--pay-period", home_env["period"], "--legal-entity", COMPANY, "--by", "Ana"
    )
    assert refused.exit_code == 1 and "journal.approval: automatic" in refused.output
    store = _store()
    try:
        outcomes = {r["outcome"] for r in store.attempts(pay_period=home_env["period"])}
    finally:
        store.dispose()
    assert Outcome.AWAITING_APPROVAL not in outcomes and Outcome.CREATED in outcomes


def _job_config(env, **fields) -> dict:
    config = {"pay_period": env["period"], "legal_entity": COMPANY, **fields}
    return {"ops": {"record_approval": {"config": config}}}


def test_the_ui_job_records_a_decision_from_its_run_config(env) -> None:
    assert _run(env).exit_code == EXIT_AWAITING_APPROVAL
    resources = {"connector": ConnectorResource(), "io_manager": PartitionFilesIOManager()}
    with dg.DagsterInstance.get() as instance:
        refused = approve_journals.execute_in_process(
            run_config=_job_config(env, decision="rejected", by="Bo Chen"),
            instance=instance,
            resources=resources,
            raise_on_error=False,
        )
        assert not refused.success  # a rejection without a reason records nothing
        result = approve_journals.execute_in_process(
            run_config=_job_config(env, decision="approved", by="Ana Ruiz", note="UI"),
            instance=instance,
            resources=resources,
        )
        assert result.success
        observed = instance.fetch_observations(
            dg.AssetRecordsFilter(asset_key=posted_journals.key, asset_partitions=[env["key"]]),
            limit=1,
        ).records
        assert "approved by Ana Ruiz" in observed[0].asset_observation.metadata["approval"].value
        assert result.dagster_run.tags[TRIGGER_TAG] == "approve_journals"
    store = _store()
    try:
        [decision] = store.approvals.decisions(env["connection"])
    finally:
        store.dispose()
    assert decision.decided_by == "Ana Ruiz" and decision.note == "UI"
    assert decision.dagster_run_id == result.run_id and "approve_journals" in decision.via
    assert _run(env).exit_code == EXIT_OK
    assert len(_headers()) == len(env["runs"])


def _correct(env, *extra: str):
    return _cli("correct", "--pay-period", env["period"], "--legal-entity", COMPANY, *extra)


def test_a_correction_needs_an_approval_of_the_corrected_content(env) -> None:
    assert _run(env).exit_code == EXIT_AWAITING_APPROVAL
    assert _approve(env, "--by", "Ana Ruiz").exit_code == 0
    assert _run(env).exit_code == EXIT_OK
    _bump_first_record(env)
    before = sandbox_writes(env["sandbox"])
    waiting = _correct(env, "--apply")
    assert waiting.exit_code == 1, waiting.output
    assert "waiting for approval" in waiting.output and "approved content changed" in waiting.output
    assert sandbox_writes(env["sandbox"]) == before  # the old approval covers the old content
    approved = _approve(env, "--by", "Ana Ruiz", "--note", "overtime correction")
    assert approved.exit_code == 0, approved.output
    applied = _correct(env, "--apply")
    assert applied.exit_code == 0, applied.output
    assert sandbox_writes(env["sandbox"]) > before
    store = _store()
    try:
        decision = store.approvals.decision_for(env["connection"], env["period"], COMPANY)
        corrected = [
            r for r in store.attempts(pay_period=env["period"]) if r["outcome"] == Outcome.CORRECTED
        ]
    finally:
        store.dispose()
    assert corrected and {r["approval_id"] for r in corrected} == {decision.id}
    assert all("ml-connector correct CLI" in r["triggered_by"] for r in corrected)
