"""A voucher finance posts by hand in F&O, outside any journal the connector knows:
``POST /_sandbox/ledger/{dataAreaId}/vouchers`` (documented in ``app.py``).

The body is checked whole before anything is written: amounts are decimal strings (a JSON
number is refused, money never passes through float), the voucher balances, and every account
reads right in the active ledger dimension format, exactly as a journal line's account does.
"""

from __future__ import annotations

import re
from datetime import date as calendar_date
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ml_connector_sandbox.dynamics.edm import canonical_decimal
from ml_connector_sandbox.dynamics.errors import ODataError, bad_query
from ml_connector_sandbox.dynamics.ledger_dimensions import resolve_ledger_account
from ml_connector_sandbox.dynamics.ledger_posting import LedgerPosting, Voucher

_CURRENCY = re.compile(r"^[A-Z]{3}$")
JOURNAL_SEQUENCE = "ledger:manual-journal"
VOUCHER_SEQUENCE = "ledger:manual-voucher"


def _text(body: dict[str, Any], name: str, *, required: bool = False) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise bad_query(f"'{name}' must be a non-empty string.")
    return value


def _amount(value: Any, where: str) -> Decimal:
    """A decimal string; a JSON number is refused by name (it may have gone through float)."""
    if not isinstance(value, str):
        raise bad_query(
            f"'{where}' must be a decimal string such as \"12.34\", not {type(value).__name__} "
            f"{value!r}: amounts are never sent as JSON numbers."
        )
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise bad_query(f"'{where}' is not a decimal: {value!r}.") from exc
    if not amount.is_finite() or amount == 0:
        raise bad_query(f"'{where}' must be a finite, non-zero decimal: {value!r}.")
    return amount


def _date(body: dict[str, Any]) -> str:
    text = _text(body, "date", required=True)
    try:
        day = calendar_date.fromisoformat(text)
    except ValueError as exc:
        raise bad_query(f"'date' must be a date such as 2026-11-20, not {text!r}.") from exc
    return f"{day.isoformat()}T00:00:00Z"


def post_manual_voucher(
    posting: LedgerPosting, company: str, body: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """Check the body, then write one header and its entries (inside the caller's
    transaction). Returns ``{"header": row, "entries": [row, ...]}`` as stored."""
    store, schema = posting.store, posting.schema
    if not store.select(schema.entities["LegalEntities"], '"LegalEntityId" = ?', [company]):
        raise ODataError(404, f"Legal entity '{company}' does not exist.")
    trans_date = _date(body)
    currency = _text(body, "currency", required=True)
    if not _CURRENCY.match(currency):
        raise bad_query(f"'currency' must be an ISO currency code such as USD, not {currency!r}.")
    text = _text(body, "text")
    rate = _amount(body["exch_rate"], "exch_rate") if "exch_rate" in body else Decimal(100)
    lines = body.get("lines")
    if not isinstance(lines, list) or len(lines) < 2:
        raise bad_query("'lines' must be a list of at least two lines.")
    voucher = Voucher(_text(body, "voucher"), trans_date)
    total = Decimal(0)
    for i, line in enumerate(lines):
        if not isinstance(line, dict):
            raise bad_query(f"'lines[{i}]' must be an object.")
        unknown = set(line) - {"account", "debit", "credit", "text"}
        if unknown:
            raise bad_query(f"'lines[{i}]' has unknown fields: {', '.join(sorted(unknown))}.")
        if ("debit" in line) == ("credit" in line):
            raise bad_query(f"'lines[{i}]' needs exactly one of 'debit' and 'credit'.")
        side = "debit" if "debit" in line else "credit"
        amount = _amount(line[side], f"lines[{i}].{side}")
        account = _text(line, "account", required=True)
        try:
            applied = resolve_ledger_account(store, schema, company, account, trans_date)
        except ODataError as err:
            raise bad_query(f"'lines[{i}].account' {account!r}: {err.message}") from err
        debit, credit = (amount, Decimal(0)) if side == "debit" else (Decimal(0), amount)
        total += debit - credit
        entry = posting.entry(
            company,
            applied.as_json(),
            currency,
            debit,
            credit,
            rate,
            text=line.get("text") if isinstance(line.get("text"), str) else text,
        )
        voucher.entries.append(entry)
    if total != 0:
        raise bad_query(
            f"The voucher does not balance: debits minus credits is {canonical_decimal(total)} "
            f"{currency}."
        )
    posting.check_balanced(voucher)  # in accounting currency, after rounding
    journal = _text(body, "journal_number") or (f"MAN-{store.next_number(JOURNAL_SEQUENCE):06d}")
    if not voucher.voucher:
        voucher.voucher = f"MANV-{store.next_number(VOUCHER_SEQUENCE):06d}"
    [(header, entries)] = posting.write(company, journal, [voucher], now)
    return {"header": header, "entries": entries}
