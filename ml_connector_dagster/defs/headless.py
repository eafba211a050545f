"""Run one pay period end to end through Dagster without the UI (scripts, replay, cron).

The run is recorded in the Dagster instance like any other, so it shows in the UI with its
checks and metadata; the return value says whether a check blocked or a post failed.
"""

from dataclasses import dataclass, field

import dagster as dg

from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager
from ml_connector_dagster.defs.partitions import legal_entities, partition_key, pay_periods
from ml_connector_dagster.defs.payroll import (
    labor_cost_journals,
    payroll_cost_snapshot,
    posted_journals,
)
from ml_connector_dagster.defs.resources import ConnectorResource

PAYROLL_SELECTION = [payroll_cost_snapshot, labor_cost_journals, posted_journals]


@dataclass
class PartitionOutcome:
    pay_period: str
    company: str
    success: bool
    run_id: str
    failed_checks: list[str] = field(default_factory=list)
    posted: dict[str, list[str]] = field(default_factory=dict)  # payroll run id -> batch numbers
    error: str = ""


def run_partition(
    instance: dg.DagsterInstance,
    pay_period: str,
    company: str,
    resources: dict | None = None,
    tags: dict[str, str] | None = None,
) -> PartitionOutcome:
    key = partition_key(pay_period, company)
    instance.add_dynamic_partitions(pay_periods.name, [pay_period])
    instance.add_dynamic_partitions(legal_entities.name, [company])
    result = dg.materialize(
        PAYROLL_SELECTION,
        instance=instance,
        resources=resources
        or {"connector": ConnectorResource(), "io_manager": PartitionFilesIOManager()},
        partition_key=key,
        raise_on_error=False,
        tags={"ml_connector/trigger": "cli", **(tags or {})},
    )
    outcome = PartitionOutcome(pay_period, company, result.success, result.run_id)
    outcome.failed_checks = sorted(
        c.check_name for c in result.get_asset_check_evaluations() if not c.passed
    )
    for event in result.get_asset_materialization_events():
        if event.asset_key == posted_journals.key:
            value = event.materialization.metadata.get("journal_batch_numbers")
            outcome.posted = dict(value.value) if value is not None else {}
    if not result.success:
        failures = [e for e in result.all_events if e.is_step_failure]
        outcome.error = "; ".join(
            str(e.step_failure_data.error.message).strip().splitlines()[0]
            for e in failures
            if e.step_failure_data and e.step_failure_data.error
        )
    return outcome
