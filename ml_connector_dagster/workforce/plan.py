"""Desired vs current -> the actions that align Dynamics with Rippling (pure: no I/O).

An aligned record yields no action, so a second sync after a successful one plans nothing.
Nothing is ever deleted: a termination sets the employment's end date, a rehire adds a new
employment, a contractor's vendor is put on hold and released. Cases the sync must not decide
alone become ``report`` actions: they are shown and recorded, never written to Dynamics.

Decisions where Rippling's data is ambiguous:
- An open employment whose start differs from Rippling's: if it has not started yet, the start
  date is corrected; if Rippling's start is later, the worker was terminated and rehired between
  two syncs, so the open employment is ended the day before the new start and a new one added;
  if Rippling's start is earlier, it is reported.
- An open employment in another company than Rippling's legal entity (a transfer) is reported.
- A rehire of a worker whose ``AllowRehire`` is No is reported, and the vendor stays on hold.
- A vendor is released only from ``OnHoldStatus`` All (the sync's own hold); other holds set
  by finance (Invoice, Payment, ...) are left alone.
"""

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ml_connector_dagster.workforce.current import (
    OPEN_END_WIRE,
    CurrentEmployment,
    CurrentState,
    CurrentWorker,
    wire_date,
)
from ml_connector_dagster.workforce.desired import (
    DesiredEmployment,
    DesiredState,
    DesiredVendor,
    DesiredWorker,
    WorkerIdentity,
)

WORKERS = "Workers"
EMPLOYMENTS = "EmploymentsV2"
VENDORS = "VendorsV2"
HOLD_ALL = "All"
NOT_ON_HOLD = "No"


class ActionKind(StrEnum):
    CREATE_WORKER = "create-worker"
    UPDATE_WORKER = "update-worker"
    CREATE_EMPLOYMENT = "create-employment"
    END_EMPLOYMENT = "end-employment"
    NEW_EMPLOYMENT = "new-employment"  # a rehire
    UPDATE_EMPLOYMENT = "update-employment"  # dimension, start correction, reopened
    CREATE_VENDOR = "create-vendor"
    UPDATE_VENDOR = "update-vendor"
    HOLD_VENDOR = "hold-vendor"
    RELEASE_VENDOR = "release-vendor"
    REPORT = "report"


CREATES = {
    ActionKind.CREATE_WORKER,
    ActionKind.CREATE_EMPLOYMENT,
    ActionKind.NEW_EMPLOYMENT,
    ActionKind.CREATE_VENDOR,
}


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    personnel_number: str | None
    rippling_worker_id: str | None
    company: str | None
    reason: str
    entity_set: str | None = None
    key: Mapping[str, Any] | None = None  # PATCH target; None for a create or a report
    values: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_write(self) -> bool:
        return self.kind is not ActionKind.REPORT

    def describe(self) -> str:
        if not self.values:
            return self.reason
        shown = ", ".join(f"{k}={v}" for k, v in self.values.items() if k != "PersonnelNumber")
        return f"{self.reason} ({shown})"


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...]
    identities: tuple[WorkerIdentity, ...] = ()  # worker-map rows to record

    @property
    def writes(self) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.is_write)

    @property
    def reports(self) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if not a.is_write)

    @property
    def is_empty(self) -> bool:
        return not self.writes

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for action in self.actions:
            out[action.kind.value] = out.get(action.kind.value, 0) + 1
        return out


def _employment_key(e: CurrentEmployment) -> dict[str, Any]:
    return {
        "PersonnelNumber": e.personnel_number,
        "LegalEntityId": e.company,
        "EmploymentId": e.employment_id,
    }


def _vendor_key(v: DesiredVendor) -> dict[str, Any]:
    return {"dataAreaId": v.company.lower(), "VendorAccountNumber": v.account}


