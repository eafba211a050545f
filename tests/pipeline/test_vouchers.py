"""Vouchers follow the journal name: F&O's series numbers them unless it wants them on the lines.

Both ways every voucher F&O holds must balance, and the sandbox refuses the wrong way (a voucher
on a series-numbered journal name, none on a "Manually" one), so a green run here is the
connector reading the journal name, not luck.
"""

from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
from pipeline_support import admin, lines_by_batch, materialize, pipeline_env

from ml_connector_dagster.connections import Connection
from ml_connector_sandbox.server import Sandbox

COMPANY = "USMF"


@pytest.fixture
def env(fresh_sandbox: Sandbox, sandbox_env, tmp_path: Path, monkeypatch) -> dict:
    return pipeline_env(fresh_sandbox, tmp_path, monkeypatch)


def _journal_name(sandbox: Sandbox) -> dict:
    with Connection.from_environment().dynamics() as fo:
        [row] = fo.list_entities(
            "JournalNames", filter=f"dataAreaId eq '{COMPANY.lower()}' and Name eq 'PAYROLL'"
        )
    return row


def _posted_lines() -> list[dict]:
    with Connection.from_environment().dynamics() as fo:
        return [line for lines in lines_by_batch(fo).values() for line in lines]


def _balance_by_voucher(lines: list[dict]) -> dict[str, Decimal]:
    balance: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        balance[line["Voucher"]] += Decimal(str(line.get("DebitAmount") or 0)) - Decimal(
            str(line.get("CreditAmount") or 0)
        )
    return balance


def _materialize(env) -> dg.ExecuteInProcessResult:
    with dg.instance_for_test() as instance:
        result = materialize(instance, env["resources"], env["period"], COMPANY)
    assert result.success
    return result


def test_a_series_numbered_journal_name_numbers_every_voucher_and_each_balances(env) -> None:
    series = _journal_name(env["sandbox"])["VoucherSeriesCode"]
    assert series and _journal_name(env["sandbox"])["NewVoucher"] != "Manually"
    _materialize(env)
    lines = _posted_lines()
    balances = _balance_by_voucher(lines)
    assert lines and len(balances) > 1
    assert all(voucher.startswith(series) for voucher in balances), sorted(balances)[:3]
    assert set(balances.values()) == {Decimal("0")}


def test_a_manually_numbered_journal_name_gets_the_connectors_balanced_vouchers(env) -> None:
    with admin(env["sandbox"], "dynamics") as fo:
        answer = fo.patch(
            "/_sandbox/entities/JournalNames",
            json={
                "key": {"dataAreaId": COMPANY.lower(), "Name": "PAYROLL"},
                "values": {"NewVoucher": "Manually"},
            },
        )
        assert answer.status_code in (200, 204), answer.text
    series = _journal_name(env["sandbox"])["VoucherSeriesCode"]
    _materialize(env)
    lines = _posted_lines()
    balances = _balance_by_voucher(lines)
    assert lines and len(balances) > 1
    assert not any(voucher.startswith(series) for voucher in balances)
    assert all(voucher.startswith("PR") for voucher in balances), sorted(balances)[:3]
    assert set(balances.values()) == {Decimal("0")}
