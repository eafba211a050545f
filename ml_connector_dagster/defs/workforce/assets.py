"""Workforce alignment in Dagster: the plan, the applied result, the headcount check.

Three ways in, one idempotent sync (``sensors.py``, ``schedules.py``): the webhook-inbox sensor
and the polling sensor request a run for just the workers they saw change; the daily schedule
runs a full sync. The payload of a webhook is only a hint: workers are always re-read from
Rippling.

Webhooks (and v1 ``company_activity``, when polling reads it) carry Rippling *employee* ids
(``employee_ids`` in run config), which are resolved to v2 workers here, in the run, not in the
sensors (``workforce/resolve.py``): the resolution's
first try, ``GET /workers/{id}/``, is the very re-read the plan needs, so nothing is read twice;
a sensor tick stays a quick look at the inbox that needs no Rippling call (and no Rippling
outage); a throttle or server error fails the run with its events still pending, to be
requested again. An id that resolves to nothing is logged, shown in the run's metadata and
reported in the plan like a worker gone from Rippling, so its event is answered (marked
processed after a clean apply) instead of being retried forever.

One bad event must not block the others (issue 11): an id whose resolution fails for it alone
(``resolve.Resolution.failed``) has its events dead-lettered with the reason at once, and the
run goes on with the rest. After the apply, an event is marked processed unless a write for a
person it named failed (that write may succeed next time, so its events stay pending); the
events of everyone else are answered even when another person's write failed.
"""

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import dagster as dg
from pydantic import Field

from ml_connector_dagster import clock
from ml_connector_dagster.audit.store import AuditStore
from ml_connector_dagster.defs import naming, tables
from ml_connector_dagster.defs.pools import DYNAMICS_POOL
from ml_connector_dagster.defs.resources import ConnectorResource
from ml_connector_dagster.workforce.apply import ApplyResult, apply_plan
from ml_connector_dagster.workforce.apply import Outcome as ApplyOutcome
from ml_connector_dagster.workforce.current import load_identities
from ml_connector_dagster.workforce.plan import Plan
from ml_connector_dagster.workforce.resolve import Resolution, resolve_employees
from ml_connector_dagster.workforce.sync import plan_sync, read_headcount
from ml_connector_dagster.workforce.triggers import reread_workers

GROUP = naming.name("workforce")
PLAN_KEY = naming.asset_key("dynamics", "workforce_plan")
APPLIED_KEY = naming.asset_key("dynamics", "workforce_sync")
CHANGE_COLUMNS = (
    tables.text("action"),
    tables.text("PersonnelNumber"),
    tables.text("company"),
    tables.text("what"),
)
RESULT_COLUMNS = (
    tables.text("action"),
    tables.text("PersonnelNumber"),
    tables.text("company"),
    tables.text("outcome"),
    tables.text("Dynamics answer"),
)
HEADCOUNT_COLUMNS = (
    tables.text("company"),
    tables.count("Rippling", "employed per Rippling"),
    tables.count("Dynamics", "with an open employment in Dynamics"),
    tables.text("only in Rippling", "the first 20"),
    tables.text("only in Dynamics", "the first 20"),
)


class WorkerSelection(dg.Config):
    """Which workers to sync: the ids a trigger saw change, or everyone when both are empty.

    ``worker_ids`` are v2 worker ids (polling). ``employee_ids`` are Rippling employee ids (a
    webhook's ``id``, v1 activity), resolved to workers in the run. ``inbox_ids`` are the
    webhook inbox rows behind the request; they are marked processed only once the sync applied
    without a failed write, so a failed run leaves them pending.
    """

    worker_ids: list[str] = Field(default_factory=list)
    employee_ids: list[str] = Field(default_factory=list)
    inbox_ids: list[int] = Field(default_factory=list)
    # The date the plan treats as today (YYYY-MM-DD; `ml-connector workforce sync --today`);
    # empty: today on the connector's clock.
    today: str = ""


@dataclass(frozen=True)
class PlannedSync:
    """The plan, and the inbox rows it answers (marked processed after a clean apply).

    ``inbox_people`` says, for the inbox rows whose ids were resolved in this run, which people
    (desired-state PersonnelNumbers, or ``worker:<id>`` for a worker not in the desired state)
    each one named, so a failed write holds back only those rows; a row not in it is answered
    only by a clean apply.
    """

    plan: Plan
    inbox_ids: tuple[int, ...]
    inbox_people: Mapping[int, tuple[str, ...]] = field(default_factory=dict)


