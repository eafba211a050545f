"""Fixed reference tables the generator draws from: entities, departments, names, tax rules.

Kept apart from the generator so a reader can see at a glance what the fictional firm looks
like, and so the payroll rules (rates per country) are data rather than code paths.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

COMPANY_NAME = "Northwind Advisory"
EMAIL_DOMAIN = "northwind-advisory.com"
FORMAT = "ml-connector-sandbox-company/1"
CHART_OF_ACCOUNTS = "Shared"
OPEN_END = "2154-12-31T23:59:59Z"
DIMENSION_ACTIVE_FROM = "2026-01-01T00:00:00Z"


@dataclass(frozen=True)
class EntitySpec:
    """One legal entity as both systems know it."""

    country: str  # ISO-3166 alpha-2, as Rippling spells it
    country_iso3: str  # as F&O spells AddressCountryRegionId
    legal_name: str
    data_area_id: str  # F&O company, lowercase on the wire
    currency: str
    business_unit: str  # BusinessUnit dimension value
    payment_type: str
    tax_identifier: str
    weight: int  # share of headcount
    salary_range: tuple[int, int]  # annual, whole currency units
    hourly_range: tuple[int, int]
    contractor_range: tuple[int, int]


ENTITIES: tuple[EntitySpec, ...] = (
    EntitySpec(
        "US",
        "USA",
        "Northwind Advisory Inc.",
        "usmf",
        "USD",
        "001",
        "ACH",
        "84-2917365",
        55,
        (62000, 240000),
        (24, 58),
        (70, 180),
    ),
    EntitySpec(
        "GB",
        "GBR",
        "Northwind Advisory Ltd",
        "gbsi",
        "GBP",
        "002",
        "BACS",
        "GB 318 4471 26",
        25,
        (38000, 150000),
        (14, 34),
        (45, 120),
    ),
    EntitySpec(
        "DE",
        "DEU",
        "Northwind Advisory GmbH",
        "demf",
        "EUR",
        "003",
        "SEPA",
        "DE 281 447 913",
        20,
        (46000, 170000),
        (18, 40),
        (55, 140),
    ),
)

# More legal entities than ENTITIES cycle over its countries and currencies. Each added one is
# a company of its own: ``us02``, ``gb02``, ``de02``, ``us03``... (F&O company ids have at most
# four characters, so two digits), business unit ``004``, ``005``..., a numbered legal name
# ("Northwind Advisory 2 Inc.") and its own tax identifier. 99 keeps the entities' registration
# dates (30 days apart from the founding) years before the payroll window.
MAX_LEGAL_ENTITIES = 99
_TAX_ID_STEP = 7919  # prime, coprime to 10: cycles 1..10**9 - 1 give distinct identifiers


def entity_specs(count: int) -> list[EntitySpec]:
    """The first ``count`` legal entities: ENTITIES, then copies cycling over it."""
    if not 1 <= count <= MAX_LEGAL_ENTITIES:
        raise ValueError(f"legal_entities must be 1..{MAX_LEGAL_ENTITIES}, got {count}")
    return [entity_spec(n) for n in range(count)]


def entity_spec(n: int) -> EntitySpec:
    """Legal entity number ``n`` (0-based); the first len(ENTITIES) are ENTITIES themselves."""
    base = ENTITIES[n % len(ENTITIES)]
    cycle = n // len(ENTITIES)
    if cycle == 0:
        return base
    number = cycle + 1
    suffix = base.legal_name.removeprefix(COMPANY_NAME)
    return replace(
        base,
        legal_name=f"{COMPANY_NAME} {number}{suffix}",
        data_area_id=f"{base.data_area_id[:2]}{number:02d}",
        business_unit=f"{n + 1:03d}",
        tax_identifier=_numbered_tax_identifier(base.tax_identifier, cycle),
    )


def _numbered_tax_identifier(template: str, cycle: int) -> str:
    """``template`` with its digits replaced by another number of as many digits."""
    digits = [c for c in template if c.isdigit()]
    width = len(digits)
    value = f"{(int(''.join(digits)) + _TAX_ID_STEP * cycle) % 10**width:0{width}d}"
    out, k = [], 0
    for c in template:
        if c.isdigit():
            out.append(value[k])
            k += 1
        else:
            out.append(c)
    return "".join(out)


# (name, reference code, short code for job codes, headcount weight, commission eligible)
DEPARTMENTS: tuple[tuple[str, str, str, int, bool], ...] = (
    ("Executive Office", "D100", "EXE", 2, False),
    ("Strategy Consulting", "D110", "STR", 14, False),
    ("Technology Consulting", "D120", "TEC", 16, False),
    ("Engineering", "D130", "ENG", 14, False),
    ("Data & Analytics", "D140", "DAT", 10, False),
    ("Risk & Compliance", "D150", "RSK", 8, False),
    ("Business Development", "D160", "BDV", 7, True),
    ("Marketing", "D170", "MKT", 5, False),
    ("Finance", "D180", "FIN", 5, False),
    ("People Operations", "D190", "PPL", 4, False),
    ("IT Services", "D200", "ITS", 6, False),
    ("Facilities", "D210", "FAC", 3, False),
    ("Legal", "D220", "LEG", 2, False),
    ("Procurement", "D230", "PRC", 2, False),
)

# Department whose staff the "limited" API token may not see compensation for.
REDACTED_DEPARTMENT_CODES: tuple[str, ...] = ("D100",)
SUSPENDED_DEPARTMENT = ("D999", "Discontinued practice (suspended)")
EXPIRED_COST_CENTER = ("CCLEGACY", "Legacy cost center (expired)")


def cost_center_value(job_code_external_id: str) -> str:
    """The F&O CostCenter value of a job code: its external id without hyphens.

    A dimension value may not contain the segment delimiter (Hyphen here), or F&O would split
    it into two segments; the mapping ties the Rippling external id to this value.
    """
    return job_code_external_id.replace("-", "")


LEVELS: tuple[tuple[str, int, str], ...] = (
    ("Associate", 1, "L1"),
    ("Consultant", 2, "L2"),
    ("Senior Consultant", 3, "L3"),
    ("Manager", 4, "L4"),
    ("Director", 5, "L5"),
    ("Partner", 6, "L6"),
)
LEVEL_SALARY_FACTOR = (
    Decimal("0.00"),
    Decimal("0.15"),
    Decimal("0.35"),
    Decimal("0.55"),
    Decimal("0.75"),
    Decimal("0.95"),
)

TEAMS: tuple[str, ...] = ("Atlas", "Beacon", "Compass", "Delta", "Ember", "Summit")

TITLES: dict[int, str] = {
    1: "Associate",
    2: "Consultant",
    3: "Senior Consultant",
    4: "Manager",
    5: "Director",
    6: "Partner",
}

GIVEN_NAMES: tuple[str, ...] = (
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Amelia",
    "Oliver",
    "Sophia",
    "Elijah",
    "Mia",
    "James",
    "Charlotte",
    "William",
    "Ava",
    "Lucas",
    "Isla",
    "Henry",
    "Leonie",
    "Jonas",
    "Hannah",
    "Felix",
    "Grace",
    "Arjun",
    "Priya",
    "Mateo",
    "Lucia",
    "Yusuf",
    "Aisha",
    "Kenji",
    "Mei",
    "Tomasz",
    "Zofia",
    "Erik",
    "Ingrid",
    "Samuel",
    "Chloe",
    "Daniel",
    "Freya",
    "Omar",
    "Layla",
    "Finn",
    "Clara",
    "Ravi",
    "Nina",
    "Marco",
    "Elena",
    "Theo",
    "Ruby",
    "Ahmed",
    "Sara",
    "Jakob",
)
FAMILY_NAMES: tuple[str, ...] = (
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Wilson",
    "Taylor",
    "Anderson",
    "Thomas",
    "Moore",
    "Martin",
    "Clarke",
    "Wright",
    "Walker",
    "Hughes",
    "Edwards",
    "Khan",
    "Patel",
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Wagner",
    "Becker",
    "Hoffmann",
    "Schulz",
    "Nguyen",
    "Kim",
    "Chen",
    "Singh",
    "Kowalski",
    "Novak",
    "Rossi",
    "Costa",
    "Silva",
    "Okafor",
    "Mensah",
    "Larsen",
    "Berg",
    "Dubois",
    "Moreau",
    "O'Brien",
    "Murphy",
    "Byrne",
    "Sato",
    "Tanaka",
)

# Employment types: (label, name, type, compensation_time_period, amount_worked, pay kind)
EMPLOYMENT_TYPES: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("Salaried, full-time", "SALARIED_FT", "EMPLOYEE", "SALARIED", "FULL-TIME", "SALARIED"),
    ("Hourly, full-time", "HOURLY_FT", "EMPLOYEE", "HOURLY", "FULL-TIME", "HOURLY"),
    ("Hourly, part-time", "HOURLY_PT", "EMPLOYEE", "HOURLY", "PART-TIME", "HOURLY"),
    ("Contractor", "CONTRACTOR", "CONTRACTOR", "HOURLY", "TEMPORARY", "CONTRACTOR"),
)


@dataclass(frozen=True)
class TaxRule:
    """A percentage tax on gross pay; ``rate`` None means the worker's income-tax rate."""

    code: str
    display_name: str
    paid_by: str  # EMPLOYEE | EMPLOYER
    rate: Decimal | None


