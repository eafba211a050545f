"""Helpers for Dagster tests against the sandbox: env, mapping file, runs, reading F&O back.

The runs are the product's own assets materialized on a real instance, so a test exercises
what Dagster runs, not a copy of it.
"""

from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import httpx

from ml_connector_dagster.defs import tables
from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager
from ml_connector_dagster.defs.payroll.assets import (
    labor_cost_journals,
    payroll_cost_snapshot,
    posted_journals,
)
from ml_connector_dagster.defs.payroll.partitions import legal_entities, partition_key, pay_periods
from ml_connector_dagster.defs.payroll.workforce import WORKFORCE_KEY
from ml_connector_dagster.defs.resources import ConnectorResource
from ml_connector_dagster.defs.workforce.assets import PlannedSync, workforce_plan, workforce_sync
from ml_connector_sandbox.mapping import write_sandbox_mapping
from ml_connector_sandbox.server import Sandbox

PAYROLL = [payroll_cost_snapshot, labor_cost_journals, posted_journals]
WORKFORCE = [workforce_plan, workforce_sync]


def resources(tmp_path: Path, mapping_path: Path) -> dict[str, Any]:
    return {
        "connector": ConnectorResource(
            mapping_path=str(mapping_path), audit_url=f"sqlite:///{tmp_path / 'audit.sqlite'}"
        ),
        "io_manager": PartitionFilesIOManager(base_dir=str(tmp_path / "storage")),
    }


def materialize(
    instance: dg.DagsterInstance, res: dict, period: str, company: str, **kwargs: Any
) -> dg.ExecuteInProcessResult:
    instance.add_dynamic_partitions(pay_periods.name, [period])
    instance.add_dynamic_partitions(legal_entities.name, [company])
    return dg.materialize(
        PAYROLL,
        instance=instance,
        resources=res,
        partition_key=partition_key(period, company),
        raise_on_error=False,
        **kwargs,
    )


def payroll_materializations(result: dg.ExecuteInProcessResult) -> list[dg.DagsterEvent]:
    """The run's materializations of the payroll assets: the period's workforce read, which a
    snapshot step records even when its checks then block, left out."""
    return [
        event
        for event in result.get_asset_materialization_events()
        if event.asset_key != WORKFORCE_KEY
    ]


def sync_workforce(
    instance: dg.DagsterInstance, res: dict, request: dg.RunRequest | None = None
) -> dg.ExecuteInProcessResult:
    """The workforce job's assets, as a sensor's request asks (none: the schedule's full sync)."""
    return dg.materialize(
        WORKFORCE,
        instance=instance,
        resources=res,
        run_config=request.run_config if request is not None else {},
        tags=dict(request.tags) if request is not None else None,
        raise_on_error=False,
    )


def planned(result: dg.ExecuteInProcessResult) -> PlannedSync:
    """The plan a workforce run computed (the value of ``workforce_plan``)."""
    return result.output_for_node("dynamics__workforce_plan")


def table_rows(value: dg.TableMetadataValue) -> list[dict[str, Any]]:
    """The records of table metadata (a check's ``details``, an asset's review table)."""
    assert isinstance(value, dg.TableMetadataValue), value
    return tables.cells(value)


def table_text(value: dg.TableMetadataValue) -> str:
    """Every cell of table metadata as text, one line per record, for "does it name X" checks."""
    return "\n".join(" | ".join(str(cell) for cell in row.values()) for row in table_rows(value))


def admin(sandbox: Sandbox, service: str) -> httpx.Client:
    return httpx.Client(
        base_url=sandbox.urls[service], verify=sandbox.client_ssl_context(), timeout=60
    )


def sandbox_writes(sandbox: Sandbox) -> int:
    """Every write the F&O stand-in has taken (creates, updates, deletes): "nothing written"
    is this number unchanged."""
    with admin(sandbox, "dynamics") as fo:
        writes = fo.get("/_sandbox/stats").json()["writes"]
    return sum(entity["total"] for entity in writes.values())


def headers(sandbox: Sandbox, client) -> list[dict[str, Any]]:
    return client.list_entities("LedgerJournalHeaders")


