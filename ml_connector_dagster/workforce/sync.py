"""One idempotent sync: Rippling workers -> desired state -> current state -> plan -> apply.

Every trigger ends here: a full sync (all workers), the webhook inbox (the workers named by
pending events, re-read from Rippling) and polling (workers changed since a watermark).
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from ml_connector_dagster import clock
from ml_connector_dagster.audit.store import AuditStore
from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.config.workforce import WorkforceSettings
from ml_connector_dagster.dynamics import readers
from ml_connector_dagster.dynamics.client import DynamicsClient
from ml_connector_dagster.dynamics.readers import DimensionFormat
from ml_connector_dagster.rippling.client import RipplingClient
from ml_connector_dagster.rippling.models import Worker
from ml_connector_dagster.workforce.apply import ApplyResult, apply_plan
from ml_connector_dagster.workforce.current import CurrentState, load_identities, read_current
from ml_connector_dagster.workforce.desired import DesiredState, Identities, build_desired
from ml_connector_dagster.workforce.headcount import Headcount, headcount_differences
from ml_connector_dagster.workforce.plan import Action, ActionKind, Plan, build_plan


@dataclass
class SyncOutcome:
    desired: DesiredState
    current: CurrentState
    plan: Plan
    result: ApplyResult | None  # None for a dry run


def plan_sync(
    workers: Iterable[Worker],
    *,
    dynamics: DynamicsClient,
    mapping: PayrollMapping,
    settings: WorkforceSettings,
    identities: Identities,
    today: dt.date,
    full: bool,
    gone: Iterable[str] = (),
) -> tuple[DesiredState, CurrentState, Plan]:
    """Read Dynamics for the desired workers (or all of it when ``full``) and plan."""
    default_format, format_problem = read_default_format(dynamics, settings)
    desired = build_desired(workers, mapping, settings, identities, default_format)
    numbers = None if full else list(desired.workers)
    accounts = None if full else [w.vendor.account for w in desired.workers.values() if w.vendor]
    current = read_current(dynamics, mapping.companies, numbers, accounts)
    plan = build_plan(desired, current, today=today, known_identities=identities)
    reports = tuple(
        Action(
            ActionKind.REPORT,
            identities.by_worker.get(worker_id),
            worker_id,
            None,
            "gone from Rippling (deleted or no longer visible): Dynamics left unchanged",
        )
        for worker_id in gone
    )
    if format_problem:
        reports += (Action(ActionKind.REPORT, None, None, None, format_problem),)
    if reports:
        plan = Plan(actions=plan.actions + reports, identities=plan.identities)
    return desired, current, plan


def read_default_format(
    dynamics: DynamicsClient, settings: WorkforceSettings
) -> tuple[DimensionFormat | None, str | None]:
    """F&O's active default dimension format, or why employment dimensions are not written.

    Employments' and vendors' default dimensions follow this format, not the ledger's. Without
    an active one (or with two) F&O cannot read a value we send, so no dimension is written and
    the plan says why; workers, employments and vendors are still kept in step.
    """
    if not settings.employment_dimensions:
        return None, None
    try:
        return readers.active_format(dynamics, readers.DEFAULT_FORMAT), None
    except readers.ReferenceDataError as exc:
        return None, f"employment and vendor dimensions not written: {exc}"


def sync_workers(
    workers: Iterable[Worker],
    *,
    dynamics: DynamicsClient,
    store: AuditStore,
    mapping: PayrollMapping,
    settings: WorkforceSettings,
    today: dt.date | None = None,
    full: bool = False,
    dry_run: bool = False,
    gone: Iterable[str] = (),
    dagster_run_id: str | None = None,
) -> SyncOutcome:
    """Plan and (unless ``dry_run``) apply; a dry run writes nothing anywhere."""
    identities = load_identities(store)
    desired, current, plan = plan_sync(
        workers,
        dynamics=dynamics,
        mapping=mapping,
        settings=settings,
        identities=identities,
        today=today or clock.today(),
        full=full,
        gone=gone,
    )
    result = None
    if not dry_run:
        result = apply_plan(
            plan, dynamics, store, connection=mapping.connection, dagster_run_id=dagster_run_id
        )
    return SyncOutcome(desired, current, plan, result)


def read_headcount(
    *,
    rippling: RipplingClient,
    dynamics: DynamicsClient,
    store: AuditStore,
    mapping: PayrollMapping,
    settings: WorkforceSettings,
    as_of: dt.date | None = None,
) -> list[Headcount]:
    """Every worker from Rippling, every employment of the mapped companies from Dynamics,
    compared per company (reads only)."""
    desired = build_desired(rippling.workers(), mapping, settings, load_identities(store))
    current = read_current(dynamics, mapping.companies)
    return headcount_differences(
        desired,
        current,
        as_of=as_of or clock.today(),
        companies=mapping.companies,
    )
