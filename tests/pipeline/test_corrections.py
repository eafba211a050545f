"""Rippling corrections reach the ledger: detected from F&O, reviewed, applied, read back.

The reproduction: a payroll record changes after its journal was created (+48.75 overtime).
Detection must not depend on the local store, the check must name account, amounts and
difference, and `ml-connector correct` must replace the lines of an unposted journal or add a
correcting journal to a posted one, recorded with who asked.
"""

from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner
from pipeline_support import (
    admin,
    latest_paid_period,
    materialize,
    record_on_one_cost_center,
    resources,
    sandbox_writes,
    table_rows,
)

from ml_connector_dagster.audit.store import AuditStore, Outcome
from ml_connector_dagster.cli import main
from ml_connector_dagster.config.settings import current_settings
from ml_connector_dagster.connections import Connection
from ml_connector_dagster.ledger.journal import JournalIdentity, JournalType
from ml_connector_sandbox.mapping import write_sandbox_mapping
from ml_connector_sandbox.server import Sandbox

COMPANY = "USMF"
OVERTIME = Decimal("48.75")


@pytest.fixture
def env(fresh_sandbox: Sandbox, sandbox_env, tmp_path: Path, monkeypatch) -> dict:
    home = tmp_path / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    mapping = write_sandbox_mapping(fresh_sandbox.company, tmp_path / "mapping.yaml")
    monkeypatch.setenv("ML_CONNECTOR_MAPPING", str(mapping))
    monkeypatch.delenv("ML_CONNECTOR_AUDIT_URL", raising=False)
    period, runs = latest_paid_period(fresh_sandbox)
    return {"sandbox": fresh_sandbox, "period": period, "runs": runs, "home": home, "tmp": tmp_path}


def _cli(*args: str):
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "250"}, catch_exceptions=False)


def _run(env):
    return _cli("run", "--pay-period", env["period"], "--legal-entity", COMPANY)


def _correct(env, *extra: str):
    return _cli("correct", "--pay-period", env["period"], "--legal-entity", COMPANY, *extra)


def _bump_overtime(env) -> dict:
    """+48.75 on the first record of the period's first run whose worker's cost sits on one
    cost center (no time entries or split, at most one job assignment: issue 15 added workers
    whose cost is split by hours), gross and net pay with it."""
    run_id = env["runs"][0]["id"]
    record = record_on_one_cost_center(env["sandbox"], {run_id})
    first = record["earnings"][0]
    record["earnings"] = [
        {**first, "amount": str(Decimal(first["amount"]) + OVERTIME)},
        *record["earnings"][1:],
    ]
    record["gross_pay"] = str(Decimal(record["gross_pay"]) + OVERTIME)
    record["net_pay"] = str(Decimal(record["net_pay"]) + OVERTIME)
    with admin(env["sandbox"], "rippling") as rippling:
        answer = rippling.put(
            f"/_sandbox/payroll-runs/{run_id}/worker-payroll-records/{record['id']}", json=record
        )
        assert answer.status_code in (200, 201), answer.text
    return record


def _ledger(identity_key: str | None = None) -> tuple[list[dict], list[dict]]:
    with Connection.from_environment().dynamics() as client:
        headers = client.list_entities("LedgerJournalHeaders")
        lines = client.list_entities("LedgerJournalLines")
    if identity_key:
        headers = [h for h in headers if h["IntegrationKey"] == identity_key]
        numbers = {h["JournalBatchNumber"] for h in headers}
        lines = [line for line in lines if line["JournalBatchNumber"] in numbers]
    return headers, lines


def _net_by_account(lines: list[dict]) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        sums[line["AccountDisplayValue"]] += line["DebitAmount"] - line["CreditAmount"]
    return {k: v for k, v in sums.items() if v}


def _identity(env) -> JournalIdentity:
    return JournalIdentity("default", env["runs"][0]["id"], COMPANY, JournalType.SETTLEMENT)


