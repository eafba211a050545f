"""The month's labor cost reconciliation end to end: the commands, the asset, F&O read back.

USMF's November 2026 register is two settled runs of the pay period ending 2026-10-31 (the
regular run, check date 2026-11-06, and an off-cycle one, 2026-11-10); the run of 2026-11-14
is only APPROVED, so it is no part of it. The story finance lives through at close:
journals created but not posted (awaiting posting), posted (matched), someone books a hand
entry on a payroll account (other entries), Rippling changes a record after posting (a
difference). Every expectation is computed from what F&O holds, read back through OData, or
from the seed, never from the code under test.
"""

from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from pipeline_support import admin, record_on_one_cost_center

from ml_connector_dagster.cli import main
from ml_connector_dagster.connections import Connection
from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager
from ml_connector_dagster.defs.month_end.reconciliation import ASSET_KEY, CHECK
from ml_connector_dagster.ledger.reconciliation import EntrySource, Status
from ml_connector_sandbox.mapping import write_sandbox_mapping
from ml_connector_sandbox.server import Sandbox

COMPANY = "USMF"
PERIOD = "2026-10-31"
MONTH = "2026-11"
KEY = f"{COMPANY}|{MONTH}"
LABOR_ACCOUNTS = ("600100", "600110", "600120", "600130", "600140", "600150", "600160")
LABOR_ACCOUNTS += ("600190", "600200", "600300")
HAND_ENTRY = Decimal("250.00")
CHANGE = Decimal("48.75")


@pytest.fixture
def env(fresh_sandbox: Sandbox, sandbox_env, tmp_path: Path, monkeypatch) -> dict:
    home = tmp_path / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    mapping = write_sandbox_mapping(fresh_sandbox.company, tmp_path / "mapping.yaml")
    monkeypatch.setenv("ML_CONNECTOR_MAPPING", str(mapping))
    monkeypatch.delenv("ML_CONNECTOR_AUDIT_URL", raising=False)
    return {"sandbox": fresh_sandbox, "home": home, "tmp": tmp_path}


def _cli(*args: str):
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "250"}, catch_exceptions=False)


def _reconcile(*extra: str):
    return _cli("reconcile", MONTH, "--legal-entity", COMPANY, *extra)


def _stored():
    values, unreadable = PartitionFilesIOManager().load_partitions(ASSET_KEY, [KEY])
    assert not unreadable
    return values[KEY]


def _fo_lines() -> tuple[list[dict], list[dict]]:
    with Connection.from_environment().dynamics() as client:
        headers = client.list_entities("LedgerJournalHeaders", filter="dataAreaId eq 'usmf'")
        lines = client.list_entities("LedgerJournalLines", filter="dataAreaId eq 'usmf'")
    return headers, lines


def _labor_by_display(lines: list[dict]) -> dict[str, Decimal]:
    """Debit minus credit per AccountDisplayValue of the labor-cost lines F&O holds."""
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        if line["AccountDisplayValue"].split("-")[0] in LABOR_ACCOUNTS:
            sums[line["AccountDisplayValue"]] += line["DebitAmount"] - line["CreditAmount"]
    return dict(sums)


def _display(row) -> str:
    """The place of a reconciliation row written as the sandbox's ledger format does."""
    dims = dict(row.place.dimensions)
    segments = [row.place.account, *(dims.get(d, "") for d in ("BusinessUnit", "Department"))]
    return "-".join([*segments, dims.get("CostCenter", "")])


def _rows_by_display(result) -> dict[str, object]:
    return {_display(row): row for row in result.reconciliation.rows}


def _usmf_paid_runs_of_november(sandbox: Sandbox) -> set[str]:
    rippling = sandbox.company["rippling"]
    [usmf] = [
        e["id"]
        for e in rippling["company_legal_entities"]
        if e["legal_name"] == "Northwind Advisory Inc."
    ]
    return {
        run["id"]
        for run in rippling["payroll_runs"]
        if run["company_entity_id"] == usmf
        and run["run_state"] == "PAID"
        and (run["check_date"] or "").startswith(MONTH)
    }


def _check_evaluations() -> list[dg.AssetCheckEvaluation]:
    instance = dg.DagsterInstance.get()
    evaluations = []
    for run in instance.get_runs():
        for entry in instance.all_logs(
            run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ):
            evaluation = entry.dagster_event.event_specific_data
            if evaluation.check_name == CHECK:
                evaluations.append((entry.timestamp, evaluation))
    return [evaluation for _, evaluation in sorted(evaluations, key=lambda pair: pair[0])]


