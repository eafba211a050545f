"""Turn a built journal into F&O header and line payloads, split where a journal is too long.

A part never splits a voucher (each voucher must balance on its own inside one journal), and
each part is its own F&O journal whose Description carries the identity marker and ``i/n``.
Every part carries the identity's IntegrationKey, and every line its fixed ``LineNumber``: the
line's position in the whole journal, so numbers do not depend on the split.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.ledger.journal import Journal, JournalLine, line_display_value


@dataclass(frozen=True)
class JournalPart:
    """One F&O journal: a slice of the built journal's vouchers."""

    index: int
    count: int
    description: str
    lines: tuple[JournalLine, ...]
    first_line: int = 1  # LineNumber of the part's first line in the whole journal

    @property
    def line_numbers(self) -> tuple[int, ...]:
        return tuple(range(self.first_line, self.first_line + len(self.lines)))

    @property
    def total_debit(self) -> Decimal:
        return sum((line.debit for line in self.lines), Decimal("0.00"))

    @property
    def total_credit(self) -> Decimal:
        return sum((line.credit for line in self.lines), Decimal("0.00"))


def pack_vouchers(lines: Sequence[JournalLine], max_lines: int) -> list[list[JournalLine]]:
    """Whole vouchers (consecutive lines sharing a voucher) packed into groups of ``max_lines``."""
    groups: list[list[JournalLine]] = []
    current_voucher = None
    for line in lines:
        if line.voucher != current_voucher:
            groups.append([])
            current_voucher = line.voucher
        groups[-1].append(line)
    packed: list[list[JournalLine]] = [[]]
    for group in groups:
        if len(group) > max_lines:
            raise ValueError(
                f"voucher {group[0].voucher} has {len(group)} lines, more than the {max_lines}"
                " one journal may hold; use summary detail or raise max_lines_per_journal"
            )
        if packed[-1] and len(packed[-1]) + len(group) > max_lines:
            packed.append([])
        packed[-1].extend(group)
    return packed


def split_parts(journal: Journal, max_lines: int) -> list[JournalPart]:
    """Whole vouchers packed into parts of at most ``max_lines`` lines."""
    parts = pack_vouchers(journal.lines, max_lines)
    count = len(parts)
    marker = journal.identity.marker
    result = []
    first_line = 1
    for index, lines in enumerate(parts, start=1):
        if count == 1:
            description = journal.description
        else:
            label = journal.description.removesuffix(marker).strip()
            description = f"{label} {index}/{count} {marker}"
        result.append(JournalPart(index, count, description, tuple(lines), first_line))
        first_line += len(lines)
    return result


def _odata_date(value: dt.date) -> str:
    return f"{value.isoformat()}T00:00:00Z"


def header_payload(
    journal: Journal, part: JournalPart, *, integration_key: bool = True
) -> dict[str, Any]:
    """The header; ``integration_key`` False for a tenant whose entity lacks the field."""
    payload = {
        "dataAreaId": journal.company.lower(),
        "JournalName": journal.journal_name,
        "Description": part.description,
    }
    if integration_key:
        payload["IntegrationKey"] = journal.identity.integration_key
    return payload


def line_payloads(
    journal: Journal,
    part: JournalPart,
    batch_number: str,
    mapping: PayrollMapping,
    *,
    supply_voucher: bool = False,
) -> list[dict[str, Any]]:
    """The lines of one part. ``Voucher`` only with ``supply_voucher`` (a journal name that
    wants vouchers on its lines, see ``posting.vouchers``); else F&O's series numbers them."""
    payloads = []
    for number, line in zip(part.line_numbers, part.lines, strict=True):
        payload: dict[str, Any] = {
            "dataAreaId": journal.company.lower(),
            "JournalBatchNumber": batch_number,
            "LineNumber": Decimal(number),
            "AccountType": "Ledger",
            "AccountDisplayValue": line_display_value(mapping, line),
            "CurrencyCode": line.currency,
            "TransDate": _odata_date(journal.trans_date),
            "Text": line.text,
        }
        if supply_voucher:
            payload["Voucher"] = line.voucher
        if line.debit:
            payload["DebitAmount"] = line.debit
        else:
            payload["CreditAmount"] = line.credit
        if journal.reverse_date is not None:
            payload["ReverseEntry"] = "Yes"
            payload["ReverseDate"] = _odata_date(journal.reverse_date)
        payloads.append(payload)
    return payloads
