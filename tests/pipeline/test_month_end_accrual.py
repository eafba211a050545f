"""The month-end accrual of unpaid days end to end: the command, the asset, F&O read back.

USMF's seed: the pay period 2026-10-04..10-17 is paid 2026-10-23, 2026-10-18..10-31 is paid
2026-11-06 (in November). So October closes with 2026-10-18..10-31 unpaid: 10 working days,
as many as the basis period 2026-10-04..10-17 has, so October's accrual is exactly that
period's labor cost, which the settlement journal of that period, written to F&O by the
connector and read back here, says independently. November closes with all of 2026-11-01..30
unpaid (the run of 2026-11-14 is only approved): 21 working days on a 10-day basis.
"""

from collections import defaultdict
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from pipeline_support import admin, record_on_one_cost_center

from ml_connector_dagster.cli import main
from ml_connector_dagster.connections import Connection
from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager
from ml_connector_dagster.defs.month_end.reconciliation import ASSET_KEY as RECONCILIATION_KEY
from ml_connector_dagster.ledger.journal import JournalIdentity, JournalType
from ml_connector_sandbox.mapping import write_sandbox_mapping
from ml_connector_sandbox.server import Sandbox

COMPANY = "USMF"
LABOR = ("600",)  # the sandbox's labor-cost accounts all start so
ACCRUED = "220500"


@pytest.fixture
def env(fresh_sandbox: Sandbox, sandbox_env, tmp_path: Path, monkeypatch) -> dict:
    home = tmp_path / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    path = write_sandbox_mapping(fresh_sandbox.company, tmp_path / "mapping.yaml")
    text = path.read_text()
    mapping = yaml.safe_load(text)
    mapping["journal"]["month_end_accrual"] = True
    path.write_text(yaml.safe_dump(mapping, sort_keys=False))
    monkeypatch.setenv("ML_CONNECTOR_MAPPING", str(path))
    monkeypatch.delenv("ML_CONNECTOR_AUDIT_URL", raising=False)
    return {"sandbox": fresh_sandbox, "home": home, "tmp": tmp_path}


def _cli(*args: str):
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "250"}, catch_exceptions=False)


def _journals() -> tuple[list[dict], list[dict]]:
    with Connection.from_environment().dynamics() as client:
        headers = client.list_entities("LedgerJournalHeaders", filter="dataAreaId eq 'usmf'")
        lines = client.list_entities("LedgerJournalLines", filter="dataAreaId eq 'usmf'")
    return headers, lines


def _by_display(lines: list[dict], prefix: tuple[str, ...]) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        if line["AccountDisplayValue"].startswith(prefix):
            sums[line["AccountDisplayValue"]] += line["DebitAmount"] - line["CreditAmount"]
    return {k: v for k, v in sums.items() if v}


def _key(run_id: str, journal_type: JournalType) -> str:
    return JournalIdentity("default", run_id, COMPANY, journal_type).integration_key


def _accrual_journal(headers: list[dict], lines: list[dict], month: str):
    key = _key(f"month-end-{month}", JournalType.MONTH_END_ACCRUAL)
    [header] = [h for h in headers if h["IntegrationKey"] == key]
    mine = [line for line in lines if line["JournalBatchNumber"] == header["JournalBatchNumber"]]
    return header, mine


def test_october_accrues_the_unpaid_half_of_the_straddling_period(env) -> None:
    assert _cli("run", "--pay-period", "2026-10-17", "--legal-entity", COMPANY).exit_code == 0
    _, settled_lines = _journals()
    settlement = _by_display(settled_lines, LABOR)

    first = _cli("accrue", "2026-10", "--legal-entity", COMPANY)
    assert first.exit_code == 0, first.output
    assert "created in F&O, not posted" in first.output
    headers, lines = _journals()
    header, accrual = _accrual_journal(headers, lines, "2026-10")
    assert header["IsPosted"] == "No"
    assert _by_display(accrual, LABOR) == settlement  # 10 of 10 working days
    credits = [line for line in accrual if line["AccountDisplayValue"].startswith(ACCRUED)]
    assert sum(line["CreditAmount"] for line in credits) == sum(settlement.values())
    assert {line["TransDate"][:10] for line in accrual} == {"2026-10-31"}
    assert {line["ReverseEntry"] for line in accrual} == {"Yes"}
    assert {line["ReverseDate"][:10] for line in accrual} == {"2026-11-01"}

    # Again, from a fresh process: found in F&O by its identity, never written twice.
    again = _cli("accrue", "2026-10", "--legal-entity", COMPANY)
    assert again.exit_code == 0, again.output
    assert "already in F&O, not posted" in again.output
    assert _journals()[0] == headers

    # Posted, the accrual is no "other entry" of October's reconciliation: it is the
    # connector's estimate, set apart and shown beside the comparison.
    with admin(env["sandbox"], "dynamics") as fo:
        answer = fo.post(f"/_sandbox/journals/usmf/{header['JournalBatchNumber']}/post")
        assert answer.status_code == 200, answer.text
    assert _cli("reconcile", "2026-10", "--legal-entity", COMPANY).exit_code in (0, 3)
    values, _ = PartitionFilesIOManager().load_partitions(RECONCILIATION_KEY, ["USMF|2026-10"])
    result = values["USMF|2026-10"]
    assert result.reconciliation.other_entries == ()
    assert sum(e.amount for e in result.accruals) == sum(settlement.values())


