"""From a Rippling *employee* id (what webhooks and v1 carry) to the v2 worker(s) it names.

Rippling's webhook ``id`` and the v1 ids (``/employees/{employeeId}``, the ``ROLE`` subjects of
``company_activity``) are *employee* ids. The sync reads v2 ``/workers/``. Rippling documents
no mapping between the two, so nothing here assumes one; each id is tried, cheapest first:

1. as a v2 worker id: ``GET /workers/{id}/``. Both are believed to be the id of the same
   "role", in which case this answers at once (one request, and it is the re-read the sync
   needs anyway), but that is not documented;
2. as a v2 user id: ``GET /workers/?filter=user_id eq '<id>'`` (a user may hold several
   workers, e.g. an old terminated one and a rehire: all are synced, each re-read);
3. through v1: ``GET {v1}/employees/{id}`` (v1 scope ``employee``), then the v2 worker with
   that employee's ``workEmail`` (a documented v2 filter) or, if Rippling sends one, its
   ``userId`` (in the published v1 examples, not in the v1 schema).

An id none of these find is *unresolved*: deleted, not visible to this token, or readable only
with a v1 scope the token lacks. It is reported with the reason, never an error that stops a
batch; the daily full sync and the ``updated_at`` poll still catch the worker's change. A
throttle or server error that outlasts the retries is raised: the run fails and the inbox
events stay pending, because nothing was learned about the id.

An id whose resolution fails *for that id alone* (malformed, a client error other than "not
found", an answer that is not a usable record) is unresolved and ``failed``: its inbox events
are dead-lettered with the reason, while the batch's other ids go on. Before this, one bad id
(``../payroll-runs``) failed the whole webhook-driven run, and every later batch carried it.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from ml_connector_dagster.rippling.client import RipplingClient
from ml_connector_dagster.rippling.errors import (
    RipplingDataError,
    RipplingPermissionError,
    RipplingRequestError,
)
from ml_connector_dagster.rippling.ids import InvalidPathSegment, is_rippling_id
from ml_connector_dagster.rippling.models import Worker

log = logging.getLogger(__name__)

_NOT_THERE = frozenset({400, 404})  # "no such id" (a malformed one may answer 400)
# Client errors that say nothing about this one id: retried later with the whole batch.
_NOT_ABOUT_THE_ID = frozenset({401, 403, 408, 429})
NOT_AN_ID = "not a Rippling id"


@dataclass(frozen=True)
class Resolution:
    """What one employee id named: its workers and how they were found, or why none were."""

    employee_id: str
    workers: tuple[Worker, ...] = ()
    via: str = ""  # "worker id" | "user_id" | "v1 employee workEmail" | "v1 employee userId"
    reason: str = ""  # why nothing was found (empty when resolved)
    # Resolving failed for this id alone (not "nothing found"): its events are dead-lettered.
    failed: bool = False

    @property
    def resolved(self) -> bool:
        return bool(self.workers)


@dataclass
class Resolved:
    """The workers a batch of employee ids named (unique, in order) and the ids left over."""

    workers: list[Worker] = field(default_factory=list)
    unresolved: list[Resolution] = field(default_factory=list)
    resolutions: list[Resolution] = field(default_factory=list)

    @property
    def unresolved_ids(self) -> list[str]:
        return [r.employee_id for r in self.unresolved]

    @property
    def failed(self) -> list[Resolution]:
        """The unresolved ids whose resolution failed for them alone (see the module)."""
        return [r for r in self.unresolved if r.failed]


def _quoted(value: str) -> str:
    """A string literal for an OData-like filter (a quote is doubled)."""
    return "'" + value.replace("'", "''") + "'"


def _filtered(rippling: RipplingClient, filter_: str) -> tuple[Worker, ...]:
    try:
        return tuple(rippling.workers(filter=filter_))
    except RipplingRequestError as exc:
        if exc.status not in _NOT_THERE:
            raise
        return ()


def resolve_employee(rippling: RipplingClient, employee_id: str) -> Resolution:
    """The worker(s) behind one employee id (see the module docstring for the order).

    A malformed id is refused before it reaches a URL or an OData filter, where a quote or a
    slash would change the request (``ids.is_rippling_id``, the receiver's check too).
    """
    if not is_rippling_id(employee_id):
        return Resolution(employee_id, reason=NOT_AN_ID, failed=True)
    try:
        return Resolution(employee_id, (rippling.worker(employee_id),), "worker id")
    except RipplingRequestError as exc:
        if exc.status not in _NOT_THERE:
            raise
    by_user = _filtered(rippling, f"user_id eq {_quoted(employee_id)}")
    if by_user:
        return Resolution(employee_id, by_user, "user_id")
    try:
        employee = rippling.employee(employee_id)
    except RipplingPermissionError as exc:
        return Resolution(
            employee_id,
            reason=f"no v2 worker or user has this id, and the v1 employee is not readable ({exc})",
        )
    except RipplingRequestError as exc:
        if exc.status not in _NOT_THERE:
            raise
        return Resolution(employee_id, reason="Rippling knows no worker, user or employee by it")
    if employee.user_id and is_rippling_id(employee.user_id):
        found = _filtered(rippling, f"user_id eq {_quoted(employee.user_id)}")
        if found:
            return Resolution(employee_id, found, "v1 employee userId")
    if employee.work_email:
        found = _filtered(rippling, f"work_email eq {_quoted(employee.work_email)}")
        if found:
            return Resolution(employee_id, found, "v1 employee workEmail")
    return Resolution(
        employee_id,
        reason="the v1 employee exists but no v2 worker has its work email"
        + (" or user id" if employee.user_id else ""),
    )


def resolve_employees(
    rippling: RipplingClient,
    employee_ids: Iterable[str],
    *,
    logger: logging.Logger | None = None,
) -> Resolved:
    """Each id resolved once (ids in order, workers unique); every unresolved id is logged as
    a warning with its reason. A failure about one id alone is kept with it (``failed``); one
    that concerns every id (throttling, outage, authentication) is raised."""
    out = Resolved()
    seen: set[str] = set()
    logger = logger or log
    for employee_id in dict.fromkeys(employee_ids):
        resolution = _isolated(rippling, employee_id)
        out.resolutions.append(resolution)
        if not resolution.resolved:
            out.unresolved.append(resolution)
            logger.warning(
                "Rippling employee id %s resolves to no worker: %s", employee_id, resolution.reason
            )
            continue
        for worker in resolution.workers:
            if worker.id not in seen:
                seen.add(worker.id)
                out.workers.append(worker)
    return out


def _isolated(rippling: RipplingClient, employee_id: str) -> Resolution:
    """``resolve_employee``, with the errors that concern this id alone turned into a failed
    resolution, so one bad event cannot fail the batch it arrived with."""
    try:
        return resolve_employee(rippling, employee_id)
    except RipplingRequestError as exc:
        if exc.status >= 500 or exc.status in _NOT_ABOUT_THE_ID:
            raise
        reason = f"Rippling refused the request for this id ({exc.status})"
    except RipplingDataError as exc:
        reason = f"Rippling's answer for this id is not usable: {exc}"
    except InvalidPathSegment:
        reason = NOT_AN_ID
    return Resolution(employee_id, reason=reason[:500], failed=True)