class _PersonPlanner:
    """Plans one DesiredWorker, keeping a simulated copy of its employments as it goes."""

    def __init__(self, desired: DesiredWorker, current: CurrentState, today: dt.date) -> None:
        self.d = desired
        self.current = current
        self.today = today
        self.worker: CurrentWorker | None = current.workers.get(desired.personnel_number)
        self.spans: list[CurrentEmployment] = list(
            current.employments.get(desired.personnel_number, [])
        )
        self.actions: list[Action] = []
        self.rehire_refused = False

    def add(
        self,
        kind: ActionKind,
        reason: str,
        *,
        worker_id: str | None = None,
        company: str | None = None,
        entity_set: str | None = None,
        key: Mapping[str, Any] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        self.actions.append(
            Action(
                kind=kind,
                personnel_number=self.d.personnel_number,
                rippling_worker_id=worker_id or self.d.primary_worker_id,
                company=company,
                reason=reason,
                entity_set=entity_set,
                key=key,
                values=dict(values or {}),
            )
        )

    def report(
        self, reason: str, *, worker_id: str | None = None, company: str | None = None
    ) -> None:
        self.add(ActionKind.REPORT, reason, worker_id=worker_id, company=company)

    # --- the worker ------------------------------------------------------------------------
    def plan_worker(self) -> bool:
        d = self.d
        if self.worker is None:
            if not (d.fields.get("FirstName") or d.fields.get("LastName")):
                self.report("cannot create the worker: Rippling gave no name (withheld or empty)")
                return False
            values: dict[str, Any] = {
                "PersonnelNumber": d.personnel_number,
                **d.fields,
                "WorkerType": d.worker_type,
                "OriginalHireDateTime": wire_date(d.original_hire),
            }
            self.add(ActionKind.CREATE_WORKER, "new in Rippling", entity_set=WORKERS, values=values)
            return True
        changes = {k: v for k, v in d.fields.items() if self.worker.fields.get(k) != v}
        if changes:
            self.add(
                ActionKind.UPDATE_WORKER,
                "changed in Rippling",
                entity_set=WORKERS,
                key={"PersonnelNumber": d.personnel_number},
                values=changes,
            )
        if self.worker.worker_type and self.worker.worker_type != d.worker_type:
            self.report(
                f"Rippling says {d.worker_type}, Dynamics says"
                f" {self.worker.worker_type}: worker type is not changed by the sync"
            )
        return True

    # --- employments -----------------------------------------------------------------------
    def _replace(self, old: CurrentEmployment, new: CurrentEmployment) -> None:
        self.spans[self.spans.index(old)] = new

    def plan_employment(self, e: DesiredEmployment) -> None:
        same = [s for s in self.spans if s.company == e.company]
        match = next((s for s in same if s.start == e.start), None)
        if match is not None:
            self._align(match, e)
            return
        open_here = [s for s in same if s.end is None]
        if open_here:
            o = open_here[-1]
            if o.start > self.today and e.end is None and o.employment_id:
                values = {"EmploymentStartDate": wire_date(e.start)}
                if e.dimension is not None and o.dimension != e.dimension:
                    values["DimensionDisplayValue"] = e.dimension
                self.add(
                    ActionKind.UPDATE_EMPLOYMENT,
                    f"start date moved from {o.start} before the employment began",
                    worker_id=e.rippling_worker_id,
                    company=e.company,
                    entity_set=EMPLOYMENTS,
                    key=_employment_key(o),
                    values=values,
                )
                self._replace(o, dataclasses.replace(o, start=e.start, dimension=e.dimension))
                return
            if e.start > o.start:
                end = e.start - dt.timedelta(days=1)
                if o.employment_id:
                    self.add(
                        ActionKind.END_EMPLOYMENT,
                        f"still open but Rippling shows a new start on {e.start}:"
                        " ended the day before",
                        worker_id=e.rippling_worker_id,
                        company=e.company,
                        entity_set=EMPLOYMENTS,
                        key=_employment_key(o),
                        values={"EmploymentEndDate": wire_date(end)},
                    )
                self._replace(o, dataclasses.replace(o, end=end))
            else:
                self.report(
                    f"open employment in {e.company} starts {o.start}, Rippling says"
                    f" {e.start}: not changed",
                    worker_id=e.rippling_worker_id,
                    company=e.company,
                )
                return
        elsewhere = [s for s in self.spans if s.company != e.company and s.end is None]
        if elsewhere and e.end is None:
            others = ", ".join(sorted({s.company for s in elsewhere}))
            self.report(
                f"open employment in {others} but Rippling places the worker in"
                f" {e.company}: a transfer is not automated",
                worker_id=e.rippling_worker_id,
                company=e.company,
            )
            return
        ended_before = [s for s in self.spans if s.end is not None and s.end < e.start]
        same = [s for s in self.spans if s.company == e.company]
        clash = next(
            (
                s
                for s in same
                if s.start <= (e.end or dt.date.max) and e.start <= (s.end or dt.date.max)
            ),
            None,
        )
        if clash is not None:
            self.report(
                f"Rippling's span {e.start}..{e.end or 'open'} overlaps employment"
                f" {clash.employment_id} ({clash.start}..{clash.end or 'open'})",
                worker_id=e.rippling_worker_id,
                company=e.company,
            )
            return
        rehire = bool(ended_before)
        if rehire and self.worker is not None and not self.worker.allow_rehire:
            self.rehire_refused = True
            self.report(
                f"rehire on {e.start} refused: AllowRehire is No in Dynamics",
                worker_id=e.rippling_worker_id,
                company=e.company,
            )
            return
        values: dict[str, Any] = {
            "PersonnelNumber": self.d.personnel_number,
            "LegalEntityId": e.company,
            "EmploymentStartDate": wire_date(e.start),
            "EmploymentEndDate": wire_date(e.end) if e.end else OPEN_END_WIRE,
            "WorkerType": e.worker_type,
        }
        if e.dimension is not None:
            values["DimensionDisplayValue"] = e.dimension
        kind = ActionKind.NEW_EMPLOYMENT if rehire else ActionKind.CREATE_EMPLOYMENT
        reason = f"rehired on {e.start}" if rehire else f"hired on {e.start}"
        if e.end:
            reason += f", left {e.end}"
        self.add(
            kind,
            reason,
            worker_id=e.rippling_worker_id,
            company=e.company,
            entity_set=EMPLOYMENTS,
            values=values,
        )
        self.spans.append(
            CurrentEmployment(
                self.d.personnel_number, e.company, None, e.start, e.end, e.dimension, e.worker_type
            )
        )
        self.spans.sort(key=lambda s: s.start)

    def _align(self, s: CurrentEmployment, e: DesiredEmployment) -> None:
        values: dict[str, Any] = {}
        if s.end != e.end:
            values["EmploymentEndDate"] = wire_date(e.end) if e.end else OPEN_END_WIRE
        if e.end is None and e.dimension is not None and s.dimension != e.dimension:
            values["DimensionDisplayValue"] = e.dimension
        if not values:
            return
        if not s.employment_id:  # planned in this sync: nothing to patch yet
            return
        if e.end is not None and s.end != e.end:
            kind = ActionKind.END_EMPLOYMENT
            reason = f"terminated in Rippling, last day {e.end}"
        elif "EmploymentEndDate" in values:
            kind, reason = ActionKind.UPDATE_EMPLOYMENT, "termination reversed in Rippling"
        else:
            kind, reason = ActionKind.UPDATE_EMPLOYMENT, "department dimension changed"
        self.add(
            kind,
            reason,
            worker_id=e.rippling_worker_id,
            company=e.company,
            entity_set=EMPLOYMENTS,
            key=_employment_key(s),
            values=values,
        )
        self._replace(s, dataclasses.replace(s, end=e.end, dimension=e.dimension or s.dimension))

    # --- the vendor ------------------------------------------------------------------------
    def plan_vendor(self, v: DesiredVendor) -> None:
        existing = self.current.vendors.get((v.company, v.account))
        hold = v.on_hold or self.rehire_refused
        if existing is None:
            if not (v.fields.get("PersonFirstName") or v.fields.get("PersonLastName")):
                self.report("cannot create the vendor: Rippling gave no name", company=v.company)
                return
            values = {
                "dataAreaId": v.company.lower(),
                "VendorAccountNumber": v.account,
                "VendorGroupId": v.group,
                "VendorPartyType": "Person",
                **v.fields,
                "OnHoldStatus": HOLD_ALL if hold else NOT_ON_HOLD,
            }
            self.add(
                ActionKind.CREATE_VENDOR,
                "contractor new in Rippling",
                company=v.company,
                entity_set=VENDORS,
                values=values,
            )
            return
        changes = {k: val for k, val in v.fields.items() if existing.fields.get(k) != val}
        if changes:
            self.add(
                ActionKind.UPDATE_VENDOR,
                "changed in Rippling",
                company=v.company,
                entity_set=VENDORS,
                key=_vendor_key(v),
                values=changes,
            )
        if hold and existing.on_hold != HOLD_ALL:
            reason = (
                "rehire refused: kept on hold"
                if self.rehire_refused
                else "contractor terminated in Rippling"
            )
            self.add(
                ActionKind.HOLD_VENDOR,
                reason,
                company=v.company,
                entity_set=VENDORS,
                key=_vendor_key(v),
                values={"OnHoldStatus": HOLD_ALL},
            )
        elif not hold and existing.on_hold == HOLD_ALL:
            self.add(
                ActionKind.RELEASE_VENDOR,
                "contractor active again in Rippling",
                company=v.company,
                entity_set=VENDORS,
                key=_vendor_key(v),
                values={"OnHoldStatus": NOT_ON_HOLD},
            )

    def plan(self) -> list[Action]:
        if not self.plan_worker():
            return self.actions
        for employment in self.d.employments:
            self.plan_employment(employment)
        if self.d.vendor is not None:
            self.plan_vendor(self.d.vendor)
        return self.actions


def build_plan(
    desired: DesiredState,
    current: CurrentState,
    *,
    today: dt.date,
    known_identities: Any = None,
) -> Plan:
    """Every action that makes Dynamics match Rippling; empty when they already match.

    ``known_identities`` (``desired.Identities``) limits the worker-map rows to new or changed
    ones; without it every identity of the desired state is listed.
    """
    actions: list[Action] = []
    for skipped in desired.skipped:
        actions.append(
            Action(
                ActionKind.REPORT,
                skipped.personnel_number,
                skipped.rippling_worker_id,
                None,
                f"skipped: {skipped.reason}",
            )
        )
    for number in sorted(desired.workers):
        actions += _PersonPlanner(desired.workers[number], current, today).plan()
    identities = (
        desired.identities_to_record(known_identities)
        if known_identities is not None
        else tuple(i for w in desired.workers.values() for i in w.identities)
    )
    return Plan(actions=tuple(actions), identities=identities)
