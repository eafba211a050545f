"""Blocking checks stop bad journals before any write; failures replay to exactly one journal."""

from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
import yaml
from pipeline_support import (
    admin,
    lines_by_batch,
    materialize,
    payroll_materializations,
    pipeline_env,
    record_on_one_cost_center,
    sandbox_writes,
    table_rows,
    table_text,
)

from ml_connector_dagster.alerts.outbox import outbox_rows
from ml_connector_dagster.audit.store import AuditStore, Outcome
from ml_connector_dagster.connections import Connection
from ml_connector_dagster.defs.payroll.assets import posted_journals
from ml_connector_sandbox.mapping import sandbox_mapping
from ml_connector_sandbox.server import Sandbox

COMPANY = "USMF"


@pytest.fixture
def env(fresh_sandbox: Sandbox, sandbox_env, tmp_path: Path, monkeypatch) -> dict:
    return pipeline_env(fresh_sandbox, tmp_path, monkeypatch)


def _run(env, **kwargs) -> dg.ExecuteInProcessResult:
    with dg.instance_for_test() as instance:
        return materialize(instance, env["resources"], env["period"], COMPANY, **kwargs)


def _failed_checks(result: dg.ExecuteInProcessResult) -> set[str]:
    return {c.check_name for c in result.get_asset_check_evaluations() if not c.passed}


def _posted(result: dg.ExecuteInProcessResult) -> list:
    return [
        e for e in result.get_asset_materialization_events() if e.asset_key == posted_journals.key
    ]


def _rewrite_mapping(env, change) -> None:
    data = sandbox_mapping(env["sandbox"].company)
    change(data)
    env["mapping"].write_text(yaml.safe_dump(data, sort_keys=False))


def _alerts(env) -> list[dict]:
    """The alerts the runs put in the outbox (the audit database of the test's resources)."""
    store = AuditStore(env["resources"]["connector"].audit_url)
    try:
        return outbox_rows(store)
    finally:
        store.dispose()


def _records_of_period(env) -> list[dict]:
    ids = {r["id"] for r in env["runs"]}
    return [
        r
        for r in env["sandbox"].company["rippling"]["worker_payroll_records"]
        if r["run_id"] in ids
    ]


def test_unmapped_department_blocks_and_nothing_is_written(env) -> None:
    workers = {w["id"]: w for w in env["sandbox"].company["rippling"]["workers"]}
    departments = {
        d["id"]: d["reference_code"] for d in env["sandbox"].company["rippling"]["departments"]
    }
    used = departments[workers[_records_of_period(env)[0]["worker_id"]]["department_id"]]
    _rewrite_mapping(env, lambda m: m["departments"].pop(used))
    before = sandbox_writes(env["sandbox"])
    result = _run(env)
    assert not result.success
    assert "fully_mapped" in _failed_checks(result)
    [evaluation] = [
        c for c in result.get_asset_check_evaluations() if c.check_name == "fully_mapped"
    ]
    assert "dimension Department" in table_text(evaluation.metadata["details"])
    assert _posted(result) == [] and sandbox_writes(env["sandbox"]) == before
    # One line for finance: the department (code and Rippling's name), its workers and the
    # labor cost it holds back, computed here from Rippling's raw records.
    [department] = [
        d for d in env["sandbox"].company["rippling"]["departments"] if d["reference_code"] == used
    ]
    behind = [
        r
        for r in _records_of_period(env)
        if workers[r["worker_id"]]["department_id"] == department["id"]
    ]
    cost = sum(
        Decimal(r["gross_pay"])
        + Decimal(r["summary"]["employer_taxes"])
        + Decimal(r["summary"]["employer_contributions"])
        for r in behind
    )
    staff = len({r["worker_id"] for r in behind})
    assert staff >= 2  # else the amount is withheld (one person's pay)
    assert evaluation.description.startswith(
        f"Department {used} ({department['name']}) is not in the mapping file"
    )
    assert f": {staff} workers, {cost:,.2f} USD;" in evaluation.description
    assert "nothing was written to Dynamics" in evaluation.description
    # Finance is told without opening Dagster: a blocked alert naming the partition, the cause
    # and the partition's labor cost.
    [alert] = _alerts(env)
    assert (alert["kind"], alert["company"], alert["pay_period"]) == (
        "blocked",
        COMPANY,
        env["period"],
    )
    assert evaluation.description in alert["summary"]
    period_cost = sum(
        Decimal(r["gross_pay"])
        + Decimal(r["summary"]["employer_taxes"])
        + Decimal(r["summary"]["employer_contributions"])
        for r in _records_of_period(env)
    )
    assert (Decimal(alert["amount"]), alert["currency"]) == (period_cost, "USD")
    [cause] = table_rows(evaluation.metadata["causes"])
    assert (cause["workers"], cause["held back"]) == (staff, float(cost))
    # Every row of the details is grouped under that one cause.
    assert {row["cause"] for row in table_rows(evaluation.metadata["details"])} == {cause["cause"]}
    # reconciled fails too: the unmapped records are not on the journal. It says so.
    [reconciled] = [c for c in result.get_asset_check_evaluations() if c.check_name == "reconciled"]
    assert not reconciled.passed
    assert reconciled.description.startswith("Follows from fully_mapped")