def _trail() -> list[dict]:
    store = AuditStore(current_settings().audit_database_url())
    try:
        return store.attempts()
    finally:
        store.dispose()


def test_a_change_after_creation_fails_matches_rippling_naming_accounts_and_amounts(
    env, tmp_path: Path
) -> None:
    res = resources(tmp_path, Path(env["home"]).parent / "mapping.yaml")
    with dg.instance_for_test() as instance:
        assert materialize(instance, res, env["period"], COMPANY).success
        _bump_overtime(env)
        (tmp_path / "audit.sqlite").unlink()  # detection must not need the local store
        again = materialize(instance, res, env["period"], COMPANY)
    assert not again.success
    [check] = [c for c in again.get_asset_check_evaluations() if c.check_name == "matches_rippling"]
    assert not check.passed
    details = table_rows(check.metadata["details"])
    exact = check.metadata["differences_exact"].value
    # earnings up, net pay payable up: exact in the JSON, numbers in the table
    assert sorted(
        Decimal(d["difference"]) for d in exact if abs(Decimal(d["difference"])) == Decimal("48.75")
    ) == [Decimal("-48.75"), Decimal("48.75")]
    _, lines = _ledger(_identity(env).integration_key)
    in_fo = _net_by_account(lines)
    changed_rows = [row for row in details if abs(row["difference"]) == 48.75]
    assert len(changed_rows) == 2, details
    for row in changed_rows:  # each names its account + dimensions and the amount in F&O
        assert row["currency"] == "USD"
        [account] = [a for a in in_fo if a in row["account and dimensions"]]
        assert row["in F&O"] == float(in_fo[account])
        now = in_fo[account] + (OVERTIME if row["difference"] > 0 else -OVERTIME)
        assert row["now"] == float(now)


def test_unposted_journal_lines_are_replaced_after_a_dry_run(env) -> None:
    assert _run(env).exit_code == 0
    key = _identity(env).integration_key
    headers_before, lines_before = _ledger(key)
    _bump_overtime(env)
    changed = _run(env)
    assert changed.exit_code == 1 and "CHANGED" in changed.output
    assert "ml-connector correct" in changed.output

    dry = _correct(env)
    assert dry.exit_code == 1, dry.output
    assert "replace the lines" in dry.output and "+48.75" in dry.output
    assert _ledger(key) == (headers_before, lines_before)  # a dry run writes nothing

    applied = _correct(env, "--apply", "--requested-by", "Pat Finance")
    assert applied.exit_code == 0, applied.output
    headers_after, lines_after = _ledger(key)
    assert [h["JournalBatchNumber"] for h in headers_after] == [
        h["JournalBatchNumber"] for h in headers_before
    ]  # identity and journal numbers kept
    delta = {
        account: _net_by_account(lines_after).get(account, Decimal(0)) - amount
        for account, amount in _net_by_account(lines_before).items()
    }
    assert sorted(v for v in delta.values() if v) == [-OVERTIME, OVERTIME]
    assert (
        headers_after[0]["JournalTotalDebit"] == headers_before[0]["JournalTotalDebit"] + OVERTIME
    )
    rerun = _run(env)
    assert rerun.exit_code == 0 and "already in F&O" in rerun.output
    trail = _trail()
    assert [a["outcome"] for a in trail if a["outcome"].startswith("correct")] == [
        Outcome.CORRECTION_PROPOSED,
        Outcome.CORRECTED,
    ]
    [corrected] = [a for a in trail if a["outcome"] == Outcome.CORRECTED]
    assert "Pat Finance" in corrected["dynamics_answer"]