@dg.asset(
    key=PLAN_KEY,
    group_name=GROUP,
    kinds={"rippling", "dynamics365"},
    deps=[naming.asset_key("rippling", "workers")],
)
def workforce_plan(
    context: dg.AssetExecutionContext, config: WorkerSelection, connector: ConnectorResource
) -> dg.Output[PlannedSync]:
    """Desired state (Rippling) against current state (Dynamics): the actions to align them."""
    mapping = connector.mapping()
    settings = mapping.workforce
    with (
        connector.rippling() as rippling,
        connector.dynamics() as dynamics,
        connector.audit() as store,
    ):
        inbox_ids = list(config.inbox_ids)
        unresolved: list[str] = []
        dead: dict[int, str] = {}
        named: dict[str, tuple[str, ...]] = {}  # employee id -> the worker ids it resolved to
        if config.worker_ids or config.employee_ids:
            reread = reread_workers(rippling, config.worker_ids)
            chosen = {w.id: w for w in reread.workers}
            named.update((i, (i,)) for i in config.employee_ids if i in chosen)
            # An employee id equal to a worker id already re-read resolved to it: not read again.
            employee_ids = [i for i in config.employee_ids if i not in chosen]
            resolved = resolve_employees(rippling, employee_ids, logger=context.log)
            chosen.update((w.id, w) for w in resolved.workers if w.id not in chosen)
            named.update(
                (r.employee_id, tuple(w.id for w in r.workers)) for r in resolved.resolutions
            )
            unresolved = [f"{r.employee_id}: {r.reason}" for r in resolved.unresolved]
            dead = _dead_letter(store, inbox_ids, resolved.failed, context.log)
            inbox_ids = [i for i in inbox_ids if i not in dead]
            workers, full = list(chosen.values()), False
            gone = reread.gone + [
                r.employee_id
                for r in resolved.unresolved
                if not r.failed and r.employee_id not in reread.gone
            ]
        else:
            # A full sync re-reads everyone, so every hint waiting in the inbox is answered.
            inbox_ids += [row["id"] for row in store.pending_webhooks()]
            workers, gone, full = list(rippling.workers()), [], True
        desired, _, plan = plan_sync(
            workers,
            dynamics=dynamics,
            mapping=mapping,
            settings=settings,
            identities=load_identities(store),
            today=dt.date.fromisoformat(config.today) if config.today else clock.today(),
            full=full,
            gone=gone,
        )
        # Which people each inbox row named, so a failed write holds back only their events.
        person_of = {
            identity.rippling_worker_id: number
            for number, wanted in desired.workers.items()
            for identity in wanted.identities
        }
        inbox_people = {
            row["id"]: tuple(person_of.get(w, f"worker:{w}") for w in named[row["object_id"]])
            for row in store.webhooks(inbox_ids)
            if row["object_id"] in named
        }
    rows = [
        (a.kind.value, a.personnel_number or "", a.company or "", a.describe())
        for a in plan.actions
    ]
    triggered = len(config.worker_ids) + len(config.employee_ids)
    return dg.Output(
        PlannedSync(plan, tuple(sorted(set(inbox_ids))), inbox_people),
        metadata={
            "scope": "all workers" if full else f"{triggered} id(s) from a trigger",
            "unresolved_employee_ids": dg.MetadataValue.json(unresolved),
            "dead_lettered_events": dg.MetadataValue.json(
                [f"#{i}: {reason}" for i, reason in sorted(dead.items())]
            ),
            "writes_planned": len(plan.writes),
            "counts_by_action": dg.MetadataValue.json(plan.counts()),
            "summary": f"{len(plan.writes)} write(s) planned"
            if rows
            else "already aligned: nothing to write",
            "changes": tables.table(CHANGE_COLUMNS, rows),
        },
    )


