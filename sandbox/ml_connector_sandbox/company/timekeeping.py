"""Time data of the generated company: worker time splits, time entries and time cards.

What the connector allocates a worker's cost by (issue 15): hours from time entries in the pay
period, else an enabled time split, else the job assignments equally, else the department.
Rippling's time splits and time entries name job codes of their own (not necessarily the
worker's job assignments), and so does this company, so that even a small one has workers of
each kind. Among the workers with one job assignment (in the order the staff was generated):

- the first has time entries on its one job code;
- the second and third have time entries on their job code and another one (the second none
  in the newest pay period, where it falls back, and one DRAFT entry in the period before);
- the fourth has an enabled time split across its job code and another one;
- the fifth has an enabled split *and* time entries (the entries take precedence);
- the sixth has a disabled split (it counts for nothing);

and among the workers with several job assignments, k-th of them: k % 3 == 0 has neither
(split equally), k % 3 == 1 time entries, k % 3 == 2 an enabled split across its codes.

Everything is drawn from its own random stream (seeded from the company seed), after the rest
of the company: adding time data leaves every other record of a seed exactly as it was.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from ml_connector_sandbox.company.ids import IdFactory, timestamp
from ml_connector_sandbox.company.runs import employed_fraction
from ml_connector_sandbox.company.staff import Person

ENTRIES_PER_PERIOD = 3
DAY_START = 8 * 3600
# Split percentages for two and three job codes (each sums to 100.00, spec: ``Split``).
# The second pair leaves remainder cents to hand out, like most real percentages.
SPLITS = ((("70.00", "30.00"), ("33.33", "66.67")), (("50.00", "33.33", "16.67"),))


@dataclass
class Timekeeping:
    worker_time_splits: list[dict[str, Any]] = field(default_factory=list)
    time_entries: list[dict[str, Any]] = field(default_factory=list)
    time_cards: list[dict[str, Any]] = field(default_factory=list)


def build_timekeeping(
    seed: int,
    people: list[Person],
    job_assignments: list[dict[str, Any]],
    job_code_ids: list[str],
    periods: list[tuple[dt.date, dt.date]],
) -> Timekeeping:
    rng = random.Random(f"{seed}:timekeeping")
    ids = IdFactory(rng)
    held: dict[str, list[str]] = {}
    for assignment in job_assignments:
        held.setdefault(assignment["worker_id"], []).append(assignment["job_code_id"])
    out = Timekeeping()

    def with_another(person: Person) -> list[str]:
        own = held[person.worker_id]
        others = [code for code in job_code_ids if code not in own]
        return [*own, rng.choice(others)] if others else own

    singles = [p for p in people if len(held.get(p.worker_id, [])) == 1]
    for n, person in enumerate(singles[:6]):
        if n == 0:
            _entries(out, ids, rng, person, held[person.worker_id], periods, quirks=False)
        elif n in (1, 2):
            _entries(out, ids, rng, person, with_another(person), periods, quirks=n == 1)
        elif n in (3, 4):
            codes = with_another(person)
            out.worker_time_splits.append(_split(ids, person, codes, periods, n, enabled=True))
            if n == 4:
                _entries(out, ids, rng, person, codes, periods, quirks=False)
        else:
            out.worker_time_splits.append(_split(ids, person, [], periods, n, enabled=False))
    several = [p for p in people if len(held.get(p.worker_id, [])) > 1]
    for k, person in enumerate(several):
        codes = held[person.worker_id]
        if k % 3 == 1:
            _entries(out, ids, rng, person, codes, periods, quirks=False)
        elif k % 3 == 2:
            out.worker_time_splits.append(_split(ids, person, codes, periods, k, enabled=True))
    return out


def _split(
    ids: IdFactory,
    person: Person,
    codes: list[str],
    periods: list[tuple[dt.date, dt.date]],
    k: int,
    *,
    enabled: bool,
) -> dict[str, Any]:
    created = timestamp(max(person.first_start, periods[0][0]), 10 * 3600)
    rows = []
    if enabled:
        options = SPLITS[min(len(codes), 3) - 2]
        shares = options[(k // 3) % len(options)]
        rows = [
            {"split_percentage": share, "job_code_ids": [code]}
            for share, code in zip(shares, codes, strict=False)
        ]
    return {
        "id": ids.new(),
        "created_at": created,
        "updated_at": created,
        "worker_id": person.worker_id,
        "is_enabled": enabled,
        "splits": rows,  # spec: "Empty when is_enabled is false."
        "job_codes_id": sorted({code for row in rows for code in row["job_code_ids"]}),
    }


def _entries(
    out: Timekeeping,
    ids: IdFactory,
    rng: random.Random,
    person: Person,
    codes: list[str],
    periods: list[tuple[dt.date, dt.date]],
    *,
    quirks: bool,
) -> None:
    for n, (start, end) in enumerate(periods):
        if employed_fraction(person.spans, start, end) <= 0:
            continue
        if quirks and n == len(periods) - 1:
            continue  # no time entries this period: the worker falls back to the next source
        status = "APPROVED" if n == len(periods) - 1 else "PAID"
        card_id = ids.new()
        entries = []
        days = sorted(rng.sample(range(14), ENTRIES_PER_PERIOD))
        for day_offset in days:
            day = start + dt.timedelta(days=day_offset)
            shifts = []
            at = DAY_START
            for _ in range(rng.choice((1, 2))):
                half_hours = rng.randint(4, 12)
                code = rng.choice(codes)
                shifts.append(
                    {
                        "start_time": timestamp(day, at),
                        "end_time": timestamp(day, at + half_hours * 1800),
                        "job_codes_id": [code],
                        "is_hours_only_input": False,
                    }
                )
                at += half_hours * 1800
            entries.append(_entry(ids, person, day, shifts, status, card_id, (start, end)))
        if quirks and n == len(periods) - 2:
            # A draft: hours not yet approved, which the connector must not allocate by.
            day = start + dt.timedelta(days=13)
            shift = {
                "start_time": timestamp(day, DAY_START),
                "end_time": timestamp(day, DAY_START + 10 * 3600),
                "job_codes_id": [codes[0]],
                "is_hours_only_input": False,
            }
            entries.append(_entry(ids, person, day, [shift], "DRAFT", card_id, (start, end)))
        out.time_entries.extend(entries)
        out.time_cards.append(_card(card_id, person, entries, (start, end)))


def _hours(shift: dict[str, Any]) -> float:
    begin = dt.datetime.fromisoformat(shift["start_time"])
    finish = dt.datetime.fromisoformat(shift["end_time"])
    return (finish - begin).total_seconds() / 3600  # whole half hours: exact in binary


def _entry(
    ids: IdFactory,
    person: Person,
    day: dt.date,
    shifts: list[dict[str, Any]],
    status: str,
    card_id: str,
    period: tuple[dt.date, dt.date],
) -> dict[str, Any]:
    duration = sum(_hours(shift) for shift in shifts)
    stamp = shifts[-1]["end_time"]
    return {
        "id": ids.new(),
        "created_at": stamp,
        "updated_at": stamp,
        "worker_id": person.worker_id,
        "start_time": shifts[0]["start_time"],
        "end_time": shifts[-1]["end_time"],
        "comments": [],
        "job_shifts": shifts,
        "breaks": [],
        "premiums": [],
        "piece_rate_premiums": [],
        "segments": [],
        "time_entry_summary": {
            "regular_hours": duration,
            "over_time_hours": 0,
            "double_over_time_hours": 0,
            "duration": duration,
        },
        "time_card_id": card_id,
        "tags": [],
        "status": status,
        "pay_period": {"start_date": period[0].isoformat(), "end_date": period[1].isoformat()},
    }


def _card(
    card_id: str, person: Person, entries: list[dict[str, Any]], period: tuple[dt.date, dt.date]
) -> dict[str, Any]:
    by_code: dict[str, float] = {}
    approved = 0.0
    for entry in entries:
        for shift in entry["job_shifts"]:
            by_code[shift["job_codes_id"][0]] = by_code.get(shift["job_codes_id"][0], 0) + _hours(
                shift
            )
        if entry["status"] != "DRAFT":
            approved += entry["time_entry_summary"]["duration"]
    total = sum(by_code.values())
    stamp = timestamp(period[1] + dt.timedelta(days=1))
    return {
        "id": card_id,
        "created_at": stamp,
        "updated_at": stamp,
        "worker_id": person.worker_id,
        "pay_period": {"start_date": period[0].isoformat(), "end_date": period[1].isoformat()},
        "summary": {
            "hours_worked_by_job_code": [
                {"job_codes_id": [code], "hours_worked": hours}
                for code, hours in sorted(by_code.items())
            ],
            "approved_hours": approved,
            "paid_hours": approved,
            "total_hours": total,
            "regular_hours": total,
            "overtime_hours": 0,
            "double_overtime_hours": 0,
        },
    }
