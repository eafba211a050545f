"""Saving, loading, validating and fingerprinting company files.

A company file is edited by hand to craft scenarios, so loading checks it and names the exact
record and field that is wrong, instead of letting a service fail later on a ``KeyError``.
The fingerprint (sha256 of canonical JSON) tells a stand-in whether its stored state was seeded
from this very company.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ml_connector_sandbox.company import catalog


class CompanyFormatError(ValueError):
    """A company file that does not follow the documented format; the message says where."""


def canonical_json(company: dict[str, Any]) -> bytes:
    return json.dumps(company, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def company_fingerprint(company: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(company)).hexdigest()


def write_private_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``, readable by its owner only from the first byte.

    A company file holds every worker's pay and the stand-ins' secrets (API tokens, client
    secrets): created 0600 (not chmod-ed after the fact), then renamed over the old file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.unlink(missing_ok=True)  # a leftover of a crash may have another mode
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    tmp.replace(path)
    if os.name == "posix":
        path.chmod(0o600)  # umask may have cleared bits, never added them; make it exact


def save_company(company: dict[str, Any], path: str | Path) -> None:
    """Write a company file owner-only (0600): it holds pay and secrets."""
    write_private_text(Path(path), json.dumps(company, ensure_ascii=False, separators=(",", ":")))


def load_company(path: str | Path) -> dict[str, Any]:
    try:
        company = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise CompanyFormatError(f"{path}: not valid JSON: {exc}") from exc
    validate_company(company)
    return company


# --- field checks ---------------------------------------------------------------------------
Check = Callable[[Any], str | None]


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) and value else "must be a non-empty string"


def _date(value: Any) -> str | None:
    try:
        dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        return "must be an ISO date (YYYY-MM-DD)"
    return None


def _optional_date(value: Any) -> str | None:
    return None if value is None else _date(value)


def _timestamp(value: Any) -> str | None:
    try:
        dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return "must be an ISO timestamp"
    return None


def _money(value: Any) -> str | None:
    if not isinstance(value, str):
        return 'must be a decimal string such as "4200.00"'
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return 'must be a decimal string such as "4200.00"'
    return None if amount.as_tuple().exponent == -2 else "must have exactly two decimal places"


def _one_of(*allowed: str) -> Check:
    def check(value: Any) -> str | None:
        return None if value in allowed else f"must be one of {list(allowed)}"

    return check


def _list(value: Any) -> str | None:
    return None if isinstance(value, list) else "must be a list"


def _dict(value: Any) -> str | None:
    return None if isinstance(value, dict) else "must be an object"


def _int(value: Any) -> str | None:
    return None if isinstance(value, int) and not isinstance(value, bool) else "must be an integer"


BASE = {"id": _string, "created_at": _timestamp, "updated_at": _timestamp}
RIPPLING_RULES: dict[str, dict[str, Check]] = {
    "legal_entities": {**BASE, "legal_name": _string, "country": _dict},
    "company_legal_entities": {**BASE, "legal_name": _string, "country_code": _string},
    "departments": {**BASE, "name": _string, "reference_code": _string},
    "employment_types": {
        **BASE,
        "label": _string,
        "type": _one_of("CONTRACTOR", "EMPLOYEE"),
        "compensation_time_period": _one_of("HOURLY", "SALARIED"),
    },
    "job_dimensions": {**BASE, "name": _string},
    "job_codes": {**BASE, "name": _string, "job_dimension_id": _string, "external_id": _string},
    "job_assignments": {**BASE, "worker_id": _string, "job_code_id": _string},
    "levels": {**BASE, "name": _string},
    "teams": {**BASE, "name": _string},
    "users": {**BASE, "name": _dict, "emails": _list},
    "workers": {
        **BASE,
        "user_id": _string,
        "legal_entity_id": _string,
        "status": _one_of("INIT", "HIRED", "ACCEPTED", "ACTIVE", "TERMINATED"),
        "start_date": _date,
        "end_date": _optional_date,
        "number": _int,
        "employment_type_id": _string,
        "department_id": _string,
    },
    "compensations": {**BASE, "worker_id": _string},
    "entitlements": {"id": _string, "display_name": _string},
    "payroll_runs": {
        "id": _string,
        "run_state": _string,
        "run_type": _string,
        "check_date": _date,
        "pay_period": _dict,
        "company_entity_id": _string,
        "country_code": _string,
    },
    "worker_payroll_records": {
        "id": _string,
        "run_id": _string,
        "worker_id": _string,
        "currency": _string,
        "gross_pay": _money,
        "net_pay": _money,
        "summary": _dict,
        "earnings": _list,
        "taxes": _list,
        "deductions": _list,
        "garnishments": _list,
    },
    "company_activity": {
        "id": _string,
        "event_type": _string,
        "timestamp": _timestamp,
        "subjects": _list,
    },
}
SUMMARY_FIELDS = (
    "employer_taxes",
    "employee_taxes",
    "employee_deductions",
    "employer_contributions",
    "total_garnishments",
)
DYNAMICS_KEYS: dict[str, tuple[str, ...]] = {
    "LegalEntities": ("LegalEntityId",),
    "Ledgers": ("LegalEntityId", "ChartOfAccounts", "AccountingCurrency"),
    "MainAccounts": ("ChartOfAccounts", "MainAccountId"),
    "FinancialDimensionValues": ("FinancialDimension", "LegalEntityId", "DimensionValue"),
    "DimensionIntegrationFormats": (
        "DimensionFormatName",
        "DimensionFormatType",
        "FinancialDimensionFormat",
        "IsActive",
    ),
    "DimensionParameters": ("Key", "DimensionSegmentDelimiter"),
    "JournalNames": ("dataAreaId", "Name"),
    "Workers": ("PersonnelNumber",),
    "EmploymentsV2": ("PersonnelNumber", "LegalEntityId", "EmploymentStartDate"),
    "VendorsV2": ("dataAreaId", "VendorAccountNumber", "VendorGroupId"),
}


def _fail(where: str, record: Any, field: str, problem: str) -> CompanyFormatError:
    rid = record.get("id") if isinstance(record, dict) else None
    label = f"{where} (id={rid})" if rid else where
    return CompanyFormatError(f"{label}: field '{field}' {problem}")


def _section(company: dict[str, Any], name: str) -> dict[str, Any]:
    value = company.get(name)
    if not isinstance(value, dict):
        raise CompanyFormatError(f"company: field '{name}' must be an object")
    return value


def validate_company(company: Any) -> None:
    """Raise :class:`CompanyFormatError` naming the record and field at the first problem."""
    if not isinstance(company, dict):
        raise CompanyFormatError("company: the file must hold a JSON object")
    if company.get("format") != catalog.FORMAT:
        raise CompanyFormatError(
            f"company: field 'format' must be {catalog.FORMAT!r}, got {company.get('format')!r}"
        )
    meta = _section(company, "meta")
    for key, check in (("as_of", _date), ("connector_start_date", _date), ("name", _string)):
        if problem := check(meta.get(key)):
            raise CompanyFormatError(f"meta: field '{key}' {problem}")
    entra = _section(company, "entra")
    if problem := _string(entra.get("tenant_id")):
        raise CompanyFormatError(f"entra: field 'tenant_id' {problem}")
    for i, client in enumerate(entra.get("clients") or []):
        for key in ("client_id", "client_secret"):
            if problem := _string(client.get(key)):
                raise _fail(f"entra.clients[{i}]", client, key, problem)
    rippling = _section(company, "rippling")
    if problem := _dict(rippling.get("credentials")):
        raise CompanyFormatError(f"rippling: field 'credentials' {problem}")
    for name, rules in RIPPLING_RULES.items():
        # Optional lists: levels and teams, and entitlements (absent: every entitlement).
        records = rippling.get(name, [] if name in ("levels", "teams", "entitlements") else None)
        if not isinstance(records, list):
            raise CompanyFormatError(f"rippling: field '{name}' must be a list")
        for i, record in enumerate(records):
            where = f"rippling.{name}[{i}]"
            if not isinstance(record, dict):
                raise CompanyFormatError(f"{where}: must be an object")
            for field, check in rules.items():
                if problem := check(record.get(field)):
                    raise _fail(where, record, field, problem)
            if name == "worker_payroll_records":
                _check_record_money(where, record)
    dynamics = _section(company, "dynamics")
    for name, keys in DYNAMICS_KEYS.items():
        rows = dynamics.get(name)
        if not isinstance(rows, list):
            raise CompanyFormatError(f"dynamics: field '{name}' must be a list")
        for i, row in enumerate(rows):
            for key in keys:
                if not isinstance(row, dict) or row.get(key) is None:
                    raise CompanyFormatError(f"dynamics.{name}[{i}]: field '{key}' is required")


def _check_record_money(where: str, record: dict[str, Any]) -> None:
    for key in SUMMARY_FIELDS:
        if problem := _money(record["summary"].get(key)):
            raise _fail(where, record, f"summary.{key}", problem)
    for kind, fields in (
        ("earnings", ("amount",)),
        ("taxes", ("amount",)),
        ("deductions", ("employee_amount", "employer_amount")),
        ("garnishments", ("amount",)),
    ):
        for j, item in enumerate(record[kind]):
            for key in fields:
                if problem := _money(item.get(key) if isinstance(item, dict) else None):
                    raise _fail(where, record, f"{kind}[{j}].{key}", problem)