@dg.asset(
    key=APPLIED_KEY,
    group_name=GROUP,
    kinds={"dynamics365"},
    pool=DYNAMICS_POOL,
    ins={"plan": dg.AssetIn(key=PLAN_KEY)},
    check_specs=[
        dg.AssetCheckSpec(
            "headcount_matches",
            asset=APPLIED_KEY,
            description="After the sync, Rippling and Dynamics agree on who is employed per legal"
            " entity (a warning, listing who differs).",
        )
    ],
)
def workforce_sync(
    context: dg.AssetExecutionContext, connector: ConnectorResource, plan: PlannedSync
):
    """The plan applied to Dynamics, each action with Dynamics' answer; one audit row per write."""
    mapping = connector.mapping()
    settings = mapping.workforce
    with connector.dynamics() as dynamics, connector.audit() as store:
        result = apply_plan(
            plan.plan,
            dynamics,
            store,
            connection=mapping.connection,
            dagster_run_id=context.run.run_id,
        )
        answered = _answered(plan, result)
        store.mark_webhooks_processed(answered)
        dead = store.note_refused_syncs(_refused(plan, result, answered))
        for inbox_id, reason in sorted(dead.items()):
            context.log.warning(f"Dead-lettered webhook event #{inbox_id}: {reason}")
        with connector.rippling() as rippling:
            headcount = read_headcount(
                rippling=rippling,
                dynamics=dynamics,
                store=store,
                mapping=mapping,
                settings=settings,
            )
    rows = [
        (
            r.action.kind.value,
            r.action.personnel_number or "",
            r.action.company or "",
            r.outcome,
            (r.error or _answer(r.answer))[:160],
        )
        for r in result.results
    ]
    yield dg.Output(
        None,
        metadata={
            "applied": len(result.applied),
            "failed": len(result.failed),
            "summary": f"{len(result.applied)} applied, {len(result.failed)} failed"
            if rows
            else "nothing to apply",
            "results": tables.table(RESULT_COLUMNS, rows),
            "counts_by_outcome": dg.MetadataValue.json(result.counts()),
        },
    )
    differing = [h for h in headcount if not h.matches]
    yield dg.AssetCheckResult(
        asset_key=APPLIED_KEY,
        check_name="headcount_matches",
        passed=not differing,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "headcount": tables.table(
                HEADCOUNT_COLUMNS,
                (
                    (
                        h.company,
                        h.rippling,
                        h.dynamics,
                        ", ".join(h.only_in_rippling[:20]),
                        ", ".join(h.only_in_dynamics[:20]),
                    )
                    for h in headcount
                ),
            ),
        },
    )
    if result.failed:
        raise dg.Failure(description=f"{len(result.failed)} workforce write(s) failed; see results")


def _dead_letter(
    store: AuditStore,
    inbox_ids: list[int],
    failed: list[Resolution],
    log: logging.Logger,
) -> dict[int, str]:
    """Dead-letter the inbox rows naming an employee id whose resolution failed for it alone;
    returns their ids with the reason. The id is shown with ``repr`` (it may hold anything)."""
    if not failed:
        return {}
    by_employee: dict[str, list[int]] = {}
    for row in store.webhooks(inbox_ids):
        by_employee.setdefault(row["object_id"], []).append(row["id"])
    dead: dict[int, str] = {}
    for resolution in failed:
        ids = by_employee.get(resolution.employee_id, [])
        reason = f"employee id {resolution.employee_id[:100]!r}: {resolution.reason}"
        store.dead_letter_webhooks(ids, reason)
        dead.update((i, reason) for i in ids)
        log.warning(f"Dead-lettered {len(ids)} webhook event(s) of {reason}")
    return dead


def _answered(planned: PlannedSync, result: ApplyResult) -> list[int]:
    """The inbox rows this apply answered: all of them when it was clean; otherwise those
    whose people (``PlannedSync.inbox_people``) had no failed write. A failure that names no
    worker holds back every row, as does any row whose people are not known."""
    if result.ok:
        return list(planned.inbox_ids)
    planned_number = {
        a.rippling_worker_id: a.personnel_number
        for a in planned.plan.actions
        if a.rippling_worker_id
    }
    held: set[str] = set()
    for failure in result.failed:
        worker_id = failure.action.rippling_worker_id
        if not worker_id:
            return []
        held.add(f"worker:{worker_id}")
        for number in (failure.action.personnel_number, planned_number.get(worker_id)):
            if number:
                held.add(number)
    return [
        inbox_id
        for inbox_id in planned.inbox_ids
        if inbox_id in planned.inbox_people and not held & set(planned.inbox_people[inbox_id])
    ]


def _refused(planned: PlannedSync, result: ApplyResult, answered: list[int]) -> dict[int, str]:
    """The inbox rows held back because Dynamics refused a write of their own people (not an
    outage, not an unknown outcome), each with the refusal: what ``note_refused_syncs``
    counts towards dead-lettering."""
    refusals: dict[str, str] = {}
    for failure in result.failed:
        worker_id = failure.action.rippling_worker_id
        if failure.outcome is not ApplyOutcome.FAILED or not worker_id:
            continue
        reason = f"{failure.action.kind.value}: {failure.error or 'refused'}"
        refusals.setdefault(f"worker:{worker_id}", reason)
        if failure.action.personnel_number:
            refusals.setdefault(failure.action.personnel_number, reason)
    held = set(planned.inbox_ids) - set(answered)
    return {
        inbox_id: next(refusals[p] for p in people if p in refusals)
        for inbox_id, people in planned.inbox_people.items()
        if inbox_id in held and any(p in refusals for p in people)
    }


def _answer(answer: object) -> str:
    if isinstance(answer, dict):
        keys = ("PersonnelNumber", "EmploymentId", "VendorAccountNumber", "dataAreaId")
        return ", ".join(f"{k}={answer[k]}" for k in keys if k in answer) or "created"
    return "ok" if answer is None else str(answer)


WORKFORCE_ASSETS = [workforce_plan, workforce_sync]
