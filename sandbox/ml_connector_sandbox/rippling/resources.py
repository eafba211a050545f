"""What each v2 endpoint offers, taken from the spec: scope, entitlement, filters, sort fields,
relations.

A table rather than code per endpoint, so "what does /job-codes/ accept" is answered in one
place and the handlers stay generic. Where the spec declares no ``filter`` or ``order_by``
parameter for a path, the stand-in refuses them (400), as a strict server would.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Indexed columns of the records table; anything else is read with json_extract.
TS = "datetime"
STR = "string"
DATE = "date"  # a ``YYYY-MM-DD`` value, unquoted like a datetime (the spec shows no example)
BOOL = "boolean"  # ``true`` / ``false``, unquoted (the spec shows no example)


@dataclass(frozen=True)
class Relation:
    """An expandable relation: the id field on the record and the kind it points to."""

    id_field: str
    target: str
    many: bool = False


@dataclass(frozen=True)
class Resource:
    kind: str  # key in the company file's ``rippling`` section and in the store
    path: str  # e.g. "/workers/"
    scope: str
    filters: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (sql, type)
    order_fields: frozenset[str] = frozenset()
    relations: dict[str, Relation] = field(default_factory=dict)
    has_meta: bool = True
    # ``x-rippling-entitlements``: the company must hold it, whatever the token's scopes.
    entitlement: str = "API_Tier_1"
    by_id: bool = True  # the spec has a ``{id}/`` retrieve endpoint


_TIMES = {"created_at": ("created_at", TS), "updated_at": ("updated_at", TS)}
_ORDER = frozenset({"created_at", "updated_at"})
_ORDER_ID = frozenset({"id", "created_at", "updated_at"})  # the time and split endpoints
TIER_2 = "API_Tier_2"
PAYROLL = "Global_Payroll"


def _json(name: str) -> tuple[str, str]:
    return (f"json_extract(body, '$.{name}')", STR)


RESOURCES: dict[str, Resource] = {
    r.kind: r
    for r in (
        Resource(
            "workers",
            "/workers/",
            "workers.read",
            filters={
                **_TIMES,
                "id": ("id", STR),
                "status": ("status", STR),
                "work_email": ("email", STR),
                "user_id": ("user_id", STR),
            },
            order_fields=_ORDER,
            relations={
                "user": Relation("user_id", "users"),
                "manager": Relation("manager_id", "workers"),
                "legal_entity": Relation("legal_entity_id", "legal_entities"),
                "employment_type": Relation("employment_type_id", "employment_types"),
                "compensation": Relation("compensation_id", "compensations"),
                "department": Relation("department_id", "departments"),
                "level": Relation("level_id", "levels"),
                "teams": Relation("teams_id", "teams", many=True),
            },
        ),
        Resource(
            "users",
            "/users/",
            "users.read",
            filters={**_TIMES, "id": ("id", STR)},
            order_fields=_ORDER,
        ),
        Resource(
            "departments",
            "/departments/",
            "departments.read",
            order_fields=_ORDER,
            relations={
                "parent": Relation("parent_id", "departments"),
                "department_hierarchy": Relation(
                    "department_hierarchy_id", "departments", many=True
                ),
            },
        ),
        Resource(
            "legal_entities",
            "/legal-entities/",
            "legal-entities.read",
            order_fields=_ORDER,
            relations={"parent": Relation("parent_id", "legal_entities")},
            entitlement=TIER_2,
        ),
        Resource(
            "company_legal_entities",
            "/company-legal-entities/",
            "company-legal-entities.read",
            filters={**_TIMES, "country_code": _json("country_code")},
            order_fields=_ORDER,
            entitlement=TIER_2,
        ),
        Resource(
            "employment_types", "/employment-types/", "employment-types.read", order_fields=_ORDER
        ),
        Resource(
            "job_dimensions",
            "/job-dimensions/",
            "job-dimensions.read",
            filters={**_TIMES, "name": _json("name"), "external_id": _json("external_id")},
            order_fields=_ORDER,
            entitlement=TIER_2,
        ),
        Resource(
            "job_codes",
            "/job-codes/",
            "job-codes.read",
            filters={
                **_TIMES,
                "job_dimension_id": _json("job_dimension_id"),
                "external_id": _json("external_id"),
            },
            order_fields=_ORDER,
            relations={
                "job_dimension": Relation("job_dimension_id", "job_dimensions"),
                "department": Relation("department_id", "departments"),
            },
            entitlement=TIER_2,
        ),
        Resource(
            "job_assignments",
            "/job-assignments/",
            "job-assignments.read",
            filters={
                **_TIMES,
                "worker_id": ("worker_id", STR),
                "job_code_id": _json("job_code_id"),
            },
            order_fields=_ORDER,
            relations={
                "worker": Relation("worker_id", "workers"),
                "job_code": Relation("job_code_id", "job_codes"),
            },
            entitlement=TIER_2,
        ),
        Resource(
            "compensations",
            "/compensations/",
            "compensations.read",
            order_fields=_ORDER,
            relations={"worker": Relation("worker_id", "workers")},
            entitlement=TIER_2,
        ),
        Resource(
            "levels",
            "/levels/",
            "levels.read",
            order_fields=_ORDER,
            relations={"parent": Relation("parent_id", "levels")},
            entitlement=TIER_2,
        ),
        Resource(
            "teams",
            "/teams/",
            "teams.read",
            order_fields=_ORDER,
            relations={"parent": Relation("parent_id", "teams")},
        ),
        Resource(
            "entitlements",
            "/entitlements/",
            "entitlements.read",
            by_id=False,  # the spec has a list endpoint only
        ),
        # Time allocation sources (issue 15). Filters, sort fields and relations are the spec's
        # ``x-rippling-filterable-fields`` / ``-sortable-fields`` / ``-expandable-fields``
        # exactly: ``/worker-time-splits/`` filters on ``updated_at`` but not ``created_at``.
        Resource(
            "worker_time_splits",
            "/worker-time-splits/",
            "worker-time-splits.read",
            filters={
                "worker_id": ("worker_id", STR),
                "is_enabled": ("json_extract(body, '$.is_enabled')", BOOL),
                "updated_at": ("updated_at", TS),
            },
            order_fields=_ORDER_ID,
            relations={
                "worker": Relation("worker_id", "workers"),
                "job_codes": Relation("job_codes_id", "job_codes", many=True),
            },
            entitlement=TIER_2,
        ),
        Resource(
            "time_entries",
            "/time-entries/",
            "time-entries.read",
            filters={
                "worker_id": ("worker_id", STR),
                "start_time": ("json_extract(body, '$.start_time')", TS),
                "pay_period.start_date": ("json_extract(body, '$.pay_period.start_date')", DATE),
                "updated_at": ("updated_at", TS),
            },
            order_fields=_ORDER_ID,
            relations={
                "worker": Relation("worker_id", "workers"),
                "time_card": Relation("time_card_id", "time_cards"),
            },
            entitlement=TIER_2,
        ),
        Resource(
            "time_cards",
            "/time-cards/",
            "time-cards.read",
            filters={
                "pay_period.start_date": ("json_extract(body, '$.pay_period.start_date')", DATE),
                "worker_id": ("worker_id", STR),
            },
            order_fields=_ORDER_ID,
            relations={"worker": Relation("worker_id", "workers")},
            entitlement=TIER_2,
        ),
        Resource(
            "payroll_runs",
            "/payroll-runs/",
            "payroll-runs.read",
            order_fields=frozenset({"check_date"}),
            entitlement=PAYROLL,
        ),
        Resource(
            "worker_payroll_records",
            "/payroll-runs/{run_id}/worker-payroll-records/",
            "worker-payroll-records.read",
            filters={"worker_id": ("worker_id", STR)},
            has_meta=False,
            entitlement=PAYROLL,
        ),
    )
}

# Money objects ({currency_type, value}) of a Compensation: redacted together.
COMPENSATION_MONEY_FIELDS: tuple[str, ...] = (
    "annual_compensation",
    "annual_salary_equivalent",
    "hourly_wage",
    "monthly_compensation",
    "on_target_commission",
    "relocation_reimbursement",
    "signing_bonus",
    "target_annual_bonus",
    "weekly_compensation",
    "target_annual_bonus_percent",
)
REDACTION_REASON = "Insufficient entitlements"
