"""``generate_company``: the whole fictional firm, deterministic for the same arguments.

One ``random.Random(seed)`` feeds everything (ids, secrets, names, amounts) in a fixed order;
the clock is never read. Per-record work is kept simple so 50,000 workers stay fast.
"""

from __future__ import annotations

import datetime as dt
import gc
import random
from decimal import Decimal
from typing import Any

from ml_connector_sandbox.company import catalog, payroll, runs
from ml_connector_sandbox.company.dynamics import build_dynamics
from ml_connector_sandbox.company.ids import IdFactory
from ml_connector_sandbox.company.org import Org, build_org
from ml_connector_sandbox.company.staff import Person, Staff, draw_people, render_staff
from ml_connector_sandbox.company.timekeeping import build_timekeeping

CONNECTOR_LEAD_DAYS = 42
FOUNDED = dt.date(2015, 6, 1)


def generate_company(
    *,
    workers: int = 400,
    legal_entities: int = 3,
    departments: int = 12,
    pay_periods: int = 13,
    seed: int = 20261120,
    as_of: dt.date = dt.date(2026, 11, 20),
) -> dict[str, Any]:
    """Generate a company file (see docs/sandbox-dataset.md) as a JSON-serializable dict."""
    # Building hundreds of thousands of small dicts makes the cyclic GC rescan the growing heap
    # again and again (nothing here is cyclic garbage); pausing it keeps generation linear.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _generate(workers, legal_entities, departments, pay_periods, seed, as_of)
    finally:
        if was_enabled:
            gc.enable()


def _generate(
    workers: int, legal_entities: int, departments: int, pay_periods: int, seed: int, as_of: dt.date
) -> dict[str, Any]:
    rng = random.Random(seed)
    ids = IdFactory(rng)
    periods = runs.pay_periods(as_of, pay_periods)
    window_start = periods[0][0]
    connector_start = as_of - dt.timedelta(days=CONNECTOR_LEAD_DAYS)
    org = build_org(ids, legal_entities=legal_entities, departments=departments, founded=FOUNDED)
    people = draw_people(org, ids, count=workers, window_start=window_start, as_of=as_of)
    staff = render_staff(org, ids, people, window_start=window_start, as_of=as_of)
    payroll_runs, records = _payroll(org, staff, ids, periods, as_of)
    # Its own random stream, drawn last: every other record of a seed stays as it was.
    time = build_timekeeping(
        seed, staff.people, staff.job_assignments, [c["id"] for c in org.job_codes], periods
    )
    entra = {
        "tenant_id": ids.uuid(),
        "clients": [
            {
                "client_id": ids.uuid(),
                "client_secret": ids.secret(34, prefix="Nw8Q~"),
                "registered_in_dynamics": True,
            },
            {
                "client_id": ids.uuid(),
                "client_secret": ids.secret(34, prefix="Xk2Q~"),
                "registered_in_dynamics": False,
            },
        ],
    }
    credentials = {
        "api_tokens": [
            {"label": "full", "token": ids.secret(48), "scopes": list(catalog.READ_SCOPES)},
            {
                "label": "limited",
                "token": ids.secret(48),
                "scopes": list(catalog.LIMITED_SCOPES),
                "redact_compensation_for": {
                    "department_reference_codes": list(catalog.REDACTED_DEPARTMENT_CODES)
                },
            },
        ],
        "oauth_clients": [
            {
                "client_id": ids.secret(40),
                "client_secret": ids.secret(64),
                "refresh_token": ids.secret(40),
                "authorization_code": ids.secret(30),
                "redirect_uri": "https://127.0.0.1/oauth/callback",
                "scopes": list(catalog.READ_SCOPES),
            }
        ],
    }
    return {
        "format": catalog.FORMAT,
        "meta": {
            "name": catalog.COMPANY_NAME,
            "seed": seed,
            "as_of": as_of.isoformat(),
            "parameters": {
                "workers": workers,
                "legal_entities": legal_entities,
                "departments": departments,
                "pay_periods": pay_periods,
                "seed": seed,
                "as_of": as_of.isoformat(),
            },
            "connector_start_date": connector_start.isoformat(),
            "payroll_window": {
                "start_date": window_start.isoformat(),
                "end_date": periods[-1][1].isoformat(),
            },
        },
        "entra": entra,
        "rippling": {
            "company_id": org.company_id,
            "credentials": credentials,
            "legal_entities": org.legal_entities,
            "company_legal_entities": org.company_legal_entities,
            "departments": org.departments,
            "employment_types": org.employment_types,
            "job_dimensions": org.job_dimensions,
            "job_codes": org.job_codes,
            "job_assignments": staff.job_assignments,
            "levels": org.levels,
            "teams": org.teams,
            "users": staff.users,
            "workers": staff.workers,
            "compensations": staff.compensations,
            "payroll_runs": payroll_runs,
            "worker_payroll_records": records,
            "company_activity": staff.company_activity,
            "entitlements": catalog.entitlement_records(),
            "worker_time_splits": time.worker_time_splits,
            "time_cards": time.time_cards,
            "time_entries": time.time_entries,
        },
        "dynamics": build_dynamics(org, people, connector_start),
    }


