"""What every Rippling admin endpoint shares: the error that becomes a ``{"detail"}`` answer,
reading dates and amounts from a request body, and looking up a record that must exist.

Kept apart so the worker and payroll endpoints (``admin_workers``, ``admin_payroll``) and the
route plumbing (``admin``) depend on it rather than on each other.
"""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal, InvalidOperation
from typing import Any

from ml_connector_sandbox.company import catalog, payroll
from ml_connector_sandbox.rippling.store import Store

# An endpoint's answer: status and JSON payload.
Answer = tuple[int, Any]


class AdminError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def new_id() -> str:
    return secrets.token_hex(12)


def body_date(body: dict[str, Any], key: str, default: dt.date) -> dt.date:
    value = body.get(key)
    if value is None:
        return default
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise AdminError(400, f"'{key}' must be a date YYYY-MM-DD") from exc


def body_amount(body: dict[str, Any], key: str) -> Decimal | None:
    value = body.get(key)
    if value is None:
        return None
    try:
        return payroll.cents(Decimal(str(value)))
    except InvalidOperation as exc:
        raise AdminError(400, f"'{key}' must be a decimal amount such as \"85000.00\"") from exc


def require(store: Store, kind: str, record_id: Any, what: str) -> dict[str, Any]:
    """The record or an ``AdminError``: 404 for a worker or payroll run, 400 for the rest."""
    record = store.get(kind, str(record_id)) if record_id else None
    if record is None:
        raise AdminError(
            404 if what == "worker" or what == "payroll run" else 400,
            f"Unknown {what} {record_id!r}",
        )
    return record


def currency_of(legal_entity: dict[str, Any]) -> tuple[str, str]:
    """(country code, pay currency) of a legal entity, after the dataset's catalog."""
    country = (legal_entity.get("country") or {}).get("code", "US")
    for spec in catalog.ENTITIES:
        if spec.country == country:
            return country, spec.currency
    return country, "USD"
