"""Headcount per company, Rippling against Dynamics, naming who differs (pure).

A person counts on a day when an employment of theirs covers it: in Rippling, the desired
employment (current span); in Dynamics, any ``EmploymentsV2`` row. People are compared by
PersonnelNumber, so a Dynamics-only number is someone Rippling does not (or no longer) place
there, and a Rippling-only one is someone the sync has not (yet) brought over.
"""

import datetime as dt
from dataclasses import dataclass

from ml_connector_dagster.workforce.current import CurrentState
from ml_connector_dagster.workforce.desired import DesiredState


@dataclass(frozen=True)
class Headcount:
    company: str
    rippling: int
    dynamics: int
    only_in_rippling: tuple[str, ...]
    only_in_dynamics: tuple[str, ...]

    @property
    def matches(self) -> bool:
        return not self.only_in_rippling and not self.only_in_dynamics


def _covers(start: dt.date, end: dt.date | None, day: dt.date) -> bool:
    return start <= day and (end is None or day <= end)


def headcount_differences(
    desired: DesiredState,
    current: CurrentState,
    *,
    as_of: dt.date,
    companies: tuple[str, ...] | None = None,
) -> list[Headcount]:
    """One row per company (the mapped ones when given), differences listed by number.

    ``current`` should be a complete read (``read_current`` without personnel numbers);
    otherwise people outside the read are simply not seen on the Dynamics side.
    """
    in_rippling: dict[str, set[str]] = {}
    for number, worker in desired.workers.items():
        for e in worker.employments:
            if _covers(e.start, e.end, as_of):
                in_rippling.setdefault(e.company, set()).add(number)
    in_dynamics: dict[str, set[str]] = {}
    for number, spans in current.employments.items():
        for e in spans:
            if e.covers(as_of):
                in_dynamics.setdefault(e.company, set()).add(number)
    names = companies or tuple(sorted(set(in_rippling) | set(in_dynamics)))
    rows = []
    for company in names:
        r = in_rippling.get(company.upper(), set())
        d = in_dynamics.get(company.upper(), set())
        rows.append(
            Headcount(
                company=company.upper(),
                rippling=len(r),
                dynamics=len(d),
                only_in_rippling=tuple(sorted(r - d)),
                only_in_dynamics=tuple(sorted(d - r)),
            )
        )
    return rows
