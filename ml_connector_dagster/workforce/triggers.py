"""What tells the sync which workers to re-read: the webhook inbox, or polling.

Both only produce worker ids; the workers are always re-read from Rippling (a webhook payload
is a hint, never data) and handed to ``sync.sync_workers``.

Polling keeps a small cursor (JSON-serialisable, e.g. for a Dagster sensor cursor): the
``updated_at`` watermark of ``/workers/`` (read again with an overlap) and the v1
``company_activity`` resume cursor.
"""

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ml_connector_dagster import clock
from ml_connector_dagster.rippling.client import RipplingClient
from ml_connector_dagster.rippling.errors import RipplingPermissionError, RipplingRequestError
from ml_connector_dagster.rippling.models import Worker, parse_timestamp
from ml_connector_dagster.workforce.cadence import PollDecision, no_calendar_decision, poll_decision

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
ACTIVITY_TYPES = frozenset(
    {"EMPLOYEE_HIRED", "EMPLOYEE_TERMINATED", "EMPLOYEE_REHIRED", "EMPLOYEE_UPDATED"}
)
DEFAULT_OVERLAP = dt.timedelta(minutes=10)


@dataclass
class Reread:
    """Workers re-read from Rippling, and the ids Rippling no longer knows."""

    workers: list[Worker] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)


def reread_workers(rippling: RipplingClient, worker_ids: Iterable[str]) -> Reread:
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
def inbox_worker_ids(pending: Iterable[dict[str, Any]]) -> list[str]:
    """The workers a batch of inbox events names (events about anything else are ignored)."""
    return list(
        dict.fromkeys(row["object_id"] for row in pending if row["event_name"] in WORKER_EVENTS)
    )


# --- polling -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class PollCursor:
    updated_watermark: dt.datetime | None = None
    activity_cursor: str | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "updated_watermark": self.updated_watermark.isoformat()
                if self.updated_watermark
                else None,
                "activity_cursor": self.activity_cursor,
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
        )


@dataclass
class PollResult:
    workers: list[Worker]
    gone: list[str]
    cursor: PollCursor
    full: bool  # the first poll reads every worker


def activity_worker_ids(events: Iterable[dict[str, Any]]) -> list[str]:
    ids: list[str] = []
    for event in events:
        if event.get("event_type") not in ACTIVITY_TYPES:
            continue
        for subject in event.get("subjects") or []:
            if subject.get("instance") and (subject.get("type") or "ROLE") == "ROLE":
                ids.append(str(subject["instance"]))
    return ids


def poll_changes(
    rippling: RipplingClient,
    cursor: PollCursor | None,
    *,
    now: dt.datetime | None = None,
    overlap: dt.timedelta = DEFAULT_OVERLAP,
    use_activity: bool = True,
) -> PollResult:
    """Workers changed since the cursor (all of them on the first poll), and the next cursor.

    ``updated_at`` catches every edit; ``company_activity`` adds workers whose change did not
    move ``updated_at`` (and is a second witness). Both are deduplicated by worker id.
    """
    cursor = cursor or PollCursor()
    now = now or clock.now()
    first = cursor.updated_watermark is None
    incremental = rippling.workers_updated_since(cursor.updated_watermark, overlap)
    workers = {w.id: w for w in incremental.records}
    gone: list[str] = []
    activity_cursor = cursor.activity_cursor
    if use_activity:
        if activity_cursor:
            activity = rippling.company_activity(cursor=activity_cursor)
        else:  # start a cursor now: this poll reads every worker anyway
            activity = rippling.company_activity(start=now - overlap)
        activity_cursor = activity.cursor
        missing = [i for i in activity_worker_ids(activity.events) if i not in workers]
        reread = reread_workers(rippling, missing)
        workers.update({w.id: w for w in reread.workers})
        gone = reread.gone
    return PollResult(
        workers=list(workers.values()),
        gone=gone,
        cursor=PollCursor(incremental.watermark or cursor.updated_watermark, activity_cursor),
        full=first,
    )


def poll_cadence(rippling: RipplingClient, now: dt.datetime) -> PollDecision:
    """When to poll next, after the payroll calendar; a fixed interval when Rippling refuses
    the payroll runs (no ``Global_Payroll`` entitlement or no scope): the workforce sync needs
    no payroll endpoint, so a company without payroll access is polled all the same."""
    try:
        runs = list(rippling.payroll_runs())
    except RipplingPermissionError as exc:
        return no_calendar_decision(str(exc))
    return poll_decision(runs, now)
