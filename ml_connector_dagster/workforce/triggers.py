"""What tells the sync which workers to re-read: the webhook inbox, and polling.

Both only produce ids; the workers are always re-read from Rippling (a webhook payload is a
hint, never data) and handed to ``sync.sync_workers``. Webhooks and v1 activity name *employee*
ids, which ``resolve.py`` turns into v2 workers; the ``updated_at`` poll names workers directly.

Polling keeps a small cursor (JSON-serialisable, e.g. for a Dagster sensor cursor): the
``updated_at`` watermark of ``/workers/`` (read again with an overlap) and, when the optional
v1 ``company_activity`` is read, its resume cursor and the error it last gave (so a standing
refusal is said once, not on every poll).

Polling runs in both modes. Without webhooks it is the trigger, paced by the payroll calendar;
with webhooks it is the safety net at a slow fixed pace, because Rippling fires created,
updated and deleted only for employees provisioned to the app by its access rules.
"""

import datetime as dt
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ml_connector_dagster import clock
from ml_connector_dagster.rippling.client import RipplingClient
from ml_connector_dagster.rippling.errors import RipplingPermissionError, RipplingRequestError
from ml_connector_dagster.rippling.models import Worker, parse_timestamp
from ml_connector_dagster.workforce.activity import read_activity
from ml_connector_dagster.workforce.cadence import (
    PollDecision,
    no_calendar_decision,
    poll_decision,
    safety_net_decision,
)

log = logging.getLogger(__name__)

# The webhook events that name an employee to re-read. ``employee.rehired`` is not in
# Rippling's published description (a rehire arrives as updated or hired): it is accepted as a
# harmless trigger should it ever come, and nothing relies on it.
WORKER_EVENTS = frozenset(
    {
        "employee.created",
        "employee.hired",
        "employee.updated",
        "employee.terminated",
        "employee.rehired",
        "employee.deleted",
    }
)
DEFAULT_OVERLAP = dt.timedelta(minutes=10)


@dataclass
class Reread:
    """Workers re-read from Rippling, and the ids Rippling no longer knows."""

    workers: list[Worker] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)


def reread_workers(rippling: RipplingClient, worker_ids: Iterable[str]) -> Reread:
    """Workers by v2 worker id (from polling); an id Rippling answers 404 to is gone."""
    out = Reread()
    for worker_id in dict.fromkeys(worker_ids):  # unique, in order
        try:
            out.workers.append(rippling.worker(worker_id))
        except RipplingRequestError as exc:
            if exc.status != 404:
                raise
            out.gone.append(worker_id)
    return out


# --- the webhook inbox -------------------------------------------------------------------------
def inbox_employee_ids(pending: Iterable[dict[str, Any]]) -> list[str]:
    """The employee ids a batch of inbox events names (events about anything else are ignored).

    They are Rippling *employee* ids, resolved to workers in the run (``resolve.py``).
    """
    return list(
        dict.fromkeys(row["object_id"] for row in pending if row["event_name"] in WORKER_EVENTS)
    )


# --- polling -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class PollCursor:
    updated_watermark: dt.datetime | None = None
    activity_cursor: str | None = None
    activity_error: str | None = None  # the last company_activity failure, said once

    def to_json(self) -> str:
        return json.dumps(
            {
                "updated_watermark": self.updated_watermark.isoformat()
                if self.updated_watermark
                else None,
                "activity_cursor": self.activity_cursor,
                "activity_error": self.activity_error,
            }
        )

    @classmethod
    def from_json(cls, text: str | None) -> "PollCursor":
        if not text:
            return cls()
        data: dict[str, Any] = json.loads(text)
        stamp = data.get("updated_watermark")
        return cls(
            updated_watermark=parse_timestamp(stamp) if stamp else None,
            activity_cursor=data.get("activity_cursor"),
            activity_error=data.get("activity_error"),
        )


@dataclass
class PollResult:
    workers: list[Worker]
    # Employee ids company_activity named that are not among ``workers`` by id: resolved to
    # workers in the run, like a webhook's (a sensor tick makes no per-id reads).
    employee_ids: list[str]
    cursor: PollCursor
    full: bool  # the first poll reads every worker

    @property
    def activity_error(self) -> str | None:
        return self.cursor.activity_error


def poll_changes(
    rippling: RipplingClient,
    cursor: PollCursor | None,
    *,
    now: dt.datetime | None = None,
    overlap: dt.timedelta = DEFAULT_OVERLAP,
    use_activity: bool = False,
    logger: logging.Logger | None = None,
) -> PollResult:
    """Workers changed since the cursor (all of them on the first poll), and the next cursor.

    ``updated_at`` catches every edit. With ``use_activity`` (``ML_CONNECTOR_COMPANY_ACTIVITY``)
    v1 ``company_activity`` adds the employee ids its employee events name (those not already
    among the workers by id), for the run to resolve; it is optional and never fatal: when it
    fails, the ``updated_at`` result stands and the failure is logged as a warning once, when
    it starts (the cursor remembers it).
    """
    logger = logger or log
    cursor = cursor or PollCursor()
    now = now or clock.now()
    first = cursor.updated_watermark is None
    incremental = rippling.workers_updated_since(cursor.updated_watermark, overlap)
    workers = {w.id: w for w in incremental.records}
    employee_ids: list[str] = []
    activity_cursor, activity_error = cursor.activity_cursor, None
    if use_activity:
        # Without a cursor, start one now (from the day of now - overlap): this poll reads
        # every changed worker through updated_at anyway.
        activity = read_activity(rippling, activity_cursor, start=now - overlap)
        activity_cursor, activity_error = activity.cursor, activity.error
        if activity_error and not cursor.activity_error:  # said when it starts, not each time
            logger.warning(
                f"Polling goes on with updated_at alone: {activity_error}"
                " (said once; set ML_CONNECTOR_COMPANY_ACTIVITY=false to stop reading it)"
            )
        elif not activity_error and cursor.activity_error:
            logger.info("v1 company_activity answers again")
        employee_ids = [i for i in activity.employee_ids if i not in workers]
    return PollResult(
        workers=list(workers.values()),
        employee_ids=employee_ids,
        cursor=PollCursor(
            incremental.watermark or cursor.updated_watermark, activity_cursor, activity_error
        ),
        full=first,
    )


def poll_cadence(
    rippling: RipplingClient, now: dt.datetime, *, safety_net: dt.timedelta | None = None
) -> PollDecision:
    """When to poll next.

    With ``safety_net`` (webhooks on): that fixed interval, without reading payroll (webhooks
    carry the fast path; the poll only catches what they cannot see). Otherwise after the
    payroll calendar; a fixed interval when Rippling refuses the payroll runs (no
    ``Global_Payroll`` entitlement or no scope): the workforce sync needs no payroll endpoint,
    so a company without payroll access is polled all the same.
    """
    if safety_net is not None:
        return safety_net_decision(safety_net)
    try:
        runs = list(rippling.payroll_runs())
    except RipplingPermissionError as exc:
        return no_calendar_decision(str(exc))
    return poll_decision(runs, now)
