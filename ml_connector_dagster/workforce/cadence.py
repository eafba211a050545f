"""How long to wait before the next poll, tied to the payroll calendar (pure).

Workforce changes matter most while a pay run can still be corrected: in the days before its
approval deadline, poll often; otherwise poll rarely, but never sleep past the moment the next
run's frequent window opens.

Reading the calendar needs payroll access (``Global_Payroll`` and ``payroll-runs.read``); the
workforce sync itself does not. A company without it still gets polled, every
``NO_CALENDAR_INTERVAL``: often enough that a change reaches F&O within the hour, rarely
enough to stay far below Rippling's rate limits.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, model_validator

from ml_connector_dagster.rippling.models import PayrollRun, parse_timestamp

SETTLED_STATES = frozenset({"APPROVED", "PAID", "CLOSED"})
# The fixed wait between polls when the payroll calendar cannot be read (no payroll access).
NO_CALENDAR_INTERVAL = dt.timedelta(hours=1)
# The safety-net poll's default pace when webhooks are on.
SAFETY_NET_INTERVAL = dt.timedelta(hours=6)


class CadenceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min_interval: dt.timedelta = dt.timedelta(minutes=5)
    max_interval: dt.timedelta = dt.timedelta(hours=6)
    frequent_window: dt.timedelta = dt.timedelta(days=3)

    @model_validator(mode="after")
    def _ordered(self) -> "CadenceSettings":
        if not dt.timedelta(0) < self.min_interval <= self.max_interval:
            raise ValueError("need 0 < min_interval <= max_interval")
        if self.frequent_window < dt.timedelta(0):
            raise ValueError("frequent_window must not be negative")
        return self


@dataclass(frozen=True)
class PollDecision:
    interval: dt.timedelta
    reason: str
    deadline: dt.datetime | None = None  # the approval deadline that decided it
    run_id: str | None = None
    calendar_unreadable: bool = False  # the fixed interval: payroll runs could not be read
    safety_net: bool = False  # webhooks on: the slow fixed pace, calendar not consulted


def approval_deadline(run: PayrollRun) -> dt.datetime | None:
    """The run's approval deadline, else its check date at midnight UTC."""
    if run.approval_deadline:
        return parse_timestamp(run.approval_deadline)
    if run.check_date:
        return dt.datetime.combine(run.check_date, dt.time(), tzinfo=dt.UTC)
    return None


def _open(run: PayrollRun) -> bool:
    return (run.run_state or "").upper() not in SETTLED_STATES and not run.approved_at


def poll_decision(
    runs: Iterable[PayrollRun], now: dt.datetime, settings: CadenceSettings | None = None
) -> PollDecision:
    settings = settings or CadenceSettings()
    now = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
    upcoming = sorted(
        (deadline, run.id)
        for run in runs
        if _open(run) and (deadline := approval_deadline(run)) is not None and deadline > now
    )
    if not upcoming:
        return PollDecision(settings.max_interval, "no open pay run ahead")
    deadline, run_id = upcoming[0]
    window_opens = deadline - settings.frequent_window
    if now >= window_opens:
        return PollDecision(
            settings.min_interval,
            f"pay run {run_id} approval deadline within the window",
            deadline,
            run_id,
        )
    wait = min(settings.max_interval, window_opens - now)
    wait = max(settings.min_interval, wait)
    return PollDecision(
        wait, f"next frequent window opens {window_opens:%Y-%m-%d %H:%M}Z", deadline, run_id
    )


def no_calendar_decision(why: str) -> PollDecision:
    """The fixed cadence for a company whose payroll runs cannot be read, and why."""
    return PollDecision(
        NO_CALENDAR_INTERVAL,
        f"fixed interval of {NO_CALENDAR_INTERVAL}: the payroll calendar is unreadable ({why})",
        calendar_unreadable=True,
    )


def safety_net_decision(interval: dt.timedelta = SAFETY_NET_INTERVAL) -> PollDecision:
    """The slow fixed cadence of the poll behind webhooks, and why."""
    if interval <= dt.timedelta(0):
        raise ValueError("the safety-net interval must be positive")
    return PollDecision(
        interval,
        f"webhooks on: safety-net poll every {interval} (webhooks only cover employees"
        " provisioned to the app)",
        safety_net=True,
    )


def next_poll_interval(
    runs: Iterable[PayrollRun], now: dt.datetime, settings: CadenceSettings | None = None
) -> dt.timedelta:
    """The wait before the next poll: ``min_interval`` inside a run's frequent window, else up
    to ``max_interval`` but never beyond the next window's opening."""
    return poll_decision(runs, now, settings).interval