TAX_RULES: dict[str, tuple[TaxRule, ...]] = {
    "US": (
        TaxRule("FED_WH", "Federal Income Tax", "EMPLOYEE", None),
        TaxRule("STATE_WH", "State Income Tax", "EMPLOYEE", Decimal("0.0485")),
        TaxRule("SS_EE", "Social Security", "EMPLOYEE", Decimal("0.062")),
        TaxRule("MED_EE", "Medicare", "EMPLOYEE", Decimal("0.0145")),
        TaxRule("SS_ER", "Social Security - Employer", "EMPLOYER", Decimal("0.062")),
        TaxRule("MED_ER", "Medicare - Employer", "EMPLOYER", Decimal("0.0145")),
        TaxRule("FUTA", "Federal Unemployment Tax", "EMPLOYER", Decimal("0.006")),
        TaxRule("SUTA", "State Unemployment Tax", "EMPLOYER", Decimal("0.027")),
    ),
    "GB": (
        TaxRule("PAYE", "PAYE Income Tax", "EMPLOYEE", None),
        TaxRule("NI_EE", "National Insurance - Employee", "EMPLOYEE", Decimal("0.08")),
        TaxRule("NI_ER", "National Insurance - Employer", "EMPLOYER", Decimal("0.138")),
        TaxRule("APP_LEVY", "Apprenticeship Levy", "EMPLOYER", Decimal("0.005")),
    ),
    "DE": (
        TaxRule("LOHNSTEUER", "Lohnsteuer", "EMPLOYEE", None),
        TaxRule("KV_AN", "Krankenversicherung AN", "EMPLOYEE", Decimal("0.0815")),
        TaxRule("RV_AN", "Rentenversicherung AN", "EMPLOYEE", Decimal("0.093")),
        TaxRule("AV_AN", "Arbeitslosenversicherung AN", "EMPLOYEE", Decimal("0.013")),
        TaxRule("PV_AN", "Pflegeversicherung AN", "EMPLOYEE", Decimal("0.018")),
        TaxRule("KV_AG", "Krankenversicherung AG", "EMPLOYER", Decimal("0.0815")),
        TaxRule("RV_AG", "Rentenversicherung AG", "EMPLOYER", Decimal("0.093")),
        TaxRule("AV_AG", "Arbeitslosenversicherung AG", "EMPLOYER", Decimal("0.013")),
        TaxRule("PV_AG", "Pflegeversicherung AG", "EMPLOYER", Decimal("0.018")),
    ),
}