def _profiles(org: Org, staff: Staff) -> list[payroll.PayProfile]:
    return [
        payroll.profile_for(
            worker=worker,
            compensation=compensation,
            employment_type=org.employment_types[p.employment_type],
            country=org.entities[p.entity].country,
            currency=org.entities[p.entity].currency,
            commission_eligible=p.department in org.commission_departments,
        )
        for p, worker, compensation in zip(
            staff.people, staff.workers, staff.compensations, strict=True
        )
    ]


def _payroll(
    org: Org, staff: Staff, ids: IdFactory, periods: list[tuple[dt.date, dt.date]], as_of: dt.date
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = ids.rng
    profiles = _profiles(org, staff)
    by_entity: list[list[tuple[Person, payroll.PayProfile]]] = [[] for _ in org.entities]
    for person, profile in zip(staff.people, profiles, strict=True):
        by_entity[person.entity].append((person, profile))
    all_runs: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    off_cycle_index = len(periods) // 2
    for n, period in enumerate(periods):
        for e, spec in enumerate(org.entities):
            state = "APPROVED" if (n == len(periods) - 1 and e == 0) else "PAID"
            run = runs.make_run(
                ids,
                company_entity_id=org.company_legal_entities[e]["id"],
                country_code=spec.country,
                payment_type=spec.payment_type,
                period=period,
                check_date=period[1] + dt.timedelta(days=6),
                run_state=state,
            )
            members = []
            for person, profile in by_entity[e]:
                fraction = runs.employed_fraction(person.spans, *period)
                if fraction > 0:
                    members.append((profile, fraction))
            all_runs.append(run)
            records.extend(runs.records_for_run(ids, run, members, rng))
        if n == off_cycle_index:
            spec = org.entities[0]
            check = min(period[1] + dt.timedelta(days=10), as_of)
            run = runs.make_run(
                ids,
                company_entity_id=org.company_legal_entities[0]["id"],
                country_code=spec.country,
                payment_type=spec.payment_type,
                period=period,
                check_date=check,
                run_type="OFF_CYCLE",
                title=f"Bonus payroll {check.isoformat()}",
            )
            eligible = [
                (person, profile)
                for person, profile in by_entity[0]
                if profile.pay_kind != "CONTRACTOR"
                and runs.employed_fraction(person.spans, check, check) > 0
            ]
            chosen = [
                (profile, Decimal(1))
                for person, profile in eligible
                if person.level >= 3 or rng.random() < 0.4
            ]
            if not chosen and eligible:
                chosen = [(eligible[0][1], Decimal(1))]
            all_runs.append(run)
            records.extend(runs.records_for_run(ids, run, chosen, rng))
    return all_runs, records
