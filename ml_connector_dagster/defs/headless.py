"""One pay period end to end through Dagster without the UI: what the commands submit, and
what a payroll run did.

``submit_partition`` is the commands' way (``ml-connector run`` / ``replay``): a run of the real
``payroll_to_ledger`` job through the instance's run queue, executed by a run worker, followed to
its end (``defs/submit.py``). ``run_partition`` executes the same assets in this process
(``dg.materialize``, as ``__ephemeral_asset_job__``, outside the queue): only for benchmarks and
tests that inject resources; its runs carry tags naming this process (``stale_runs``).
``outcome_from_events`` reads either run's events into the row the commands print.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import dagster as dg

from ml_connector_dagster.defs.failures import step_failure_messages
from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager
from ml_connector_dagster.defs.payroll.assets import (
    labor_cost_journals,
    payroll_cost_snapshot,
    posted_journals,
)
from ml_connector_dagster.defs.payroll.jobs import payroll_job
from ml_connector_dagster.defs.payroll.launcher import OS_USER_TAG, os_user
from ml_connector_dagster.defs.payroll.partitions import (
    legal_entities,
    partition_key,
    pay_periods,
    payroll_partitions,
)
from ml_connector_dagster.defs.resources import ConnectorResource
from ml_connector_dagster.defs.stale_runs import TRIGGER_TAG, process_tags
from ml_connector_dagster.defs.submit import QueueState, follow_run, submit_job_run
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
    return outcome_from_events(
        pay_period, company, result.success, result.run_id, result.all_events
    )


def outcome_from_events(
    pay_period: str, company: str, success: bool, run_id: str, events: Iterable[dg.DagsterEvent]
) -> PartitionOutcome:
    """What a payroll run did, read from its events (in process, or from the instance for a run
    submitted to the queue: ``submit_partition``)."""
    events = list(events)
    outcome = PartitionOutcome(pay_period, company, success, run_id)
    # Blocking checks only: a WARN check (plausible) that did not pass is for finance to read,
    # it stops nothing and must not show as a block.
    outcome.failed_checks = sorted(
        e.asset_check_evaluation_data.check_name
        for e in events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        and not e.asset_check_evaluation_data.passed
        and e.asset_check_evaluation_data.severity is dg.AssetCheckSeverity.ERROR
    )
    for event in events:
        if (
            event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
            and event.asset_key == posted_journals.key
        ):
            metadata = event.materialization.metadata
            value = metadata.get("journal_batch_numbers")
            outcome.posted = dict(value.value) if value is not None else {}
            outcome.status = str(metadata["status"].value) if "status" in metadata else ""
    for event in events:
        if event.event_type == dg.DagsterEventType.ASSET_OBSERVATION:
            observation = event.asset_observation_data.asset_observation
            if observation.asset_key == posted_journals.key:
                outcome.status = str(observation.metadata["status"].value)
                outcome.why = str(observation.metadata["why"].value)
    if not success:
        outcome.error = "; ".join(step_failure_messages(events))
    return outcome


def cli_tags(pay_period: str, company: str, trigger: str = "cli") -> dict[str, str]:
    """The tags of a run a command submits: its partition as the UI and sensors tag it
    (``dagster/partition`` and one ``dagster/partition/<dimension>`` each), who launched it.

    No process tags: the run executes in a run worker, which tags itself
    (``ConnectorResource.setup_for_execution``), so ``stale_runs`` watches the right pid.
    """
    key = partition_key(pay_period, company)
    return {**payroll_partitions.get_tags_for_partition_key(str(key)), **cli_trigger_tags(trigger)}


def cli_trigger_tags(trigger: str = "cli") -> dict[str, str]:
    """Who launched a command's run: the trigger and the OS user (the audit trail's
    ``triggered_by``)."""
    return {TRIGGER_TAG: trigger, OS_USER_TAG: os_user()}


def submit_partition(
    workspace_context,
    pay_period: str,
    company: str,
    on_event: Callable[[dg.DagsterEvent], None] = lambda _event: None,
    on_queue: Callable[[QueueState], None] | None = None,
) -> PartitionOutcome:
    """One pay period x company as a run of the real ``payroll_to_ledger`` job, submitted to
    the instance's run queue and followed to its end (``defs/submit.py``)."""
    instance: dg.DagsterInstance = workspace_context.instance
    instance.add_dynamic_partitions(pay_periods.name, [pay_period])
    instance.add_dynamic_partitions(legal_entities.name, [company])
    run = submit_job_run(workspace_context, payroll_job.name, tags=cli_tags(pay_period, company))
    events: list[dg.DagsterEvent] = []

    def collect(event: dg.DagsterEvent) -> None:
        events.append(event)
        on_event(event)

    ended = follow_run(workspace_context, run.run_id, collect, on_queue)
    success = ended.status == dg.DagsterRunStatus.SUCCESS
    return outcome_from_events(pay_period, company, success, run.run_id, events)