def test_suspended_dimension_value_blocks_before_any_write(env) -> None:
    company = env["sandbox"].company
    with admin(env["sandbox"], "dynamics") as fo:
        for department in company["rippling"]["departments"]:
            answer = fo.patch(
                "/_sandbox/entities/FinancialDimensionValues",
                json={
                    "key": {
                        "FinancialDimension": "Department",
                        "LegalEntityId": "",
                        "DimensionValue": department["reference_code"],
                    },
                    "values": {"IsSuspended": "Yes"},
                },
            )
            assert answer.status_code in (200, 204), answer.text
    before = sandbox_writes(env["sandbox"])
    result = _run(env)
    assert "valid_in_dynamics" in _failed_checks(result)
    [evaluation] = [
        c for c in result.get_asset_check_evaluations() if c.check_name == "valid_in_dynamics"
    ]
    assert "is suspended" in table_text(evaluation.metadata["details"])
    assert _posted(result) == [] and sandbox_writes(env["sandbox"]) == before


NO_DATE = "1900-01-01T00:00:00Z"


def _used_departments(env) -> set[str]:
    company = env["sandbox"].company["rippling"]
    workers = {w["id"]: w for w in company["workers"]}
    codes = {d["id"]: d["reference_code"] for d in company["departments"]}
    return {codes[workers[r["worker_id"]]["department_id"]] for r in _records_of_period(env)}


def _valid_in_dynamics_text(result: dg.ExecuteInProcessResult) -> str:
    [evaluation] = [
        c for c in result.get_asset_check_evaluations() if c.check_name == "valid_in_dynamics"
    ]
    assert not evaluation.passed
    return table_text(evaluation.metadata["details"])


def _blocks_before_any_write(env, why: str) -> None:
    """A run of the period fails valid_in_dynamics saying ``why``; F&O saw no write at all."""
    before = sandbox_writes(env["sandbox"])
    result = _run(env)
    assert "valid_in_dynamics" in _failed_checks(result)
    assert why in _valid_in_dynamics_text(result)
    assert _posted(result) == [] and sandbox_writes(env["sandbox"]) == before


def test_a_value_suspended_for_this_legal_entity_only_blocks_before_any_write(env) -> None:
    """The shared value is fine; F&O's per-company override suspends it in USMF alone."""
    with admin(env["sandbox"], "dynamics") as fo:
        for code in sorted(_used_departments(env)):
            answer = fo.post(
                "/_sandbox/entities/FinancialDimensionValueLegalEntityOverrides",
                json={
                    "values": {
                        "FinancialDimension": "Department",
                        "DimensionValue": code,
                        "LegalEntityId": COMPANY.lower(),
                        "IsSuspended": "Yes",
                        "ActiveFrom": NO_DATE,
                        "ActiveTo": NO_DATE,
                    }
                },
            )
            assert answer.status_code in (200, 201), answer.text
    _blocks_before_any_write(env, f"is suspended in {COMPANY}")