# Income tax rate bands by annual pay: (upper bound exclusive or None, rate)
INCOME_TAX_BANDS: dict[str, tuple[tuple[int | None, Decimal], ...]] = {
    "US": ((50000, Decimal("0.12")), (110000, Decimal("0.22")), (None, Decimal("0.24"))),
    "GB": ((50000, Decimal("0.20")), (None, Decimal("0.40"))),
    "DE": ((60000, Decimal("0.18")), (None, Decimal("0.26"))),
}
SUPPLEMENTAL_TAX_RATE: dict[str, Decimal] = {
    "US": Decimal("0.22"),
    "GB": Decimal("0.40"),
    "DE": Decimal("0.26"),
}

# Retirement deduction per country: (code, display name, employer match as share of gross cap)
RETIREMENT: dict[str, tuple[str, str]] = {
    "US": ("401K", "401(k)"),
    "GB": ("PENSION", "Workplace Pension"),
    "DE": ("BAV", "Betriebliche Altersvorsorge"),
}
GARNISHMENT_CODE: dict[str, str] = {
    "US": "CHILD_SUPPORT",
    "GB": "ATTACHMENT_OF_EARNINGS",
    "DE": "LOHNPFAENDUNG",
}

# Main accounts: (id, name, type, suspended, no manual entry)
MAIN_ACCOUNTS: tuple[tuple[str, str, str, str, str], ...] = (
    ("600100", "Salaries", "Expense", "No", "No"),
    ("600110", "Hourly wages", "Expense", "No", "No"),
    ("600120", "Overtime", "Expense", "No", "No"),
    ("600130", "Bonus", "Expense", "No", "No"),
    ("600140", "Commission", "Expense", "No", "No"),
    ("600150", "Paid time off", "Expense", "No", "No"),
    ("600160", "Contractor fees", "Expense", "No", "No"),
    ("600190", "Other earnings", "Expense", "No", "No"),
    ("600200", "Employer payroll taxes", "Expense", "No", "No"),
    ("600300", "Employer benefits", "Expense", "No", "No"),
    ("600900", "Payroll expense (retired)", "Expense", "Yes", "No"),
    ("220100", "Payroll tax payable", "Liability", "No", "No"),
    ("220200", "Benefits and deductions payable", "Liability", "No", "No"),
    ("220300", "Garnishments payable", "Liability", "No", "No"),
    ("220400", "Net pay clearing", "Liability", "No", "No"),
    ("220500", "Accrued payroll", "Liability", "No", "No"),
    ("220900", "Payroll control (system only)", "Liability", "No", "Yes"),
    ("110100", "Operating bank account", "BalanceSheet", "No", "No"),
)