def lines_by_batch(client) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in client.list_entities("LedgerJournalLines"):
        grouped[line["JournalBatchNumber"]].append(line)
    return grouped


def rippling_period_totals(sandbox: Sandbox, run_ids: set[str]) -> dict[str, Decimal]:
    """Rippling's own gross and net totals of runs, computed from the seed file."""
    gross = net = Decimal("0.00")
    for record in sandbox.company["rippling"]["worker_payroll_records"]:
        if record["run_id"] in run_ids:
            gross += Decimal(record["gross_pay"])
            net += Decimal(record["net_pay"])
    return {"gross": gross, "net": net}


USMF_LEGAL_NAME = "Northwind Advisory Inc."


def latest_paid_period(sandbox: Sandbox, legal_name: str = USMF_LEGAL_NAME) -> tuple[str, list]:
    """The newest pay period with a PAID run of a company, and that period's PAID runs."""
    rippling = sandbox.company["rippling"]
    entity = next(
        e["id"] for e in rippling["company_legal_entities"] if e["legal_name"] == legal_name
    )
    paid = [
        r
        for r in rippling["payroll_runs"]
        if r["run_state"] == "PAID" and r["company_entity_id"] == entity
    ]
    period = max(r["pay_period"]["end_date"] for r in paid)
    return period, [r for r in paid if r["pay_period"]["end_date"] == period]


def pipeline_env(sandbox: Sandbox, tmp_path: Path, monkeypatch: Any) -> dict[str, Any]:
    """DAGSTER_HOME in tmp, the sandbox mapping, the newest paid period of USMF, resources."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    mapping = write_sandbox_mapping(sandbox.company, tmp_path / "mapping.yaml")
    period, period_runs = latest_paid_period(sandbox)
    return {
        "sandbox": sandbox,
        "tmp": tmp_path,
        "mapping": mapping,
        "period": period,
        "runs": period_runs,
        "resources": resources(tmp_path, mapping),
    }


def switch_active_ledger_format(sandbox: Sandbox) -> None:
    """Make F&O's active ledger format another one (Department before BusinessUnit)."""
    with admin(sandbox, "dynamics") as fo:
        for name, active in (("PayrollLedgerFormat", "No"), ("LegacyLedgerFormat", "Yes")):
            answer = fo.patch(
                "/_sandbox/entities/DimensionIntegrationFormats",
                json={
                    "key": {
                        "DimensionFormatName": name,
                        "DimensionFormatType": "DataEntityLedgerDimensionFormat",
                    },
                    "values": {"IsActive": active},
                },
            )
            assert answer.status_code in (200, 204), answer.text


def period_companies(sandbox: Sandbox, period: str) -> list[str]:
    """The F&O companies with a PAID run ending on ``period``, from the seed."""
    rippling, dynamics = sandbox.company["rippling"], sandbox.company["dynamics"]
    names = {e["id"]: e["legal_name"] for e in rippling["company_legal_entities"]}
    by_name = {le["Name"]: le["LegalEntityId"].upper() for le in dynamics["LegalEntities"]}
    return sorted(
        {
            by_name[names[run["company_entity_id"]]]
            for run in rippling["payroll_runs"]
            if run["run_state"] == "PAID" and run["pay_period"]["end_date"] == period
        }
    )


def record_on_one_cost_center(sandbox: Sandbox, run_ids: set[str]) -> dict:
    """A payroll record of ``run_ids`` whose worker's cost sits on one place (no time entries,
    no enabled time split, at most one job assignment): a change to it moves one expense line
    by the whole amount (other workers' cost is split by hours or percentages). Returned as a copy
    to change and send to the sandbox."""
    rippling = sandbox.company["rippling"]
    timed = {e["worker_id"] for e in rippling["time_entries"]}
    timed |= {s["worker_id"] for s in rippling["worker_time_splits"] if s["is_enabled"]}
    held: dict[str, int] = {}
    for assignment in rippling["job_assignments"]:
        held[assignment["worker_id"]] = held.get(assignment["worker_id"], 0) + 1
    return next(
        dict(r)
        for r in rippling["worker_payroll_records"]
        if r["run_id"] in run_ids
        and r["worker_id"] not in timed
        and held.get(r["worker_id"], 0) <= 1
    )
