"""Biweekly payroll runs per company entity and the worker payroll records inside them.

Periods run Sunday to Saturday, two weeks long, the newest ending on the last Saturday on or
before ``as_of``; the check date is the Friday after. All runs are PAID except the newest regular
run of the first entity, which is still APPROVED (so accrual journals have something to do),
and the first entity also has one OFF_CYCLE bonus run in the middle of the window.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from ml_connector_sandbox.company import payroll
from ml_connector_sandbox.company.ids import IdFactory, timestamp

PERIOD_DAYS = 14


def pay_periods(as_of: dt.date, count: int) -> list[tuple[dt.date, dt.date]]:
    """``count`` biweekly periods, oldest first, the newest ending on or before ``as_of``."""
    if count < 1:
        raise ValueError(f"pay_periods must be at least 1, got {count}")
    last_end = as_of - dt.timedelta(days=(as_of.weekday() - 5) % 7)
    ends = [last_end - dt.timedelta(days=PERIOD_DAYS * k) for k in range(count)]
    return [(end - dt.timedelta(days=PERIOD_DAYS - 1), end) for end in reversed(ends)]


def employed_fraction(
    spans: Iterable[tuple[dt.date, dt.date | None]], start: dt.date, end: dt.date
) -> Decimal:
    """Share of the period's days covered by any employment span (0 when not employed)."""
    days = 0
    for span_start, span_end in spans:
        lo = max(span_start, start)
        hi = min(span_end or end, end)
        if hi >= lo:
            days += (hi - lo).days + 1
    return Decimal(min(days, PERIOD_DAYS)) / PERIOD_DAYS


def make_run(
    ids: IdFactory,
    *,
    company_entity_id: str,
    country_code: str,
    payment_type: str,
    period: tuple[dt.date, dt.date],
    check_date: dt.date,
    run_type: str = "REGULAR",
    run_state: str = "PAID",
    title: str | None = None,
) -> dict[str, Any]:
    """A PayrollRun; timestamps follow the state (approved_at once approved, paid_at once paid)."""
    start, end = period
    approved = run_state in ("APPROVED", "PAID", "CLOSED")
    paid = run_state in ("PAID", "CLOSED")
    default_title = (
        f"Regular payroll {start.isoformat()} to {end.isoformat()}"
        if run_type == "REGULAR"
        else f"{run_type.replace('_', '-').title()} payroll {check_date.isoformat()}"
    )
    return {
        "id": ids.new(),
        "run_state": run_state,
        "run_type": run_type,
        "check_date": check_date.isoformat(),
        "debit_date": (check_date - dt.timedelta(days=1)).isoformat(),
        "title": title or default_title,
        "approval_deadline": timestamp(check_date - dt.timedelta(days=3), 20 * 3600),
        "approved_at": (
            timestamp(check_date - dt.timedelta(days=4), 13 * 3600 + ids.rng.randint(0, 10000))
            if approved
            else None
        ),
        "paid_at": timestamp(check_date, 8 * 3600) if paid else None,
        "lock_deadline": timestamp(check_date - dt.timedelta(days=3), 20 * 3600),
        "pay_period": {
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "pay_frequency": "BI_WEEKLY",
        },
        "company_entity_id": company_entity_id,
        "country_code": country_code,
        "payment_type": payment_type,
    }


def records_for_run(
    ids: IdFactory,
    run: dict[str, Any],
    members: Sequence[tuple[payroll.PayProfile, Decimal]],
    rng: random.Random,
) -> list[dict[str, Any]]:
    """One record per (profile, employed fraction) member, in member order."""
    regular = run["run_type"] != "OFF_CYCLE"
    out = []
    for profile, fraction in members:
        if regular:
            earnings = payroll.regular_earnings(profile, fraction, rng)
        else:
            earnings = payroll.bonus_earnings(profile, rng)
        out.append(
            payroll.build_record(
                profile, record_id=ids.new(), run_id=run["id"], earnings=earnings, regular=regular
            )
        )
    return out
