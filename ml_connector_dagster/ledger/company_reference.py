"""What F&O's reference rows mean for one legal entity on one date.

F&O keeps a financial dimension value once for all companies (``LegalEntityId`` blank) or per
company, and a shared value can still be suspended or limited in time for one company through
``FinancialDimensionValueLegalEntityOverrides``. Main accounts are shared by a chart of accounts
and overridden per company in ``MainAccountLegalEntities``. A pre-check keyed by dimension and
value alone misses a company-specific suspension and posts into an error F&O only finds at
write time (or, for a value inactive on the journal date, a rejected changeset). So the rows
are resolved here per company, and ``state_on`` says whether a resolved row may be used on a
date. Pure: the rows come from ``posting.reference``.

Dates: ``ActiveFrom``/``ActiveTo`` are ``Edm.DateTimeOffset``; F&O stores "no date" as
1900-01-01 (the sandbox and the published entity defaults agree). ``ActiveTo`` is inclusive of
its day, as F&O's own forms show it.
"""

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

NO_DATE = dt.date(1900, 1, 1)
Row = Mapping[str, Any]


def _date(value: Any) -> dt.date | None:
    """The calendar day of an F&O date-time, or None for F&O's "no date" (1900-01-01)."""
    if value in (None, ""):
        return None
    day = dt.date.fromisoformat(str(value)[:10])
    return None if day <= NO_DATE else day


def _company(row: Row, field: str = "LegalEntityId") -> str:
    return str(row.get(field) or "").upper()


def _narrowed(base: Row, overrides: Iterable[Row]) -> dict[str, Any]:
    """``base`` with every override applied: suspended if any says so, manual entry refused if
    any refuses it, and the active window the intersection of all windows."""
    merged = dict(base)
    start, end = _date(base.get("ActiveFrom")), _date(base.get("ActiveTo"))
    for override in overrides:
        if override.get("IsSuspended") == "Yes":
            merged["IsSuspended"] = "Yes"
        if override.get("DoNotAllowManualEntry") == "Yes":
            merged["DoNotAllowManualEntry"] = "Yes"
        o_start, o_end = _date(override.get("ActiveFrom")), _date(override.get("ActiveTo"))
        if o_start and (start is None or o_start > start):
            start = o_start
        if o_end and (end is None or o_end < end):
            end = o_end
        merged["overridden_for"] = _company(override)
    merged["ActiveFrom"] = start.isoformat() if start else ""
    merged["ActiveTo"] = end.isoformat() if end else ""
    return merged


def dimension_values_for(
    values: Iterable[Row], overrides: Iterable[Row], company: str
) -> dict[tuple[str, str], dict[str, Any]]:
    """(dimension, value) -> the row that governs ``company``: its own row over the shared one,
    narrowed by the company's overrides. Rows of other companies are left out."""
    company = company.upper()
    chosen: dict[tuple[str, str], Row] = {}
    for row in values:
        owner = _company(row)
        if owner not in ("", company):
            continue
        key = (str(row["FinancialDimension"]), str(row["DimensionValue"]))
        if key not in chosen or owner == company:  # the company's own row wins
            chosen[key] = row
    by_key: dict[tuple[str, str], list[Row]] = {}
    for override in overrides:
        if _company(override) == company:
            key = (str(override["FinancialDimension"]), str(override["DimensionValue"]))
            by_key.setdefault(key, []).append(override)
    return {key: _narrowed(row, by_key.get(key, ())) for key, row in chosen.items()}


def main_accounts_for(
    accounts: Iterable[Row], overrides: Iterable[Row], company: str
) -> dict[str, dict[str, Any]]:
    """MainAccountId -> the chart's account row narrowed by the company's
    ``MainAccountLegalEntities`` row (suspension, manual entry, active dates)."""
    company = company.upper()
    by_account: dict[str, list[Row]] = {}
    for override in overrides:
        if _company(override) == company:
            by_account.setdefault(str(override["MainAccountId"]), []).append(override)
    return {
        str(row["MainAccountId"]): _narrowed(row, by_account.get(str(row["MainAccountId"]), ()))
        for row in accounts
    }


def state_on(row: Row, day: dt.date) -> str | None:
    """Why a resolved row may not be used on ``day`` (None: usable)."""
    if row.get("IsSuspended") == "Yes":
        return "suspended"
    start, end = _date(row.get("ActiveFrom")), _date(row.get("ActiveTo"))
    if start and day < start:
        return f"not active before {start.isoformat()}"
    if end and day > end:
        return f"not active after {end.isoformat()}"
    return None
