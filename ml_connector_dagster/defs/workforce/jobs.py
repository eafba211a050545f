"""The workforce sync job: the plan and its application, for the workers in its run config."""

import dagster as dg

from ml_connector_dagster.defs.run_limits import runtime_tags
from ml_connector_dagster.defs.workforce.assets import APPLIED_KEY, PLAN_KEY

workforce_job = dg.define_asset_job(
    "workforce_sync",
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
    return {"ops": {"dynamics__workforce_plan": {"config": config}}}