def test_a_value_inactive_on_the_journal_date_blocks_before_any_write(env) -> None:
    """A value that ended before the check date is refused by F&O at write time: the pre-check
    reads the dates and stops the journal before the first write instead."""
    with admin(env["sandbox"], "dynamics") as fo:
        for code in sorted(_used_departments(env)):
            answer = fo.patch(
                "/_sandbox/entities/FinancialDimensionValues",
                json={
                    "key": {
                        "FinancialDimension": "Department",
                        "LegalEntityId": "",
                        "DimensionValue": code,
                    },
                    "values": {"ActiveTo": "2020-12-31T00:00:00Z"},
                },
            )
            assert answer.status_code in (200, 204), answer.text
    _blocks_before_any_write(env, "not active after 2020-12-31")


def test_wrong_format_order_blocks_before_any_write(env) -> None:
    def swap(mapping: dict) -> None:
        mapping["dimension_format"]["dimensions"] = [
            "MainAccount",
            "Department",
            "BusinessUnit",
            "CostCenter",
        ]

    _rewrite_mapping(env, swap)
    before = sandbox_writes(env["sandbox"])
    result = _run(env)
    assert "valid_in_dynamics" in _failed_checks(result)
    [evaluation] = [
        c for c in result.get_asset_check_evaluations() if c.check_name == "valid_in_dynamics"
    ]
    assert "differs from the active F&O ledger format" in table_text(evaluation.metadata["details"])
    assert _posted(result) == [] and sandbox_writes(env["sandbox"]) == before


def test_unbalanced_source_record_blocks(env) -> None:
    record = dict(_records_of_period(env)[0])
    record["net_pay"] = str(Decimal(record["net_pay"]) + Decimal("1.00"))
    with admin(env["sandbox"], "rippling") as rippling:
        answer = rippling.put(
            f"/_sandbox/payroll-runs/{record['run_id']}/worker-payroll-records/{record['id']}",
            json=record,
        )
        assert answer.status_code == 200, answer.text
    before = sandbox_writes(env["sandbox"])
    result = _run(env)
    assert "source_sane" in _failed_checks(result)
    [evaluation] = [
        c for c in result.get_asset_check_evaluations() if c.check_name == "source_sane"
    ]
    assert record["id"] in table_text(evaluation.metadata["details"])  # names the record
    # a blocked snapshot is not materialized (its partition is red) and stops everything
    # downstream: no journal is even built
    assert payroll_materializations(result) == []
    assert "nothing was written to Dynamics" in _failure_text(result)
    assert sandbox_writes(env["sandbox"]) == before


def _failure_text(result) -> str:
    from ml_connector_dagster.defs.failures import step_failure_messages

    return " ".join(step_failure_messages(result.all_events))


def _one_complete_journal_per_run(env) -> None:
    with Connection.from_environment().dynamics() as client:
        headers = client.list_entities("LedgerJournalHeaders")
        lines = lines_by_batch(client)
    assert len(headers) == len(env["runs"])
    for header in headers:
        assert lines[header["JournalBatchNumber"]]
        assert header["JournalTotalDebit"] == header["JournalTotalCredit"] > 0


def _faults(env, config: dict) -> None:
    with admin(env["sandbox"], "dynamics") as fo:
        assert fo.put("/_sandbox/faults", json=config).status_code == 200


@pytest.mark.parametrize(
    "faults",
    [
        {"dynamics": [{"kind": "server_error", "nth": 1, "path_prefix": "/data/$batch"}]},
        {"dynamics": [{"kind": "throttle", "share": 1.0, "times": 4, "retry_after": 0}]},
        {"dynamics": [{"kind": "expire_tokens", "nth": 3}]},
        {"dynamics": [{"kind": "drop", "nth": 1, "path_prefix": "/data/LedgerJournalHeaders"}]},
    ],
    ids=["5xx-in-batch", "429-storm", "token-expires", "dropped-header-create"],
)
def test_transient_dynamics_failures_end_in_exactly_one_journal(env, faults) -> None:
    _faults(env, faults)
    result = _run(env)
    assert result.success
    _one_complete_journal_per_run(env)


