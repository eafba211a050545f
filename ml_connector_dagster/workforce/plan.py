"""Desired vs current -> the actions that align Dynamics with Rippling (pure: no I/O).

An aligned record yields no action, so a second sync after a successful one plans nothing.
Nothing is ever deleted: a termination sets the employment's end date, a rehire adds a new
employment, a contractor's vendor is put on hold and released. Cases the sync must not decide
alone become ``report`` actions: they are shown and recorded, never written to Dynamics.

Decisions where Rippling's data is ambiguous:
- An open employment whose start differs from Rippling's: if Rippling's start is later, the
  worker was terminated and rehired between two syncs, so the open employment is ended the day
  before the new start and a new one added; otherwise it is reported (F&O does not move an
  employment's start by PATCH, and one that has not begun cannot end before it starts).
- An open employment in another company than Rippling's legal entity (a transfer) is reported.
- A rehire of a worker whose ``AllowRehire`` is No is reported, and the vendor stays on hold.
- A name shortened to fit F&O (``desired.FIELD_SIZES``) is reported in every plan that writes
  it; an e-mail too long for F&O is left out and reported. A worker whose name or e-mail holds
  a control or bidi-override character is not planned at all (a ``skipped`` report names the
  worker and the field).
- A vendor is released only from ``OnHoldStatus`` All (the sync's own hold); other holds set
  by finance (Invoice, Payment, ...) are left alone.

Bodies carry plain JSON values (enum members as their text, so a stored plan needs no enum
classes) and only the fields of ``dynamics.writable`` (never F&O's computed ``Name`` or
``OriginalHireDateTime``); end dates are the end of the last day (``T23:59:59Z``), as F&O's UI
writes them. A number F&O assigns (a pending PersonnelNumber, a vendor account of None) is left
out of the create; ``apply`` puts the assigned one into the person's later actions.
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
    EntitySet,
    VendorHold,
    wire_date,
    wire_end_date,
)
from ml_connector_dagster.workforce.desired import (
    DesiredEmployment,
    DesiredState,
    DesiredVendor,
    DesiredWorker,
    WorkerIdentity,
    is_pending_number,
)


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
    entity_set: EntitySet | None = None
    key: Mapping[str, Any] | None = None  # PATCH target; None for a create or a report
    values: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_write(self) -> bool:
        return self.kind is not ActionKind.REPORT

    def describe(self) -> str:
        if not self.values:
            return self.reason
        shown = ", ".join(
            f"{name}={value}" for name, value in self.values.items() if name != "PersonnelNumber"
        )
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


def _employment_key(span: CurrentEmployment) -> dict[str, Any]:
    return {
        "PersonnelNumber": span.personnel_number,
        "LegalEntityId": span.company,
        "EmploymentId": span.employment_id,
    }


def _vendor_key(vendor: DesiredVendor) -> dict[str, Any]:
    return {"dataAreaId": vendor.company.lower(), "VendorAccountNumber": vendor.account}


def _overlaps(span: CurrentEmployment, wanted: DesiredEmployment) -> bool:
    return span.start <= (wanted.end or dt.date.max) and wanted.start <= (span.end or dt.date.max)


class _PersonPlanner:
    """Plans one DesiredWorker, keeping a simulated copy of its employments as it goes."""

    def __init__(self, desired: DesiredWorker, current: CurrentState, today: dt.date) -> None:
        self.desired = desired
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
        entity_set: EntitySet | None = None,
        key: Mapping[str, Any] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        self.actions.append(
            Action(
                kind=kind,
                personnel_number=self.desired.personnel_number,
                rippling_worker_id=worker_id or self.desired.primary_worker_id,
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

    def report_fitted(
        self,
        fitted: Mapping[str, str],
        written: Mapping[str, Any],
        *,
        company: str | None = None,
    ) -> None:
        """One report per field made to fit F&O that this plan writes (or leaves out), so
        nobody wonders why Dynamics shows less than Rippling."""
        for name, note in fitted.items():
            if name in written or note.startswith("left out"):
                self.report(
                    f"Rippling worker {self.desired.primary_worker_id}: {name} {note}",
                    company=company,
                )

    # --- the worker ------------------------------------------------------------------------
    def plan_worker(self) -> bool:
        """Create or update the worker; False when it cannot exist (no name), which stops
        the plan of its employments and vendor."""
        desired = self.desired
        if self.worker is None:
            if not (desired.fields.get("FirstName") or desired.fields.get("LastName")):
                self.report("cannot create the worker: Rippling gave no name (withheld or empty)")
                return False
            # Not Name nor OriginalHireDateTime: F&O derives both (from the names and from
            # the first employment) and refuses them in a write.
            values: dict[str, Any] = {
                "PersonnelNumber": desired.personnel_number,
                **desired.fields,
                "WorkerType": desired.worker_type.value,
            }
            reason = "new in Rippling"
            if is_pending_number(desired.personnel_number):
                del values["PersonnelNumber"]
                reason += ": Dynamics assigns the personnel number"
            self.add(
                ActionKind.CREATE_WORKER,
                reason,
                entity_set=EntitySet.WORKERS,
                values=values,
            )
            self.report_fitted(desired.fitted, values)
            return True
        changes = {
            name: value
            for name, value in desired.fields.items()
            if self.worker.fields.get(name) != value
        }
        if changes:
            self.add(
                ActionKind.UPDATE_WORKER,
                "changed in Rippling",
                entity_set=EntitySet.WORKERS,
                key={"PersonnelNumber": desired.personnel_number},
                values=changes,
            )
        self.report_fitted(desired.fitted, changes)
        if self.worker.worker_type and self.worker.worker_type != desired.worker_type:
            self.report(
                f"Rippling says {desired.worker_type}, Dynamics says"
                f" {self.worker.worker_type}: worker type is not changed by the sync"
            )
        return True

    # --- employments -----------------------------------------------------------------------
    def _spans_in(self, company: str) -> list[CurrentEmployment]:
        return [span for span in self.spans if span.company == company]

    def _replace(self, old: CurrentEmployment, new: CurrentEmployment) -> None:
        self.spans[self.spans.index(old)] = new

    def _employment_action(
        self,
        kind: ActionKind,
        reason: str,
        wanted: DesiredEmployment,
        values: Mapping[str, Any],
        span: CurrentEmployment | None = None,
    ) -> None:
        """A write to EmploymentsV2: a PATCH of ``span``, or a create without one."""
        self.add(
            kind,
            reason,
            worker_id=wanted.rippling_worker_id,
            company=wanted.company,
            entity_set=EntitySet.EMPLOYMENTS,
            key=_employment_key(span) if span is not None else None,
            values=values,
        )

    def _report_on(self, wanted: DesiredEmployment, reason: str) -> None:
        self.report(reason, worker_id=wanted.rippling_worker_id, company=wanted.company)

    def plan_employment(self, wanted: DesiredEmployment) -> None:
        """One Rippling span against Dynamics: the span with the same start is aligned in
        place; otherwise an open span in the same company is settled first, and a new
        employment is added unless a transfer, an overlap or a refused rehire stands in the
        way (each of those is reported, never written)."""
        same_start = next(
            (span for span in self._spans_in(wanted.company) if span.start == wanted.start), None
        )
        if same_start is not None:
            self._align(same_start, wanted)
            return
        open_spans = [span for span in self._spans_in(wanted.company) if span.end is None]
        if open_spans and not self._settle_open_span(open_spans[-1], wanted):
            return
        if self._blocked_by_transfer(wanted) or self._blocked_by_overlap(wanted):
            return
        # After settling: an open span ended the day before counts as an earlier employment.
        rehire = any(span.end is not None and span.end < wanted.start for span in self.spans)
        if rehire and self._rehire_blocked(wanted):
            return
        self._add_employment(wanted, rehire=rehire)

    def _settle_open_span(self, open_span: CurrentEmployment, wanted: DesiredEmployment) -> bool:
        """An open span in the company starting elsewhen than Rippling's: True when a new
        employment may follow (the open one was ended the day before Rippling's start)."""
        if open_span.start > self.today and open_span.employment_id:
            # Not begun yet: F&O does not move an employment's start by PATCH, and ending it
            # before it begins is refused; someone in F&O corrects (or deletes) it.
            self._report_on(
                wanted,
                f"employment {open_span.employment_id} in {wanted.company} has not begun and"
                f" starts {open_span.start}, Rippling says {wanted.start}: Dynamics does not"
                " move an employment's start, correct it in Dynamics",
            )
            return False
        if wanted.start > open_span.start:
            self._end_before_new_start(open_span, wanted)
            return True
        self._report_on(
            wanted,
            f"open employment in {wanted.company} starts {open_span.start}, Rippling says"
            f" {wanted.start}: not changed",
        )
        return False

    def _end_before_new_start(
        self, open_span: CurrentEmployment, wanted: DesiredEmployment
    ) -> None:
        """Terminated and rehired between two syncs: the open span ends the day before."""
        last_day = wanted.start - dt.timedelta(days=1)
        if open_span.employment_id:
            self._employment_action(
                ActionKind.END_EMPLOYMENT,
                f"still open but Rippling shows a new start on {wanted.start}:"
                " ended the day before",
                wanted,
                {"EmploymentEndDate": wire_end_date(last_day)},
                open_span,
            )
        self._replace(open_span, dataclasses.replace(open_span, end=last_day))

    def _blocked_by_transfer(self, wanted: DesiredEmployment) -> bool:
        """An open span in another company while Rippling's is open: a transfer, reported."""
        if wanted.end is not None:
            return False
        elsewhere = sorted(
            {
                span.company
                for span in self.spans
                if span.company != wanted.company and span.end is None
            }
        )
        if not elsewhere:
            return False
        self._report_on(
            wanted,
            f"open employment in {', '.join(elsewhere)} but Rippling places the worker in"
            f" {wanted.company}: a transfer is not automated",
        )
        return True

    def _blocked_by_overlap(self, wanted: DesiredEmployment) -> bool:
        clash = next(
            (span for span in self._spans_in(wanted.company) if _overlaps(span, wanted)), None
        )
        if clash is None:
            return False
        self._report_on(
            wanted,
            f"Rippling's span {wanted.start}..{wanted.end or 'open'} overlaps employment"
            f" {clash.employment_id} ({clash.start}..{clash.end or 'open'})",
        )
        return True

    def _rehire_blocked(self, wanted: DesiredEmployment) -> bool:
        """Dynamics says the worker may not be rehired: reported, and the vendor stays held."""
        if self.worker is None or self.worker.allow_rehire:
            return False
        self.rehire_refused = True
        self._report_on(wanted, f"rehire on {wanted.start} refused: AllowRehire is No in Dynamics")
        return True

    def _add_employment(self, wanted: DesiredEmployment, *, rehire: bool) -> None:
        values: dict[str, Any] = {
            "PersonnelNumber": self.desired.personnel_number,
            "LegalEntityId": wanted.company,
            "EmploymentStartDate": wire_date(wanted.start),
            "EmploymentEndDate": wire_end_date(wanted.end) if wanted.end else OPEN_END_WIRE,
            "WorkerType": wanted.worker_type.value,
        }
        if wanted.dimension is not None:
            values["DimensionDisplayValue"] = wanted.dimension
        kind = ActionKind.NEW_EMPLOYMENT if rehire else ActionKind.CREATE_EMPLOYMENT
        reason = f"rehired on {wanted.start}" if rehire else f"hired on {wanted.start}"
        if wanted.end:
            reason += f", left {wanted.end}"
        self._employment_action(kind, reason, wanted, values)
        self.spans.append(
            CurrentEmployment(
                self.desired.personnel_number,
                wanted.company,
                None,
                wanted.start,
                wanted.end,
                wanted.dimension,
                wanted.worker_type,
            )
        )
        self.spans.sort(key=lambda span: span.start)

    def _align(self, span: CurrentEmployment, wanted: DesiredEmployment) -> None:
        """The same span in both: its end date and dimension follow Rippling's."""
        values: dict[str, Any] = {}
        if span.end != wanted.end:
            values["EmploymentEndDate"] = wire_end_date(wanted.end) if wanted.end else OPEN_END_WIRE
        if (
            wanted.end is None
            and wanted.dimension is not None
            and span.dimension != wanted.dimension
        ):
            values["DimensionDisplayValue"] = wanted.dimension
        if not values:
            return
        if not span.employment_id:  # planned in this sync: nothing to patch yet
            return
        if wanted.end is not None and span.end != wanted.end:
            kind = ActionKind.END_EMPLOYMENT
            reason = f"terminated in Rippling, last day {wanted.end}"
        elif "EmploymentEndDate" in values:
            kind, reason = ActionKind.UPDATE_EMPLOYMENT, "termination reversed in Rippling"
        else:
            kind, reason = ActionKind.UPDATE_EMPLOYMENT, "department dimension changed"
        self._employment_action(kind, reason, wanted, values, span)
        self._replace(
            span,
            dataclasses.replace(span, end=wanted.end, dimension=wanted.dimension or span.dimension),
        )

    # --- the vendor ------------------------------------------------------------------------
    def _vendor_action(
        self,
        kind: ActionKind,
        reason: str,
        vendor: DesiredVendor,
        values: Mapping[str, Any],
        *,
        create: bool = False,
    ) -> None:
        self.add(
            kind,
            reason,
            company=vendor.company,
            entity_set=EntitySet.VENDORS,
            key=None if create else _vendor_key(vendor),
            values=values,
        )

    def plan_vendor(self, vendor: DesiredVendor) -> None:
        """Create or update a contractor's vendor; hold it while the contractor is gone (or a
        rehire was refused), release only the sync's own hold."""
        existing = (
            self.current.vendors.get((vendor.company, vendor.account))
            if vendor.account is not None
            else None
        )
        hold = vendor.on_hold or self.rehire_refused
        if existing is None:
            if not (vendor.fields.get("PersonFirstName") or vendor.fields.get("PersonLastName")):
                self.report(
                    "cannot create the vendor: Rippling gave no name", company=vendor.company
                )
                return
            values = {
                "dataAreaId": vendor.company.lower(),
                "VendorAccountNumber": vendor.account,
                "VendorGroupId": vendor.group,
                "VendorPartyType": "Person",
                **vendor.fields,
                "OnHoldStatus": (VendorHold.ALL if hold else VendorHold.NONE).value,
            }
            reason = "contractor new in Rippling"
            if vendor.account is None:
                del values["VendorAccountNumber"]
                reason += ": Dynamics assigns the vendor account"
            self._vendor_action(ActionKind.CREATE_VENDOR, reason, vendor, values, create=True)
            self.report_fitted(vendor.fitted, values, company=vendor.company)
            return
        changes = {
            name: value
            for name, value in vendor.fields.items()
            if existing.fields.get(name) != value
        }
        if changes:
            self._vendor_action(ActionKind.UPDATE_VENDOR, "changed in Rippling", vendor, changes)
        self.report_fitted(vendor.fitted, changes, company=vendor.company)
        if hold and existing.on_hold != VendorHold.ALL:
            reason = (
                "rehire refused: kept on hold"
                if self.rehire_refused
                else "contractor terminated in Rippling"
            )
            self._vendor_action(
                ActionKind.HOLD_VENDOR, reason, vendor, {"OnHoldStatus": VendorHold.ALL.value}
            )
        elif not hold and existing.on_hold == VendorHold.ALL:
            self._vendor_action(
                ActionKind.RELEASE_VENDOR,
                "contractor active again in Rippling",
                vendor,
                {"OnHoldStatus": VendorHold.NONE.value},
            )

    def plan(self) -> list[Action]:
        if not self.plan_worker():
            return self.actions
        for employment in self.desired.employments:
            self.plan_employment(employment)
        if self.desired.vendor is not None:
            self.plan_vendor(self.desired.vendor)
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
