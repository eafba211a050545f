"""Rippling's time data turned into the ledger's job shares: time splits and time entries.

The ledger rules (``ledger/time_allocation.py``) take weights per job code combination; what a
``WorkerTimeSplit`` row or a ``TimeEntry`` job shift looks like on the wire stays here. Job
codes are shown to the mapping by their external id (else their Rippling id), as the job
assignments are; the Rippling ids decide remainder ties.

Where the v2 spec is silent, this module decides, and says so:

- Hours of a job shift are ``end_time - start_time``. The spec gives no hours field per shift
  (``TimeEntrySummary`` has hours per entry, not per job code), and says nothing of breaks
  inside a shift; ``is_hours_only_input`` shifts are read the same way (their times span the
  duration entered).
- A DRAFT time entry is not counted: its hours are not approved (spec enum: DRAFT, APPROVED,
  PAID, FINALIZED; the spec does not say which statuses a payroll pays).
- A disabled split counts for nothing; an enabled one whose percentages do not sum to 100.00
  is refused (the spec: "All rows must sum to 100.00 when is_enabled is true").
"""

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation

from ml_connector_dagster.ledger.inputs import JobShare
from ml_connector_dagster.ledger.time_allocation import hours_shares, split_shares
from ml_connector_dagster.rippling.models import TimeEntry, WorkerTimeSplit, parse_timestamp

HUNDRED = Decimal("100.00")
SECONDS_PER_HOUR = Decimal(3600)
UNCOUNTED_STATUSES = frozenset({"DRAFT"})


class TimeDataError(ValueError):
    """Rippling time data that cannot allocate anything (named by record and field)."""


def enabled_split_shares(
    splits: Iterable[WorkerTimeSplit], keys: Mapping[str, str]
) -> dict[str, tuple[JobShare, ...]]:
    """Worker id -> the shares of its enabled time split (a worker with none is absent)."""
    out: dict[str, tuple[JobShare, ...]] = {}
    for split in splits:
        if not split.is_enabled:
            continue
        rows: list[tuple[tuple[str, ...], Decimal]] = []
        for n, row in enumerate(split.splits):
            where = f"worker time split {split.id}: splits[{n}].split_percentage"
            try:
                percentage = Decimal(row.split_percentage or "")
            except InvalidOperation:
                raise TimeDataError(f"{where} is not a number: {row.split_percentage!r}") from None
            if not percentage.is_finite() or percentage <= 0:
                raise TimeDataError(f"{where} must be above zero: {row.split_percentage!r}")
            if not row.job_code_ids:
                raise TimeDataError(f"worker time split {split.id}: splits[{n}] has no job code")
            rows.append((row.job_code_ids, percentage))
        total = sum((p for _, p in rows), Decimal(0))
        if total != HUNDRED:
            raise TimeDataError(
                f"worker time split {split.id} of worker {split.worker_id} is enabled but its"
                f" percentages sum to {total}, not 100.00"
            )
        if split.worker_id in out:
            raise TimeDataError(f"worker {split.worker_id} has more than one enabled time split")
        out[split.worker_id] = split_shares(rows, keys)
    return out


def shift_hours(entry: TimeEntry, n: int) -> Decimal:
    shift = entry.job_shifts[n]
    where = f"time entry {entry.id}: job_shifts[{n}]"
    if not shift.start_time or not shift.end_time:
        raise TimeDataError(f"{where} has no start_time or end_time")
    try:
        start, end = parse_timestamp(shift.start_time), parse_timestamp(shift.end_time)
    except ValueError:
        raise TimeDataError(f"{where}: start_time or end_time is not a timestamp") from None
    if end < start:
        raise TimeDataError(f"{where} ends before it starts")
    return Decimal(int((end - start).total_seconds())) / SECONDS_PER_HOUR


def entry_hours(
    entries: Iterable[TimeEntry], keys: Mapping[str, str]
) -> dict[str, tuple[JobShare, ...]]:
    """Worker id -> hours per job code combination over the entries (DRAFT ones left out)."""
    shifts: dict[str, list[tuple[tuple[str, ...], Decimal]]] = {}
    for entry in entries:
        if (entry.status or "").upper() in UNCOUNTED_STATUSES:
            continue
        for n, shift in enumerate(entry.job_shifts):
            shifts.setdefault(entry.worker_id, []).append(
                (shift.job_codes_id, shift_hours(entry, n))
            )
    return {
        worker: shares
        for worker, worked in shifts.items()
        if (shares := hours_shares(worked, keys))
    }