def test_a_run_killed_between_header_and_lines_is_completed_by_replay(env) -> None:
    _faults(
        env, {"dynamics": [{"kind": "server_error", "share": 1.0, "path_prefix": "/data/$batch"}]}
    )
    failed = _run(env)
    assert not failed.success
    with Connection.from_environment().dynamics() as client:
        assert len(client.list_entities("LedgerJournalHeaders")) == len(env["runs"])
        assert client.list_entities("LedgerJournalLines") == []
    audit = AuditStore(f"sqlite:///{env['tmp'] / 'audit.sqlite'}")
    assert audit.failed_partitions() == [f"{COMPANY}|{env['period']}"]
    audit.dispose()
    # lose the local trail too: the marker in the header Description is enough
    (env["tmp"] / "audit.sqlite").unlink()
    _faults(env, {})
    assert _run(env).success
    _one_complete_journal_per_run(env)
    assert _run(env).success  # and a further replay changes nothing
    _one_complete_journal_per_run(env)
    trail = AuditStore(f"sqlite:///{env['tmp'] / 'audit.sqlite'}").attempts()
    assert [a["outcome"] for a in trail][-len(env["runs"]) :] == [Outcome.SKIPPED_DUPLICATE] * len(
        env["runs"]
    )


def test_a_posted_journal_is_never_touched_and_changed_data_is_reported(env) -> None:
    assert _run(env).success
    with Connection.from_environment().dynamics() as client:
        headers = client.list_entities("LedgerJournalHeaders")
    with admin(env["sandbox"], "dynamics") as fo:
        for header in headers:
            fo.post(
                f"/_sandbox/journals/{header['dataAreaId']}/{header['JournalBatchNumber']}/post"
            )
    record = record_on_one_cost_center(env["sandbox"], {r["id"] for r in env["runs"]})
    first = record["earnings"][0]
    ten = Decimal("10.00")
    bump = {**first, "amount": str(Decimal(first["amount"]) + ten)}
    record["earnings"] = [bump, *record["earnings"][1:]]
    record["gross_pay"] = str(Decimal(record["gross_pay"]) + ten)
    record["net_pay"] = str(Decimal(record["net_pay"]) + ten)
    with admin(env["sandbox"], "rippling") as rippling:
        rippling.put(
            f"/_sandbox/payroll-runs/{record['run_id']}/worker-payroll-records/{record['id']}",
            json=record,
        )
    before = sandbox_writes(env["sandbox"])
    again = _run(env)
    assert not again.success  # "changed after posting" is not a success to report
    assert sandbox_writes(env["sandbox"]) == before
    assert _posted(again) == []
    text = _failure_text(again)
    assert "Rippling changed after the journal was created" in text
    assert "ml-connector correct" in text  # the way to resolve it
    [check] = [c for c in again.get_asset_check_evaluations() if c.check_name == "matches_rippling"]
    assert not check.passed
    assert check.description.startswith("Rippling changed after 1 journal(s) were created")
    assert "ml-connector correct" in check.description
    assert 10.0 in [row["difference"] for row in table_rows(check.metadata["details"])]
    exact = check.metadata["differences_exact"].value
    assert Decimal("10.00") in [Decimal(d["difference"]) for d in exact]  # to the cent
    # Finance is told: one correction alert for the journal, with the 10.00 it moves.
    [alert] = [a for a in _alerts(env) if a["kind"] == "correction-needed"]
    assert (alert["company"], alert["pay_period"]) == (COMPANY, env["period"])
    assert Decimal(alert["amount"]) == ten and alert["currency"] == "USD"
    assert record["run_id"] in alert["summary"] and "ml-connector correct" in alert["summary"]
    # A later run that sees the same change does not tell finance again.
    _run(env)
    assert len([a for a in _alerts(env) if a["kind"] == "correction-needed"]) == 1
