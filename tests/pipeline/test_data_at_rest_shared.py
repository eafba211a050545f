"""Payroll data at rest in the database, after a real materialization against the sandbox.

The same promises as ``test_data_at_rest.py`` makes for files, kept by the shared backend a
scaled-out deployment uses: the rows of ``stored_values`` hold no worker id or amount in clear,
a value comes back exactly (Decimal to the cent), a tampered row is named by the history read
and not fatal to it, and ``audit`` puts the values in the audit database itself.
"""

import json
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from ml_connector_dagster.audit.stored_values import dispose_engines
from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager
from ml_connector_dagster.defs.payroll.assets import labor_cost_journals, payroll_cost_snapshot
from ml_connector_dagster.payroll.snapshot import PeriodSnapshot
from ml_connector_dagster.storage.database import STORED_VALUES
from ml_connector_sandbox.server import Sandbox
from tests.pipeline.test_data_at_rest import pay_amounts
from tests.pipeline_support import materialize, pipeline_env
from tests.storage_support import Stored, stored_on

COMPANY = "USMF"


@pytest.fixture(params=["audit", pytest.param("postgres", marks=pytest.mark.postgres)])
def materialized(
    request, fresh_sandbox: Sandbox, sandbox_env, tmp_path: Path, monkeypatch, empty_database
) -> dict[str, Any]:
    """One real payroll run with its values in the database; the rows and the run's outputs."""
    env = pipeline_env(fresh_sandbox, tmp_path, monkeypatch)
    env["resources"]["io_manager"] = PartitionFilesIOManager()  # the setting decides
    if request.param == "audit":
        audit_url = env["resources"]["connector"].audit_url
        monkeypatch.setenv("ML_CONNECTOR_AUDIT_URL", audit_url)
        monkeypatch.setenv("ML_CONNECTOR_STORAGE_URL", "audit")
        stored = Stored("audit", "", audit_url)
        yield from _run(env, stored)
        dispose_engines()
        return
    with stored_on("postgres", tmp_path, monkeypatch, empty_database) as stored:
        yield from _run(env, stored)


def _run(env: dict, stored: Stored):
    with dg.instance_for_test() as instance:
        result = materialize(instance, env["resources"], env["period"], COMPANY)
        assert result.success
        snapshots = result.output_for_node("rippling__payroll_cost_snapshot")
        journals = result.output_for_node("ledger__labor_cost_journals")
        yield {
            **env,
            "stored": stored,
            "snapshot": next(iter(snapshots.values())),
            "journals": journals,
        }


def _rows(url: str) -> list[tuple[str, str, str]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as db:
            query = sa.select(
                STORED_VALUES.c.asset_path, STORED_VALUES.c.partition_key, STORED_VALUES.c.envelope
            )
            return [tuple(row) for row in db.execute(query)]
    finally:
        engine.dispose()


def test_the_rows_hold_no_worker_id_or_amount_in_clear(materialized) -> None:
    snapshot: PeriodSnapshot = materialized["snapshot"]
    records = snapshot.all_records()
    assert records
    secrets = {r.worker_id for r in records} | {str(a) for r in records for a in pay_amounts(r)}
    rows = _rows(materialized["stored"].url)
    assets = {asset for asset, _, _ in rows}
    assert {"rippling/payroll_cost_snapshot", "ledger/labor_cost_journals"} <= assets
    for asset, partition, envelope in rows:
        assert set(json.loads(envelope)) == {"format", "version", "token"}
        leaked = sorted(s for s in secrets if s in envelope)
        assert not leaked, f"{asset} [{partition}] holds {leaked[:5]} in clear"


def test_a_value_comes_back_exactly(materialized) -> None:
    manager = PartitionFilesIOManager()
    key = f"{COMPANY}|{materialized['period']}"
    snapshot = manager.load_value(payroll_cost_snapshot.key, key)
    journals = manager.load_value(labor_cost_journals.key, key)
    assert repr(snapshot) == repr(materialized["snapshot"])  # Decimal exponents too
    assert journals == materialized["journals"][key]


def test_history_reads_name_a_tampered_row(materialized) -> None:
    manager = PartitionFilesIOManager()
    key = f"{COMPANY}|{materialized['period']}"
    path = tuple(payroll_cost_snapshot.key.path)
    raw = materialized["stored"].raw(path, key)
    materialized["stored"].overwrite(path, key, raw[:-12] + b'tampered"}\n')
    found, unreadable = manager.load_partitions(
        payroll_cost_snapshot.key, [key, f"{COMPANY}|2026-01-15"]
    )
    assert found == {} and unreadable == [key]
