"""Workers with their users, compensations, job assignments and HR history.

Each person is first drawn as a small :class:`Person` (plain numbers and dates), then rendered
into Rippling records. The employment history lives only in ``Person.spans``: Rippling shows the
current state (status, start_date, end_date), while payroll and the Dynamics seed need the past.

A rehire is modelled as the **same worker id** whose status returns to ACTIVE with a new
``start_date`` (Rippling keeps the role), with end_date and termination_details cleared.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ml_connector_sandbox.company import catalog
from ml_connector_sandbox.company.ids import IdFactory, timestamp
from ml_connector_sandbox.company.org import Org
from ml_connector_sandbox.company.payroll import cents, money

FIRST_NUMBER = 1001
LATEST_SEED_SECOND = 17 * 3600  # every seeded timestamp is at or before as_of 17:00 UTC


@dataclass
class Person:
    """One worker before rendering; ``spans`` are (start, end or None) employments, oldest first."""

    index: int
    number: int
    entity: int
    department: int
    level: int
    employment_type: int
    given: str
    family: str
    spans: list[tuple[dt.date, dt.date | None]]
    worker_id: str = ""
    user_id: str = ""
    compensation_id: str = ""
    email: str = ""
    rate: Decimal = Decimal(0)  # hourly rate for hourly/contractors
    annual: Decimal = Decimal(0)
    events: list[tuple[str, str]] = field(default_factory=list)  # (timestamp, event type)
    termination_type: str = "VOLUNTARY"
    manager_index: int | None = None
    team: int | None = None

    @property
    def pay_kind(self) -> str:
        return catalog.EMPLOYMENT_TYPES[self.employment_type][5]

    @property
    def first_start(self) -> dt.date:
        return self.spans[0][0]


@dataclass
class Staff:
    people: list[Person]
    users: list[dict[str, Any]]
    workers: list[dict[str, Any]]
    compensations: list[dict[str, Any]]
    job_assignments: list[dict[str, Any]]
    company_activity: list[dict[str, Any]]


def _ascii(text: str) -> str:
    text = text.replace("ü", "ue").replace("ö", "oe").replace("ä", "ae").replace("ß", "ss")
    return "".join(c for c in unicodedata.normalize("NFKD", text) if c.isalnum()).lower()


def _weighted(rng: Any, weights: list[int]) -> int:
    return rng.choices(range(len(weights)), weights=weights)[0]


def draw_people(
    org: Org, ids: IdFactory, *, count: int, window_start: dt.date, as_of: dt.date
) -> list[Person]:
    """Draw people, then force the few roles every dataset must show (rehire, contractor...)."""
    if count < 5:
        raise ValueError(f"workers must be at least 5, got {count}")
    rng = ids.rng
    entity_weights = [e.weight for e in org.entities]
    window_days = max((as_of - window_start).days, 1)
    tenure_start = dt.date(2016, 1, 4)
    tenure_days = (window_start - tenure_start).days
    people: list[Person] = []
    for i in range(count):
        dept = _weighted(rng, org.department_weights)
        level = rng.choice((4, 5)) if dept == 0 else _weighted(rng, [30, 30, 20, 12, 6, 2])
        roll = rng.random()
        etype = (
            0
            if dept == 0
            else (3 if roll < 0.06 else 1 if roll < 0.15 else 2 if roll < 0.18 else 0)
        )
        if rng.random() < 0.9:
            start = tenure_start + dt.timedelta(days=rng.randint(0, tenure_days - 1))
            end = None
            if rng.random() < 0.07:
                end = window_start + dt.timedelta(days=rng.randint(0, window_days - 1))
        else:
            start = window_start + dt.timedelta(days=rng.randint(0, window_days))
            end = None
        people.append(
            Person(
                index=i,
                number=FIRST_NUMBER + i,
                entity=_weighted(rng, entity_weights),
                department=dept,
                level=level,
                employment_type=etype,
                given=rng.choice(catalog.GIVEN_NAMES),
                family=rng.choice(catalog.FAMILY_NAMES),
                spans=[(start, end)],
                termination_type=rng.choice(
                    ("VOLUNTARY", "VOLUNTARY", "INVOLUNTARY", "RETIREMENT")
                ),
                team=rng.randrange(len(org.teams)) if rng.random() < 0.6 else None,
            )
        )
    if len(org.entities) > len(catalog.ENTITIES):
        _staff_every_entity(people, len(org.entities))
    _force_roles(people, window_start, as_of, tenure_start)
    return people


def _staff_every_entity(people: list[Person], entities: int) -> None:
    """Move one person into each legal entity the draw left empty, from the largest one.

    Only for companies with more entities than the catalog (a company of up to three keeps the
    plain draw, byte for byte). Draws no random numbers; the people moved are past the few
    whose roles ``_force_roles`` sets, and the last drawn of their entity. People 4 and 5 may
    be offers starting after as-of, so they do not count as staffing an entity. With fewer
    people than entities, some entities stay empty.
    """
    members: list[list[Person]] = [[] for _ in range(entities)]
    for p in people[6:]:
        members[p.entity].append(p)
    for entity in range(entities):
        if members[entity] or any(p.entity == entity for p in people[:4]):
            continue
        donor = max(range(entities), key=lambda e: (len(members[e]), -e))
        if len(members[donor]) < 2:
            return
        moved = members[donor].pop()
        moved.entity = entity
        members[entity].append(moved)


def _force_roles(
    people: list[Person], window_start: dt.date, as_of: dt.date, tenure_start: dt.date
) -> None:
    """Guarantee a rehire, a contractor, a hire and a termination even in tiny companies."""
    n = len(people)
    rehire = people[1]
    rehire.employment_type = 0
    first_end = as_of - dt.timedelta(days=120)
    rehire.spans = [
        (min(rehire.first_start, first_end - dt.timedelta(days=400)), first_end),
        (as_of - dt.timedelta(days=25), None),
    ]
    leaver = people[2]
    if leaver.spans[0][0] >= window_start:
        leaver.spans = [(tenure_start + dt.timedelta(days=leaver.index), None)]
    leaver.spans = [
        (
            leaver.spans[0][0],
            window_start + dt.timedelta(days=max((as_of - window_start).days // 2, 1)),
        )
    ]
    joiner = people[3]
    joiner.spans = [(window_start + dt.timedelta(days=3), None)]
    if not any(p.employment_type == 3 for p in people):
        people[n - 1].employment_type = 3
        if people[n - 1].department == 0:
            people[n - 1].department = 1 if len({p.department for p in people}) > 1 else 0
    if n >= 50:
        for p in people[4:6]:  # accepted offers starting after as_of
            p.spans = [(as_of + dt.timedelta(days=10 + 7 * p.index), None)]


def _salary(org: Org, p: Person, rng: Any) -> None:
    spec = org.entities[p.entity]
    if p.pay_kind == "SALARIED":
        low, high = spec.salary_range
        base = Decimal(rng.randint(low, low + (high - low) // 3))
        p.annual = cents(base * (1 + catalog.LEVEL_SALARY_FACTOR[p.level]) / 500) * 500
        p.rate = cents(p.annual / 2080)
    else:
        low, high = spec.contractor_range if p.pay_kind == "CONTRACTOR" else spec.hourly_range
        p.rate = Decimal(rng.randint(low * 4, high * 4)) / 4
        p.rate = cents(p.rate)
        p.annual = cents(p.rate * 2080)


def _history(p: Person, rng: Any, window_start: dt.date, as_of: dt.date) -> None:
    """HR events with timestamps; updated_at is the newest, all at or before as_of 17:00."""
    limit = timestamp(as_of, LATEST_SEED_SECOND)

    def at(day: dt.date) -> str:
        day = min(day, as_of)
        return min(timestamp(day, 8 * 3600 + rng.randint(0, 8 * 3600)), limit)

    first_start = p.first_start
    p.events.append(
        (
            at(min(first_start - dt.timedelta(days=21), as_of - dt.timedelta(days=5))),
            "EMPLOYEE_HIRED",
        )
    )
    for n, (start, end) in enumerate(p.spans):
        if n > 0:
            p.events.append((at(start - dt.timedelta(days=10)), "EMPLOYEE_REHIRED"))
        if end is not None:
            p.events.append(
                (at(max(end - dt.timedelta(days=rng.randint(0, 7)), start)), "EMPLOYEE_TERMINATED")
            )
    if first_start < window_start and p.spans[-1][1] is None and rng.random() < 0.25:
        day = window_start + dt.timedelta(days=rng.randint(0, max((as_of - window_start).days, 1)))
        p.events.append((at(day), "EMPLOYEE_UPDATED"))
    p.events.sort()


def _email(p: Person, taken: set[str]) -> str:
    local = f"{_ascii(p.given)}.{_ascii(p.family)}"
    candidate, k = local, 1
    while candidate in taken:
        k += 1
        candidate = f"{local}{k}"
    taken.add(candidate)
    return f"{candidate}@{catalog.EMAIL_DOMAIN}"


def _assign_managers(people: list[Person]) -> None:
    heads: dict[int, Person] = {}
    for p in people:
        current = heads.get(p.department)
        if current is None or p.level > current.level:
            heads[p.department] = p
    chief = heads.get(0)
    for p in people:
        head = heads[p.department]
        if p is head:
            p.manager_index = None if chief is None or chief is p else chief.index
        else:
            p.manager_index = head.index


def render_staff(
    org: Org, ids: IdFactory, people: list[Person], *, window_start: dt.date, as_of: dt.date
) -> Staff:
    rng = ids.rng
    taken: set[str] = set()
    for p in people:
        p.worker_id, p.user_id, p.compensation_id = ids.new(), ids.new(), ids.new()
        p.email = _email(p, taken)
        _salary(org, p, rng)
        _history(p, rng, window_start, as_of)
    _assign_managers(people)
    managers = {p.manager_index for p in people if p.manager_index is not None}
    users, workers, compensations, assignments, activity = [], [], [], [], []
    for p in people:
        created, updated = p.events[0][0], p.events[-1][0]
        start, end = p.spans[-1]
        status = (
            "TERMINATED"
            if end is not None and end <= as_of
            else "ACCEPTED"
            if start > as_of
            else "ACTIVE"
        )
        entity = org.entities[p.entity]
        users.append(
            user_record(
                user_id=p.user_id,
                created=created,
                given=p.given,
                family=p.family,
                email=p.email,
                number=p.number,
                country=entity.country,
                active=status != "TERMINATED",
            )
        )
        worker = worker_record(
            worker_id=p.worker_id,
            created=created,
            updated=updated,
            user_id=p.user_id,
            number=p.number,
            email=p.email,
            status=status,
            start=start,
            end=end,
            legal_entity_id=org.legal_entities[p.entity]["id"],
            country=entity.country,
            work_location_id=org.work_location_ids[p.entity],
            employment_type_id=org.employment_types[p.employment_type]["id"],
            compensation_id=p.compensation_id,
            department_id=org.departments[p.department]["id"],
            level_id=org.levels[p.level]["id"],
            title="Contractor" if p.pay_kind == "CONTRACTOR" else catalog.TITLES[p.level + 1],
            salaried=p.pay_kind == "SALARIED",
            manager_id=None if p.manager_index is None else people[p.manager_index].worker_id,
            is_manager=p.index in managers,
            team_ids=[] if p.team is None else [org.teams[p.team]["id"]],
            termination_type=p.termination_type,
        )
        workers.append(worker)
        compensations.append(
            compensation_record(
                compensation_id=p.compensation_id,
                worker_id=p.worker_id,
                currency=entity.currency,
                created=created,
                effective=start,
                annual=p.annual,
                rate=p.rate,
                pay_kind=p.pay_kind,
                level=p.level,
            )
        )
        codes = org.job_codes_by_department[p.department]
        if p.pay_kind != "CONTRACTOR" and rng.random() < 0.75:
            picks = [rng.choice(codes)]
            if rng.random() < 0.07:
                other = rng.randrange(len(org.job_codes))
                if other not in picks:
                    picks.append(other)
            for code in picks:
                assignments.append(
                    {
                        "id": ids.new(),
                        "created_at": created,
                        "updated_at": created,
                        "worker_id": p.worker_id,
                        "job_code_id": org.job_codes[code]["id"],
                    }
                )
        for when, kind in p.events:
            if when >= timestamp(as_of - dt.timedelta(days=200)):
                activity.append(_event(ids, org.company_id, p, when, kind))
    activity.sort(key=lambda e: (e["timestamp"], e["id"]))
    return Staff(people, users, workers, compensations, assignments, activity)


def user_record(
    *,
    user_id: str,
    created: str,
    given: str,
    family: str,
    email: str,
    number: int,
    country: str,
    active: bool,
) -> dict[str, Any]:
    """A v2 User; names and emails live here, not on the worker."""
    display = f"{given} {family}"
    return {
        "id": user_id,
        "created_at": created,
        "updated_at": created,
        "active": active,
        "username": email.split("@")[0],
        "name": {
            "formatted": display,
            "given_name": given,
            "middle_name": None,
            "family_name": family,
            "preferred_given_name": given,
            "preferred_family_name": family,
        },
        "display_name": display,
        "emails": [{"value": email, "type": "WORK", "display": email}],
        "phone_numbers": [],
        "addresses": [],
        "photos": [],
        "preferred_language": "de" if country == "DE" else "en",
        "locale": {"US": "en-US", "GB": "en-GB", "DE": "de-DE"}.get(country, "en-US"),
        "timezone": {"US": "America/New_York", "GB": "Europe/London", "DE": "Europe/Berlin"}.get(
            country, "UTC"
        ),
        "number": str(number),
    }


def worker_record(
    *,
    worker_id: str,
    created: str,
    updated: str,
    user_id: str,
    number: int,
    email: str,
    status: str,
    start: dt.date,
    end: dt.date | None,
    legal_entity_id: str,
    country: str,
    work_location_id: str,
    employment_type_id: str,
    compensation_id: str,
    department_id: str,
    level_id: str | None,
    title: str,
    salaried: bool,
    manager_id: str | None,
    is_manager: bool,
    team_ids: list[str],
    termination_type: str = "VOLUNTARY",
) -> dict[str, Any]:
    """A v2 Worker as stored (no expansions)."""
    return {
        "id": worker_id,
        "created_at": created,
        "updated_at": updated,
        "user_id": user_id,
        "is_manager": is_manager,
        "manager_id": manager_id,
        "legal_entity_id": legal_entity_id,
        "country": country,
        "start_date": start.isoformat(),
        "end_date": end.isoformat() if end else None,
        "number": number,
        "work_email": email,
        "personal_email": None,
        "status": status,
        "location": {"type": "WORK", "work_location_id": work_location_id},
        "employment_type_id": employment_type_id,
        "gender": None,
        "date_of_birth": None,
        "compensation_id": compensation_id,
        "overtime_exemption": "EXEMPT" if salaried else "NON_EXEMPT",
        "department_id": department_id,
        "teams_id": team_ids,
        "title": title,
        "title_effective_date": start.isoformat(),
        "level_id": level_id,
        "termination_details": (
            {"type": termination_type, "reason": "Left the company"}
            if status == "TERMINATED"
            else None
        ),
        "custom_fields": [],
    }


def compensation_record(
    *,
    compensation_id: str,
    worker_id: str,
    currency: str,
    created: str,
    effective: dt.date,
    annual: Decimal,
    rate: Decimal,
    pay_kind: str,
    level: int,
) -> dict[str, Any]:
    """A v2 Compensation; money as ``{currency_type, value}`` with value a decimal string."""

    def cur(value: Decimal) -> dict[str, str]:
        return {"currency_type": currency, "value": money(value)}

    salaried = pay_kind == "SALARIED"
    return {
        "id": compensation_id,
        "created_at": created,
        "updated_at": created,
        "worker_id": worker_id,
        "annual_compensation": cur(annual),
        "annual_salary_equivalent": cur(annual),
        "hourly_wage": cur(rate),
        "monthly_compensation": cur(annual / 12),
        "weekly_compensation": cur(annual / 52),
        "target_annual_bonus_percent": 10 if salaried and level >= 3 else 0,
        "bonus_schedule": "ANNUAL" if salaried else None,
        "payment_type": "SALARY" if salaried else "HOURLY",
        "payment_terms": "CONTRACT" if pay_kind == "CONTRACTOR" else "PAYROLL",
        "salary_effective_date": effective.isoformat(),
    }


EVENT_NAMES = {
    "EMPLOYEE_HIRED": ("Employee hired", "HIRE"),
    "EMPLOYEE_TERMINATED": ("Employee terminated", "TERMINATION"),
    "EMPLOYEE_REHIRED": ("Employee rehired", "REHIRE"),
    "EMPLOYEE_UPDATED": ("Employee updated", "EMPLOYEE_UPDATE"),
}


def activity_event(
    event_id: str, company_id: str, worker_id: str, display_name: str, when: str, kind: str
) -> dict[str, Any]:
    """A v1 company_activity event about one worker (role), shaped like the v1 Event model."""
    name, reason = EVENT_NAMES[kind]
    return {
        "id": event_id,
        "request_data": None,
        "linked_events": [],
        "subjects": [
            {"instance": worker_id, "type": "ROLE", "display_name": display_name, "icon": None}
        ],
        "event_type": kind,
        "timestamp": when,
        "company": company_id,
        "spoke": None,
        "owner": worker_id,
        "initiator": {"type": "SYSTEM", "role": None, "display_name": "Rippling HR", "icon": None},
        "event_reason": {"reason": reason, "message": f"{name}: {display_name}"},
        "name": name,
    }


def _event(ids: IdFactory, company_id: str, p: Person, when: str, kind: str) -> dict[str, Any]:
    return activity_event(ids.new(), company_id, p.worker_id, f"{p.given} {p.family}", when, kind)