def test_a_month_from_created_to_posted_to_hand_entries_and_a_late_change(env) -> None:
    assert _cli("run", "--pay-period", PERIOD, "--legal-entity", COMPANY).exit_code == 0
    headers, lines = _fo_lines()
    expected = _labor_by_display(lines)
    assert expected, "the period's journals hold labor-cost lines"

    # 1. Created in F&O, not posted: every place waits for posting, nothing reconciles.
    waiting = _reconcile()
    assert waiting.exit_code == 3, waiting.output
    assert "NOT RECONCILED" in waiting.output and "reconciled " not in waiting.output
    result = _stored()
    rows = _rows_by_display(result)
    assert set(rows) == {display for display, amount in expected.items() if amount}
    for display, row in rows.items():
        assert row.status is Status.AWAITING_POSTING, display
        assert row.register == row.unposted == row.difference == expected[display]
        assert row.posted_by_connector == row.posted_by_others == 0
    assert {run.run_id for run in result.runs} == _usmf_paid_runs_of_november(env["sandbox"])
    assert not _check_evaluations()[-1].passed

    # 2. Finance posts the journals: every place matches what Rippling paid.
    with admin(env["sandbox"], "dynamics") as fo:
        for header in headers:
            answer = fo.post(f"/_sandbox/journals/usmf/{header['JournalBatchNumber']}/post")
            assert answer.status_code == 200, answer.text
    workbook = env["tmp"] / "close" / "usmf-2026-11.xlsx"
    matched = _reconcile("--export", str(workbook))
    assert matched.exit_code == 0, matched.output
    assert "reconciled" in matched.output
    result = _stored()
    assert result.reconciled
    for display, row in _rows_by_display(result).items():
        assert row.status is Status.MATCHED
        assert row.posted_by_connector == row.register == expected[display]
    assert _check_evaluations()[-1].passed
    sheets = load_workbook(workbook, read_only=True)
    assert sheets.sheetnames == ["Places", "Other entries", "Unposted", "Runs", "Totals"]
    assert sheets["Places"].max_row == 1 + len(result.reconciliation.rows)

    # 3. A hand entry on a salary place (against the bank): that place has other entries,
    # the bank account is no payroll account and is not reconciled.
    salary = next(d for d in sorted(expected) if d.startswith("600100-") and expected[d])
    with admin(env["sandbox"], "dynamics") as fo:
        answer = fo.post(
            "/_sandbox/ledger/usmf/vouchers",
            json={
                "date": "2026-11-27",
                "currency": "USD",
                "text": "Bonus paid outside payroll",
                "lines": [
                    {"account": salary, "debit": str(HAND_ENTRY)},
                    {"account": "110100-001--", "credit": str(HAND_ENTRY)},
                ],
            },
        )
        assert answer.status_code == 201, answer.text
        hand_journal = answer.json()["header"]["LedgerPostingJournal"]
    touched = _reconcile()
    assert touched.exit_code == 3
    result = _stored()
    rows = _rows_by_display(result)
    assert rows[salary].status is Status.OTHER_ENTRIES
    assert rows[salary].posted_by_others == HAND_ENTRY
    assert rows[salary].difference == -HAND_ENTRY
    assert all(row.status is Status.MATCHED for d, row in rows.items() if d != salary)
    [entry] = result.reconciliation.other_entries
    assert (entry.journal_number, entry.amount, entry.source) == (
        hand_journal,
        HAND_ENTRY,
        EntrySource.OTHER,
    )
    assert not any(row.place.account == "110100" for row in result.reconciliation.rows)

    # 4. Rippling changes a posted record: its place differs by exactly the change.
    run_ids = {r.run_id for r in result.runs}
    record = record_on_one_cost_center(env["sandbox"], run_ids)
    first = record["earnings"][0]
    record["earnings"] = [
        {**first, "amount": str(Decimal(first["amount"]) + CHANGE)},
        *record["earnings"][1:],
    ]
    record["gross_pay"] = str(Decimal(record["gross_pay"]) + CHANGE)
    record["net_pay"] = str(Decimal(record["net_pay"]) + CHANGE)
    with admin(env["sandbox"], "rippling") as rippling:
        answer = rippling.put(
            f"/_sandbox/payroll-runs/{record['run_id']}/worker-payroll-records/{record['id']}",
            json=record,
        )
        assert answer.status_code in (200, 201), answer.text
    late = _reconcile()
    assert late.exit_code == 3
    result = _stored()
    differences = [row for row in result.reconciliation.rows if row.status is Status.DIFFERENCE]
    assert [row.difference for row in differences] == [CHANGE]
    [total] = result.reconciliation.totals
    assert total.register - total.posted == CHANGE - HAND_ENTRY
    assert "difference" in late.output


def test_a_month_without_payroll_or_postings_reconciles_empty(env) -> None:
    """October 2025 (before the seed's first pay period): no register, nothing posted."""
    answer = _cli("reconcile", "2025-10", "--legal-entity", COMPANY)
    assert answer.exit_code == 0, answer.output
    values, _ = PartitionFilesIOManager().load_partitions(ASSET_KEY, [f"{COMPANY}|2025-10"])
    result = values[f"{COMPANY}|2025-10"]
    assert result.reconciliation.rows == () and result.runs == ()


def test_a_bad_month_or_company_is_a_usage_error_and_runs_nothing(env) -> None:
    assert _cli("reconcile", "2026-13", "--legal-entity", COMPANY).exit_code == 2
    assert _cli("reconcile", MONTH, "--legal-entity", "NOPE").exit_code == 2
    # Refused before any instance was opened: no DAGSTER_HOME, so no run and no partition.
    assert not env["home"].exists()
