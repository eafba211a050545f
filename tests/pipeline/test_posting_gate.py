"""The posting step refuses what has not passed the checks, however it is launched.

"Materialize" on the posting asset alone (the UI), ``dagster asset materialize`` from a fresh
process and a Python call all run only that step: nothing upstream, no upstream checks. Each
case below ends by counting F&O's writes.
"""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml
from pipeline_support import (
    PAYROLL,
    latest_paid_period,
    resources,
    sandbox_writes,
    switch_active_ledger_format,
)

from ml_connector_dagster.connections import Connection
from ml_connector_dagster.defs.failures import step_failure_messages
from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager
from ml_connector_dagster.defs.payroll.assets import (
    labor_cost_journals,
    payroll_cost_snapshot,
    posted_journals,
)
from ml_connector_dagster.defs.payroll.partitions import legal_entities, partition_key, pay_periods
from ml_connector_dagster.instance import prepare_dagster_home
from ml_connector_sandbox.mapping import sandbox_mapping, write_sandbox_mapping
from ml_connector_sandbox.server import Sandbox

COMPANY = "USMF"


@pytest.fixture
def env(fresh_sandbox: Sandbox, sandbox_env, tmp_path: Path, monkeypatch) -> dict:
    home = prepare_dagster_home(tmp_path / "home")
    audit_url = f"sqlite:///{tmp_path / 'audit.sqlite'}"
    mapping = write_sandbox_mapping(fresh_sandbox.company, tmp_path / "mapping.yaml")
    for name, value in {
        "DAGSTER_HOME": str(home),
        "ML_CONNECTOR_AUDIT_URL": audit_url,
        "ML_CONNECTOR_MAPPING": str(mapping),
    }.items():
        monkeypatch.setenv(name, value)
    period, paid = latest_paid_period(fresh_sandbox)
    res = resources(tmp_path, mapping)
    # The code location's own IO manager path, so a fresh `dagster` process finds the outputs.
    res["io_manager"] = PartitionFilesIOManager(base_dir=str(home / "storage" / "ml_connector"))
    return {
        "sandbox": fresh_sandbox,
        "home": home,
        "mapping": mapping,
        "period": period,
        "resources": res,
        "run_ids": {r["id"] for r in paid},
    }


def _headers() -> list[dict]:
    with Connection.from_environment().dynamics() as client:
        return client.list_entities("LedgerJournalHeaders")


def _materialize(instance, env, selection) -> dg.ExecuteInProcessResult:
    instance.add_dynamic_partitions(pay_periods.name, [env["period"]])
    instance.add_dynamic_partitions(legal_entities.name, [COMPANY])
    return dg.materialize(
        PAYROLL,
        selection=selection,
        instance=instance,
        resources=env["resources"],
        partition_key=partition_key(env["period"], COMPANY),
        raise_on_error=False,
    )


def _drop_a_used_department(env) -> None:
    """Remove from the mapping the department of a worker paid in the period."""
    company = env["sandbox"].company
    record = next(
        r for r in company["rippling"]["worker_payroll_records"] if r["run_id"] in env["run_ids"]
    )
    workers = {w["id"]: w for w in company["rippling"]["workers"]}
    departments = {d["id"]: d["reference_code"] for d in company["rippling"]["departments"]}
    data = sandbox_mapping(company)
    data["departments"].pop(departments[workers[record["worker_id"]]["department_id"]])
    env["mapping"].write_text(yaml.safe_dump(data, sort_keys=False))


def test_posting_alone_after_a_blocked_run_writes_nothing(env) -> None:
    _drop_a_used_department(env)
    with dg.DagsterInstance.get() as instance:
        blocked = _materialize(instance, env, PAYROLL)
        assert not blocked.success
        assert "fully_mapped" in {
            c.check_name for c in blocked.get_asset_check_evaluations() if not c.passed
        }
        before = sandbox_writes(env["sandbox"])
        alone = _materialize(instance, env, [posted_journals])
    assert not alone.success
    assert sandbox_writes(env["sandbox"]) == before and _headers() == []


def test_posting_alone_refuses_journals_built_with_another_mapping(env) -> None:
    with dg.DagsterInstance.get() as instance:
        built = _materialize(instance, env, [payroll_cost_snapshot, labor_cost_journals])
        assert built.success  # checks passed on these journals with the mapping of that time
        _drop_a_used_department(env)
        refused = _materialize(instance, env, [posted_journals])
        assert not refused.success
        reasons = " ".join(step_failure_messages(refused.all_events))
        assert "blocked by a check" in reasons and "fully_mapped" in reasons
        assert "another version of the mapping file" in reasons
        assert "nothing was written to Dynamics" in reasons
        assert _headers() == []
        # The same journals with the mapping they were built with pass the gate and post.
        write_sandbox_mapping(env["sandbox"].company, env["mapping"])
        posted = _materialize(instance, env, [posted_journals])
    assert posted.success
    assert _headers() and all(
        h["JournalTotalDebit"] == h["JournalTotalCredit"] > 0 for h in _headers()
    )


def test_a_format_switched_after_the_checks_stops_the_write(env) -> None:
    with dg.DagsterInstance.get() as instance:
        assert _materialize(instance, env, [payroll_cost_snapshot, labor_cost_journals]).success
        switch_active_ledger_format(env["sandbox"])
        before = sandbox_writes(env["sandbox"])
        refused = _materialize(instance, env, [posted_journals])
    assert not refused.success
    reasons = " ".join(step_failure_messages(refused.all_events))
    assert "valid_in_dynamics" in reasons and "active F&O ledger format" in reasons
    assert sandbox_writes(env["sandbox"]) == before and _headers() == []


def test_posting_alone_from_a_fresh_dagster_process_writes_nothing_unchecked(env) -> None:
    with dg.DagsterInstance.get() as instance:
        assert _materialize(instance, env, [payroll_cost_snapshot, labor_cost_journals]).success
    _drop_a_used_department(env)
    before = sandbox_writes(env["sandbox"])
    command = [
        str(Path(sys.executable).parent / "dagster"),
        "asset",
        "materialize",
        "-m",
        "ml_connector_dagster.definitions",
        "--select",
        "dynamics/posted_journals",
        "--partition",
        f"{COMPANY}|{env['period']}",
    ]
    # Output to a file, not a pipe: Dagster's compute-log tailers may outlive the process and
    # would hold a pipe open. No timeout: Popen's timed wait sleeps, which libfaketime breaks.
    log = env["home"] / "materialize.log"
    with log.open("w") as out:
        done = subprocess.run(
            command,
            env=dict(os.environ),
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    output = log.read_text()
    assert done.returncode != 0, output[-2000:]
    assert "another version of the mapping file" in output
    assert sandbox_writes(env["sandbox"]) == before and _headers() == []