# OAuth/API scopes of the v2 endpoints the stand-in serves, plus v1 company activity.
READ_SCOPES: tuple[str, ...] = (
    "workers.read",
    "users.read",
    "departments.read",
    "legal-entities.read",
    "company-legal-entities.read",
    "employment-types.read",
    "job-dimensions.read",
    "job-codes.read",
    "job-assignments.read",
    "compensations.read",
    "levels.read",
    "teams.read",
    "payroll-runs.read",
    "worker-payroll-records.read",
    "entitlements.read",
    "worker-time-splits.read",
    "time-entries.read",
    "time-cards.read",
    "company:activity",
)
# The company's entitlements (products enabled for it; ``x-rippling-entitlements`` in the v2
# spec): (id, display name, description). The generated company holds all three, which is
# everything the connector needs; a test takes one away through ``/_sandbox/entitlements``.
ENTITLEMENTS: tuple[tuple[str, str, str], ...] = (
    ("API_Tier_1", "API Tier 1", "Core HR objects: workers, users, departments, teams."),
    (
        "API_Tier_2",
        "API Tier 2",
        "Advanced HR objects: legal entities, job codes and assignments, compensations, levels.",
    ),
    ("Global_Payroll", "Global Payroll", "Payroll runs and worker payroll records."),
)


def entitlement_records(ids: tuple[str, ...] | list[str] | None = None) -> list[dict[str, str]]:
    """``EntitlementModel`` records for ``ids`` (default: every entitlement above)."""
    known = {e[0]: e for e in ENTITLEMENTS}
    wanted = [e[0] for e in ENTITLEMENTS] if ids is None else list(dict.fromkeys(ids))
    return [
        {
            "id": i,
            "display_name": known[i][1] if i in known else i.replace("_", " "),
            "description": known[i][2] if i in known else "",
        }
        for i in wanted
    ]


# The "limited" token is an HR-only token: no payroll scopes, and compensation redacted for the
# departments in REDACTED_DEPARTMENT_CODES.
LIMITED_SCOPES: tuple[str, ...] = tuple(
    s for s in READ_SCOPES if s not in ("payroll-runs.read", "worker-payroll-records.read")
)
