"""Which source places a worker's cost on job codes, and with what weights.

Rippling knows a worker's time in three places, from the most to the least precise: hours
logged in time entries (per pay period), a hard-coded time split (percentages across job
codes), and the job assignments (no weights: split equally). Without any of them the cost goes
to the worker's department. The mapping's ``allocation.order`` says which to try first; the
first source that has something for the worker allocates all of its cost for the run.

Each share is a job code *combination* (Rippling's split rows and job shifts name several job
codes at once, one per job dimension), with its weight and the ids that decide a remainder
tie (``accounting.md``: the lower job-assignment id; for time entries the lower job code id).
The cents themselves are split by ``allocation.allocate`` (largest remainder).
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from ml_connector_dagster.ledger.inputs import JobShare, WorkerContext


class AllocationSource(StrEnum):
    TIME_ENTRIES = "time_entries"
    TIME_SPLIT = "time_split"
    JOB_ASSIGNMENTS = "job_assignments"
    DEPARTMENT = "department"


DEFAULT_ORDER: tuple[AllocationSource, ...] = (
    AllocationSource.TIME_ENTRIES,
    AllocationSource.TIME_SPLIT,
    AllocationSource.JOB_ASSIGNMENTS,
    AllocationSource.DEPARTMENT,
)


@dataclass(frozen=True)
class Allocation:
    """The source that placed a worker and its shares (none: the department, undivided)."""

    source: AllocationSource
    shares: tuple[JobShare, ...] = ()


def _combined(
    pieces: Iterable[tuple[Sequence[str], Decimal]], keys: Mapping[str, str]
) -> tuple[JobShare, ...]:
    """Weights summed per job code combination (the set of Rippling ids, sorted), positive
    ones only, in id order; each id shown by its mapping key (``keys``, else the id)."""
    summed: dict[tuple[str, ...], Decimal] = {}
    for ids, weight in pieces:
        combination = tuple(sorted(set(ids)))
        summed[combination] = summed.get(combination, Decimal(0)) + weight
    return tuple(
        JobShare(tuple(keys.get(i, i) for i in combination), weight, combination)
        for combination, weight in sorted(summed.items())
        if weight > 0
    )


def hours_shares(
    shifts: Iterable[tuple[Sequence[str], Decimal]], keys: Mapping[str, str]
) -> tuple[JobShare, ...]:
    """Hours per job code combination from ``(job code ids, hours)`` of job shifts.

    A shift without job codes keeps its hours on the department (an empty combination): the
    spec does not say such hours belong to no one, and dropping them would shift their cost to
    the shifts that have job codes.
    """
    return _combined(shifts, keys)


def split_shares(
    rows: Iterable[tuple[Sequence[str], Decimal]], keys: Mapping[str, str]
) -> tuple[JobShare, ...]:
    """Percentages per job code combination from the rows of an enabled time split."""
    return _combined(rows, keys)


def assignment_shares(worker: WorkerContext) -> tuple[JobShare, ...]:
    """The worker's job assignments, equal weights (or the given ones), each tied by its
    job-assignment id when known."""
    ids = worker.job_assignment_ids
    return tuple(
        JobShare(
            (job_code,),
            Decimal(weight),
            (ids[n],) if len(ids) == len(worker.job_codes) else (f"{n:06d}",),
        )
        for n, (job_code, weight) in enumerate(worker.job_codes)
    )


def choose_allocation(
    order: Sequence[AllocationSource],
    worker: WorkerContext,
    hours: Sequence[JobShare] = (),
) -> Allocation:
    """The first source in ``order`` that has positive weights for the worker.

    ``hours`` are the worker's hours in the run's pay period (``hours_shares``); the time
    split and the job assignments come with the worker. The department always places a
    worker, so an order ending with it places everyone (``config.mapping`` requires that).
    """
    for source in order:
        if source is AllocationSource.DEPARTMENT:
            return Allocation(source)
        if source is AllocationSource.TIME_ENTRIES:
            shares = tuple(hours)
        elif source is AllocationSource.TIME_SPLIT:
            shares = worker.time_split
        else:
            shares = assignment_shares(worker)
        if shares and sum((s.weight for s in shares), Decimal(0)) > 0:
            return Allocation(source, shares)
    return Allocation(AllocationSource.DEPARTMENT)
