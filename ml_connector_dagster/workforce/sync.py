"""One idempotent sync: Rippling workers -> desired state -> current state -> plan -> apply.

Every trigger ends here: a full sync (all workers), the webhook inbox (the workers named by
pending events, re-read from Rippling) and polling (workers changed since a watermark).

Before planning, people the worker map does not know are linked to the F&O workers they already
are (by e-mail, then by the number rule; ``desired.link_existing``), and the tenant's number
sequences decide whether new workers and vendors are numbered by the connector or by F&O
(``numbering``).
"""

import datetime as dt
from collections.abc import Iterable, Mapping
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
from ml_connector_dagster.workforce.current import (
    CurrentState,
    CurrentWorker,
    find_workers,
    load_identities,
    read_current,
)
from ml_connector_dagster.workforce.desired import (
    DesiredState,
    Identities,
    Linking,
    build_desired,
    link_existing,
    rippling_emails,
    rule_number,
)
from ml_connector_dagster.workforce.headcount import Headcount, headcount_differences
from ml_connector_dagster.workforce.numbering import resolve_numbering
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
    workers = list(workers)
    default_format, format_problem = read_default_format(dynamics, settings)
    numbering, _ = resolve_numbering(dynamics, mapping.companies, settings)
    everything = read_current(dynamics, mapping.companies) if full else None
    found = everything.workers if everything is not None else None
    if found is None:  # one read of the workers planned for and of those that may be linked
        found = find_workers(dynamics, *_worker_lookups(workers, identities, settings))
    linking = link_workers(workers, identities, settings, found)
    desired = build_desired(
        workers,
        mapping,
        settings,
        linking.identities,
        default_format,
        numbering=numbering,
        blocked=linking.blocked,
    )
    if everything is not None:
        current = everything
    else:
        numbers = list(desired.workers)
        accounts = [w.vendor.account for w in desired.workers.values() if w.vendor]
        current = read_current(
            dynamics,
            mapping.companies,
            numbers,
            [a for a in accounts if a is not None],
            workers=found,
        )
    plan = build_plan(desired, current, today=today, known_identities=identities)
    by_id = {w.id: w for w in workers}
    reports = tuple(
        Action(
            ActionKind.REPORT,
            number,
            worker_id,
            None,
            f"linked to the existing Dynamics worker {number} by {how}",
        )
        for worker_id, (number, how) in sorted(linking.links.items())
        if how != "number" and number != rule_number(by_id[worker_id], settings)
    )
    reports += tuple(
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


def _unlinked(workers: list[Worker], identities: Identities) -> list[Worker]:
    return [
        w
        for w in workers
        if w.id not in identities.by_worker and not (w.user_id and w.user_id in identities.by_user)
    ]


def _worker_lookups(
    workers: list[Worker], identities: Identities, settings: WorkforceSettings
) -> tuple[list[str], list[str]]:
    """E-mails and PersonnelNumbers to read F&O workers by: the mapped numbers, and the
    e-mails and rule numbers of people the map does not know."""
    unlinked = _unlinked(workers, identities)
    emails = [e for w in unlinked for e in rippling_emails(w)] if settings.link_by_email else []
    numbers = [n for w in unlinked if (n := rule_number(w, settings))]
    for w in workers:
        known = identities.by_worker.get(w.id) or (
            identities.by_user.get(w.user_id) if w.user_id else None
        )
        if known:
            numbers.append(known)
    return emails, numbers


def link_workers(
    workers: list[Worker],
    identities: Identities,
    settings: WorkforceSettings,
    found: Mapping[str, CurrentWorker],
) -> Linking:
    """Link the people the worker map does not know to existing F&O workers (``found``: every
    worker on a full sync, else those read by ``_worker_lookups``)."""
    if not _unlinked(workers, identities):
        return Linking(identities=identities, links={}, blocked={})
    return link_existing(workers, identities, settings, {n: w.email for n, w in found.items()})


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
    compared per company (reads only). People the map does not know yet are linked as the
    sync would link them (by e-mail, then number), so a tenant that already has its people
    does not count them twice."""
    workers = list(rippling.workers())
    current = read_current(dynamics, mapping.companies)
    linking = link_workers(workers, load_identities(store), settings, current.workers)
    desired = build_desired(workers, mapping, settings, linking.identities, blocked=linking.blocked)
    return headcount_differences(
        desired,
        current,
        as_of=as_of or clock.today(),
        companies=mapping.companies,
    )