def test_november_scales_the_latest_paid_period_to_the_unpaid_working_days(env) -> None:
    assert _cli("run", "--pay-period", "2026-10-31", "--legal-entity", COMPANY).exit_code == 0
    _, settled_lines = _journals()
    answer = _cli("accrue", "2026-11", "--legal-entity", COMPANY)
    assert answer.exit_code == 0, answer.output
    headers, lines = _journals()
    _, accrual = _accrual_journal(headers, lines, "2026-11")
    # The regular run's settlement only (the off-cycle bonus run of the same period is no
    # basis), found by its identity.
    regular = [
        run["id"]
        for run in env["sandbox"].company["rippling"]["payroll_runs"]
        if run["pay_period"]["end_date"] == "2026-10-31"
        and run["run_type"] == "REGULAR"
        and run["run_state"] == "PAID"
    ]
    keys = {_key(run_id, JournalType.SETTLEMENT) for run_id in regular}
    basis_batches = {h["JournalBatchNumber"] for h in headers if h["IntegrationKey"] in keys}
    assert basis_batches, "the regular run's settlement journal is in F&O"
    basis = sum(
        _by_display(
            [line for line in settled_lines if line["JournalBatchNumber"] in basis_batches], LABOR
        ).values()
    )
    accrued = sum(_by_display(accrual, LABOR).values())
    expected = (basis * Decimal(21) / Decimal(10)).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
    # Rounded per voucher: at most half a cent per voucher away from the whole-journal figure.
    vouchers = len({line["Voucher"] for line in accrual})
    assert abs(accrued - expected) <= Decimal("0.005") * vouchers
    credits = sum(
        line["CreditAmount"] for line in accrual if line["AccountDisplayValue"].startswith(ACCRUED)
    )
    assert credits == accrued


def test_accrue_refuses_when_the_mapping_has_it_off(env, tmp_path: Path, monkeypatch) -> None:
    path = write_sandbox_mapping(env["sandbox"].company, tmp_path / "off.yaml")
    monkeypatch.setenv("ML_CONNECTOR_MAPPING", str(path))
    answer = _cli("accrue", "2026-10", "--legal-entity", COMPANY)
    assert answer.exit_code == 1
    assert "journal.month_end_accrual" in answer.output
    assert not env["home"].exists()  # refused before any instance was opened


def _bump(sandbox: Sandbox, run_id: str, amount: Decimal) -> None:
    record = record_on_one_cost_center(sandbox, {run_id})
    first = record["earnings"][0]
    record["earnings"] = [
        {**first, "amount": str(Decimal(first["amount"]) + amount)},
        *record["earnings"][1:],
    ]
    record["gross_pay"] = str(Decimal(record["gross_pay"]) + amount)
    record["net_pay"] = str(Decimal(record["net_pay"]) + amount)
    with admin(sandbox, "rippling") as rippling:
        answer = rippling.put(
            f"/_sandbox/payroll-runs/{run_id}/worker-payroll-records/{record['id']}", json=record
        )
        assert answer.status_code in (200, 201), answer.text


def test_a_changed_basis_is_refused_then_corrected_on_request(env) -> None:
    """Rippling corrects the basis run after the accrual was written: the accrual run says so
    and writes nothing; with --correct the unposted accrual's lines are replaced; once posted,
    a further change gets a correcting journal. Factor 1 (October), so each change moves the
    accrual by exactly its amount."""
    [basis_run] = [
        run["id"]
        for run in env["sandbox"].company["rippling"]["payroll_runs"]
        if run["pay_period"]["end_date"] == "2026-10-17"
        and run["run_type"] == "REGULAR"
        and run["company_entity_id"] in _usmf_entity(env["sandbox"])
    ]
    assert _cli("accrue", "2026-10", "--legal-entity", COMPANY).exit_code == 0
    headers, lines = _journals()
    header, before = _accrual_journal(headers, lines, "2026-10")
    total_before = sum(_by_display(before, LABOR).values())

    _bump(env["sandbox"], basis_run, Decimal("30.00"))
    refused = _cli("accrue", "2026-10", "--legal-entity", COMPANY)
    assert refused.exit_code == 1
    assert "differs from the estimate now" in refused.output and "--correct" in refused.output
    assert _journals() == (headers, lines)  # nothing written

    fixed = _cli(
        "accrue", "2026-10", "--legal-entity", COMPANY, "--correct", "--requested-by", "Pat"
    )
    assert fixed.exit_code == 0, fixed.output
    assert "corrected" in fixed.output
    headers, lines = _journals()
    _, replaced = _accrual_journal(headers, lines, "2026-10")
    assert sum(_by_display(replaced, LABOR).values()) == total_before + Decimal("30.00")

    with admin(env["sandbox"], "dynamics") as fo:
        answer = fo.post(f"/_sandbox/journals/usmf/{header['JournalBatchNumber']}/post")
        assert answer.status_code == 200, answer.text
    # The seed's record plus 42.50 (each bump starts from the seed): 12.50 more than posted.
    _bump(env["sandbox"], basis_run, Decimal("42.50"))
    again = _cli(
        "accrue", "2026-10", "--legal-entity", COMPANY, "--correct", "--requested-by", "Pat"
    )
    assert again.exit_code == 0, again.output
    headers, lines = _journals()
    correction_key = JournalIdentity(
        "default", "month-end-2026-10", COMPANY, JournalType.MONTH_END_ACCRUAL, correction=1
    ).integration_key
    [correcting] = [h for h in headers if h["IntegrationKey"] == correction_key]
    mine = [
        line for line in lines if line["JournalBatchNumber"] == correcting["JournalBatchNumber"]
    ]
    assert sum(_by_display(mine, LABOR).values()) == Decimal("12.50")
    assert {line["TransDate"][:10] for line in mine} == {"2026-10-31"}


def _usmf_entity(sandbox: Sandbox) -> set[str]:
    return {
        e["id"]
        for e in sandbox.company["rippling"]["company_legal_entities"]
        if e["legal_name"] == "Northwind Advisory Inc."
    }
