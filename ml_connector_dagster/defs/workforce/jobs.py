"""The workforce sync job: the plan and its application, for the workers in its run config."""

from collections.abc import Callable

import dagster as dg

from ml_connector_dagster.defs import naming
from ml_connector_dagster.defs.run_limits import runtime_tags
from ml_connector_dagster.defs.submit import QueueState, follow_run, submit_job_run
from ml_connector_dagster.defs.workforce.assets import APPLIED_KEY, PLAN_KEY

workforce_job = dg.define_asset_job(
    naming.name("workforce_sync"),
    selection=dg.AssetSelection.assets(PLAN_KEY, APPLIED_KEY),
    description="Align Dynamics workers, employments and contractor vendors with Rippling.",
    tags=runtime_tags(),
)


def worker_selection(
    worker_ids: list[str],
    inbox_ids: list[int] | None = None,
    employee_ids: list[str] | None = None,
) -> dict:
    """The job's run config: v2 worker ids (polling), Rippling employee ids (webhooks, v1
    activity; resolved in the run) and the inbox rows behind them. No ids at all: everyone."""
    config = {
        "worker_ids": sorted(set(worker_ids)),
        "employee_ids": sorted(set(employee_ids or [])),
        "inbox_ids": sorted(inbox_ids or []),
    }
    return {"ops": {PLAN_KEY.to_python_identifier(): {"config": config}}}


def submit_workforce_sync(
    workspace_context,
    worker_ids: list[str],
    *,
    today: str = "",
    mapping_path: str = "",
    tags: dict[str, str] | None = None,
    on_event: Callable[[dg.DagsterEvent], None] = lambda _event: None,
    on_queue: Callable[[QueueState], None] | None = None,
) -> tuple[dg.DagsterRun, list[dg.DagsterEvent]]:
    """A run of the real ``workforce_sync`` job (the CLI's way, ``defs/submit.py``): submitted
    to the run queue and followed to its end; the run and its events.

    ``mapping_path`` (``--mapping``) is the connector resource's config of this run, so it holds
    however the run is launched (by this command's code server or by the daemon).
    """
    run_config = worker_selection(worker_ids)
    run_config["ops"][PLAN_KEY.to_python_identifier()]["config"]["today"] = today
    if mapping_path:
        run_config["resources"] = {"connector": {"config": {"mapping_path": mapping_path}}}
    run = submit_job_run(
        workspace_context, workforce_job.name, tags=tags or {}, run_config=run_config
    )
    events: list[dg.DagsterEvent] = []

    def collect(event: dg.DagsterEvent) -> None:
        events.append(event)
        on_event(event)

    return follow_run(workspace_context, run.run_id, collect, on_queue), events