def test_a_posted_journal_gets_one_correcting_journal_with_only_the_differences(env) -> None:
    assert _run(env).exit_code == 0
    original = _identity(env)
    headers, _ = _ledger(original.integration_key)
    with admin(env["sandbox"], "dynamics") as fo:
        for header in headers:
            posted = fo.post(
                f"/_sandbox/journals/{header['dataAreaId']}/{header['JournalBatchNumber']}/post"
            )
            assert posted.status_code == 200
    _bump_overtime(env)
    applied = _correct(env, "--apply", "--requested-by", "Pat Finance")
    assert applied.exit_code == 0, applied.output
    assert "correcting journal" in applied.output

    correction = original.corrected_by(1)
    [header], lines = _ledger(correction.integration_key)
    assert header["IsPosted"] == "No"
    assert headers[0]["JournalBatchNumber"] in header["Description"]  # refers to the original
    assert header["Description"].endswith(correction.marker)
    assert sorted(_net_by_account(lines).values()) == [-OVERTIME, OVERTIME]
    assert header["JournalTotalDebit"] == header["JournalTotalCredit"] == OVERTIME
    assert all(h["IsPosted"] == "Yes" for h in _ledger(original.integration_key)[0])

    # the journal plus its correction now equals Rippling: a rerun writes nothing
    rerun = _run(env)
    assert rerun.exit_code == 0, rerun.output
    again = _correct(env, "--apply")
    assert again.exit_code == 0 and "nothing to correct" in again.output
    all_headers, _ = _ledger()
    assert len([h for h in all_headers if h["IntegrationKey"] == correction.integration_key]) == 1
    assert not any(
        h["IntegrationKey"] == original.corrected_by(2).integration_key for h in all_headers
    )


def test_the_correct_ledger_job_from_the_ui_is_a_dry_run_unless_told_to_apply(env) -> None:
    """What the launchpad runs: the job from the code location, partition and config."""
    from ml_connector_dagster.definitions import defs

    assert _run(env).exit_code == 0
    key = _identity(env).integration_key
    _bump_overtime(env)
    before = _ledger(key)
    job = defs.resolve_job_def("correct_ledger")
    partition = f"{COMPANY}|{env['period']}"
    config = {"ops": {"dynamics__ledger_corrections": {"config": {}}}}
    with dg.DagsterInstance.get() as instance:
        dry = job.execute_in_process(instance=instance, partition_key=partition, run_config=config)
        assert dry.success
        [event] = [
            e for e in dry.get_asset_materialization_events() if "ledger_corrections" in str(e)
        ]
        metadata = event.materialization.metadata
        assert metadata["mode"].value == "dry run" and metadata["proposed"].value == 1
        assert 48.75 in [row["difference"] for row in table_rows(metadata["corrections"])]
        assert any(row[-1] == "+48.75" for row in metadata["rows"].value)  # exact, as the CLI
        assert _ledger(key) == before
        config["ops"]["dynamics__ledger_corrections"]["config"] = {
            "apply": True,
            "requested_by": "Sam Controller",
        }
        applied = job.execute_in_process(
            instance=instance, partition_key=partition, run_config=config
        )
    assert applied.success
    assert _ledger(key) != before
    [corrected] = [a for a in _trail() if a["outcome"] == Outcome.CORRECTED]
    assert "Sam Controller" in corrected["dynamics_answer"]
    assert corrected["dagster_run_id"] == applied.run_id
    assert _run(env).exit_code == 0


def test_correcting_a_partition_the_connector_never_wrote_says_so(env) -> None:
    """No paid run, so no journal of the partition in F&O: one sentence, not an empty table,
    exit 0. (The sandbox's newest period has USMF's run approved, not yet paid.)"""
    runs = env["sandbox"].company["rippling"]["payroll_runs"]
    newest = max(run["pay_period"]["end_date"] for run in runs)
    assert newest > env["period"]  # the newest paid USMF period is an older one
    before = sandbox_writes(env["sandbox"])
    result = _cli("correct", "--pay-period", newest, "--legal-entity", COMPANY)
    assert result.exit_code == 0, result.output
    assert "created no journal of USMF" in result.output and "nothing to correct" in result.output
    assert "┏" not in result.output  # no table
    assert sandbox_writes(env["sandbox"]) == before
