"""The firm's structure in Rippling: entities, departments, job codes, types, levels, teams.

Produced first because every worker points into it. Legal entities and company legal entities
get *different* ids on purpose: workers carry ``legal_entity_id``, payroll runs carry
``company_entity_id``, and a connector that confuses the two must fail in the sandbox as it
would against Rippling. The two are matched by ``legal_name`` and ``tax_identifier``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from ml_connector_sandbox.company import catalog
from ml_connector_sandbox.company.ids import IdFactory, timestamp


@dataclass
class Org:
    """Rippling org records plus the lookups the worker generator needs."""

    company_id: str
    entities: list[catalog.EntitySpec]
    legal_entities: list[dict[str, Any]] = field(default_factory=list)
    company_legal_entities: list[dict[str, Any]] = field(default_factory=list)
    work_location_ids: list[str] = field(default_factory=list)
    departments: list[dict[str, Any]] = field(default_factory=list)
    department_weights: list[int] = field(default_factory=list)
    commission_departments: set[int] = field(default_factory=set)
    employment_types: list[dict[str, Any]] = field(default_factory=list)
    job_dimensions: list[dict[str, Any]] = field(default_factory=list)
    job_codes: list[dict[str, Any]] = field(default_factory=list)
    job_codes_by_department: list[list[int]] = field(default_factory=list)
    levels: list[dict[str, Any]] = field(default_factory=list)
    teams: list[dict[str, Any]] = field(default_factory=list)


def _department_specs(count: int) -> list[tuple[str, str, str, int, bool]]:
    specs = list(catalog.DEPARTMENTS[:count])
    for i in range(len(specs), count):
        specs.append((f"Practice {i + 1}", f"D{100 + 10 * i}", f"P{i + 1:02d}", 5, False))
    return specs


def build_org(ids: IdFactory, *, legal_entities: int, departments: int, founded: dt.date) -> Org:
    specs = catalog.entity_specs(legal_entities)  # ValueError outside 1..MAX_LEGAL_ENTITIES
    if departments < 1:
        raise ValueError(f"departments must be at least 1, got {departments}")
    rng = ids.rng
    org = Org(company_id=ids.new(), entities=specs)

    def stamp(days: int = 0) -> str:
        return timestamp(founded + dt.timedelta(days=days), 9 * 3600 + rng.randint(0, 28000))

    parent_id: str | None = None
    for n, spec in enumerate(org.entities):
        created = stamp(n * 30)
        legal = {
            "id": ids.new(),
            "created_at": created,
            "updated_at": created,
            "tax_identifier": spec.tax_identifier,
            "country": {"code": spec.country},
            "legal_name": spec.legal_name,
            "entity_level": "PARENT" if n == 0 else "SUBSIDIARY",
            "registration_date": (founded + dt.timedelta(days=n * 30)).isoformat(),
            "parent_id": parent_id,
            "management_type": None,
            "company_id": org.company_id,
        }
        if n == 0:
            parent_id = legal["id"]
        org.legal_entities.append(legal)
        org.company_legal_entities.append(
            {
                "id": ids.new(),
                "created_at": created,
                "updated_at": created,
                "country_code": spec.country,
                "legal_name": spec.legal_name,
                "entity_level": legal["entity_level"],
                "registration_date": legal["registration_date"],
                "is_eor": False,
                "is_cor": False,
                "is_peo": False,
                "is_archived": False,
                "tax_identifier": spec.tax_identifier,
                "management_type": None,
                "company_id": org.company_id,
            }
        )
        org.work_location_ids.append(ids.new())

    dimension_created = stamp(5)
    dimension = {
        "id": ids.new(),
        "created_at": dimension_created,
        "updated_at": dimension_created,
        "name": "Cost Center",
        "external_id": "CC",
        "includes_custom_location": False,
        "roster_type": "PER_JOB_CODE",
        "group_id": ids.new(),
        "org_attribute_associations": ["DEPARTMENT"],
    }
    org.job_dimensions.append(dimension)

    for n, (name, ref, short, weight, commission) in enumerate(_department_specs(departments)):
        created = stamp(2 + n)
        org.departments.append(
            {
                "id": ids.new(),
                "created_at": created,
                "updated_at": created,
                "name": name,
                "parent_id": None,
                "reference_code": ref,
                "department_hierarchy_id": [],
            }
        )
        org.department_weights.append(weight)
        if commission:
            org.commission_departments.add(n)
        codes = [(f"CC-{short}", name)]
        if weight >= 10:
            codes.append((f"CC-{short}-DLV", f"{name} - Client delivery"))
        indexes = []
        for external_id, code_name in codes:
            indexes.append(len(org.job_codes))
            org.job_codes.append(
                {
                    "id": ids.new(),
                    "created_at": created,
                    "updated_at": created,
                    "name": code_name,
                    "job_dimension_id": dimension["id"],
                    "external_id": external_id,
                    "group_id": ids.new(),
                    "work_location_id": None,
                    "department_id": org.departments[-1]["id"],
                    "is_archived": False,
                }
            )
        org.job_codes_by_department.append(indexes)
    for dept in org.departments:
        dept["department_hierarchy_id"] = [dept["id"]]

    for label, name, kind, period, amount, _pay in catalog.EMPLOYMENT_TYPES:
        created = stamp(1)
        org.employment_types.append(
            {
                "id": ids.new(),
                "created_at": created,
                "updated_at": created,
                "label": label,
                "name": name,
                "type": kind,
                "compensation_time_period": period,
                "amount_worked": amount,
            }
        )
    for name, rank, code in catalog.LEVELS:
        created = stamp(1)
        org.levels.append(
            {
                "id": ids.new(),
                "created_at": created,
                "updated_at": created,
                "name": name,
                "parent_id": None,
                "global_level": code,
                "description": f"{name} ({code})",
                "rank": rank,
                "track_id": None,
            }
        )
    for name in catalog.TEAMS:
        created = stamp(3)
        org.teams.append(
            {
                "id": ids.new(),
                "created_at": created,
                "updated_at": created,
                "parent_id": None,
                "name": f"Team {name}",
            }
        )
    return org
