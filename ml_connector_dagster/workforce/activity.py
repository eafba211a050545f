"""v1 ``company_activity``: an optional second witness to polling, and its probe for ``ping``.

Why optional (``ML_CONNECTOR_COMPANY_ACTIVITY``, off by default):

- the employee event types read here (``EMPLOYEE_HIRED``, ...) are not in the v1 spec's
  ``Event.event_type`` list, which names account, group and SSO events only: whether a tenant's
  feed carries them is not documented (``probe_company_activity`` finds out);
- the endpoint needs the v1 scopes ``company`` and ``company:activity``, which a v2 token may
  lack;
- its ``startDate`` is a ``date`` reaching at most 90 days back.

So a failure here never fails a poll: ``read_activity`` turns any Rippling error into a note
for the poll cursor (said once as a warning) and the ``updated_at`` result stands. The ids it
yields are *employee* ids (the ``ROLE`` subjects, as webhooks carry), resolved to workers by
``resolve.py``.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ml_connector_dagster import clock
from ml_connector_dagster.rippling.client import RipplingClient
from ml_connector_dagster.rippling.errors import (
    RipplingError,
    RipplingPermissionError,
    RipplingRequestError,
)

# Not in the v1 spec's Event.event_type enum: what the sync looks for if a tenant sends them.
ACTIVITY_TYPES = frozenset(
    {"EMPLOYEE_HIRED", "EMPLOYEE_TERMINATED", "EMPLOYEE_REHIRED", "EMPLOYEE_UPDATED"}
)
ACTIVITY_SCOPES = ("company", "company:activity")
PROBE_WINDOW = dt.timedelta(days=7)
PROBE_LIMIT = 1000


def activity_employee_ids(events: Iterable[dict[str, Any]]) -> list[str]:
    """The employee (``ROLE``) ids named by the employee events of a batch, unique, in order."""
    ids: list[str] = []
    for event in events:
        if event.get("event_type") not in ACTIVITY_TYPES:
            continue
        for subject in event.get("subjects") or []:
            if subject.get("instance") and (subject.get("type") or "ROLE") == "ROLE":
                ids.append(str(subject["instance"]))
    return list(dict.fromkeys(ids))


@dataclass(frozen=True)
class ActivityRead:
    """What one poll learned from ``company_activity``: employee ids and the cursor to resume
    from, or the error that stopped it (``error`` set, ids empty)."""

    employee_ids: list[str]
    cursor: str | None
    error: str | None = None


def read_activity(
    rippling: RipplingClient, cursor: str | None, *, start: dt.datetime
) -> ActivityRead:
    """Events since ``cursor`` (else since the day of ``start``), never raising a Rippling error.

    A refused or failed read keeps the stored cursor, except after a 4xx on a cursor: Rippling
    would refuse that cursor every time, so the next poll starts again from a date.
    """
    try:
        if cursor:
            result = rippling.company_activity(cursor=cursor)
        else:
            result = rippling.company_activity(start=start)
    except RipplingError as exc:
        keep = cursor
        if isinstance(exc, RipplingRequestError) and cursor:
            keep = None
        return ActivityRead([], keep, _describe(exc))
    return ActivityRead(activity_employee_ids(result.events), result.cursor)


def _describe(exc: RipplingError) -> str:
    if isinstance(exc, RipplingPermissionError):
        scopes = " and ".join(f"'{s}'" for s in ACTIVITY_SCOPES)
        return f"v1 company_activity refused: the token needs the v1 scopes {scopes} ({exc})"
    return f"v1 company_activity failed: {exc}"


@dataclass(frozen=True)
class ActivityProbe:
    """Whether ``company_activity`` answers this token, and whether it carries the employee
    events the sync would read (``ping`` shows it; turning the setting on is worth it only when
    both hold)."""

    answers: bool
    employee_events: bool
    detail: str


def probe_company_activity(
    client: RipplingClient,
    *,
    now: dt.datetime | None = None,
    window: dt.timedelta = PROBE_WINDOW,
) -> ActivityProbe:
    """Read one page of the last ``window`` of activity (one request) and judge it; never
    raises a Rippling error (a refusal is an answer: ``answers=False`` with the reason)."""
    start = (now or clock.now()) - window
    try:
        result = client.company_activity(start=start, limit=PROBE_LIMIT, max_pages=1)
    except RipplingError as exc:
        return ActivityProbe(False, False, _describe(exc))
    kinds = {str(e.get("event_type")) for e in result.events}
    employee = sorted(kinds & ACTIVITY_TYPES)
    since = f"since {start.date().isoformat()}"
    if employee:
        return ActivityProbe(
            True,
            True,
            f"{len(result.events)} event(s) {since}, with employee events ({', '.join(employee)})",
        )
    wanted = ", ".join(sorted(ACTIVITY_TYPES))
    return ActivityProbe(
        True,
        False,
        f"{len(result.events)} event(s) {since}, none of the employee types the sync reads"
        f" ({wanted}): polling reads /workers/ alone",
    )
