"""Run one pay period end to end through Dagster without the UI (scripts, replay, cron).

The run is recorded in the Dagster instance like any other, so it shows in the UI with its
checks and metadata; the return value says whether a check blocked or a post failed. It runs in
this process, outside any run launcher, so it carries tags naming this process
(``stale_runs.process_tags``): if the process dies, ``stale_runs.free_dead_runs`` can tell and
free the run's pool slot.
"""

from dataclasses import dataclass, field

import dagster as dg

from ml_connector_dagster.defs.failures import step_failure_messages
from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager
from ml_connector_dagster.defs.payroll.assets import (
    labor_cost_journals,
    payroll_cost_snapshot,
    posted_journals,
)
from ml_connector_dagster.defs.payroll.launcher import OS_USER_TAG, os_user
from ml_connector_dagster.defs.payroll.partitions import (
    legal_entities,
    partition_key,
    pay_periods,
)
from ml_connector_dagster.defs.resources import ConnectorResource
from ml_connector_dagster.defs.stale_runs import TRIGGER_TAG, process_tags
from ml_connector_dagster.posting.status import JournalStatus

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
    status: str = ""  # posting/status.py JournalStatus value, when the posting step said one
    why: str = ""  # for "nothing to post": why not

    @property
    def nothing_to_post(self) -> bool:
        return self.success and self.status == JournalStatus.NOTHING_TO_POST.value


def run_partition(
    instance: dg.DagsterInstance,
    pay_period: str,
    company: str,
    resources: dict | None = None,
    tags: dict[str, str] | None = None,
) -> PartitionOutcome:
    # Call from the main thread only, one run at a time: Dagster reconfigures logging at every
    # run start, and two threads starting runs in one process deadlock inside ``logging``. The
    # CLI runs partitions one after another for that reason (tests/workforce/
    # test_no_runs_from_threads.py keeps thread pools away from run starts).
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
        tags={TRIGGER_TAG: "cli", OS_USER_TAG: os_user(), **process_tags(), **(tags or {})},
    )
    outcome = PartitionOutcome(pay_period, company, result.success, result.run_id)
    # Blocking checks only: a WARN check (plausible) that did not pass is for finance to read,
    # it stops nothing and must not show as a block.
    outcome.failed_checks = sorted(
        c.check_name
        for c in result.get_asset_check_evaluations()
        if not c.passed and c.severity is dg.AssetCheckSeverity.ERROR
    )
    for event in result.get_asset_materialization_events():
        if event.asset_key == posted_journals.key:
            metadata = event.materialization.metadata
            value = metadata.get("journal_batch_numbers")
            outcome.posted = dict(value.value) if value is not None else {}
            outcome.status = str(metadata["status"].value) if "status" in metadata else ""
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.ASSET_OBSERVATION:
            observation = event.asset_observation_data.asset_observation
            if observation.asset_key == posted_journals.key:
                outcome.status = str(observation.metadata["status"].value)
                outcome.why = str(observation.metadata["why"].value)
    if not result.success:
        outcome.error = "; ".join(step_failure_messages(result.all_events))
    return outcome
