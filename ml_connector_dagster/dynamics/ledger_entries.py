"""What F&O has actually posted to the general ledger: one company, a span of accounting dates.

Month-end reconciliation (issue 15) compares Rippling's register with the ledger as posted,
from every source, not only with the journals this connector wrote. Posted ledger entries are
read from two read-only entities of a real F&O ``$metadata`` (10.0.4x; their names, keys and
properties come from the SAP Cloud SDK client generated from that metadata, since the shared
reference holds neither):

- ``GeneralJournalEntryBiEntities``: one row per posted voucher and date (``SourceKey``,
  ``JournalNumber``, ``LedgerPostingJournal``, ``AccountingDate``, ``SubledgerVoucher``,
  ``SubledgerVoucherDataAreaId`` = the company, ``PostingLayer``).
- ``GeneralJournalAccountEntryBiEntities``: its account entries (``GeneralJournalEntry`` = the
  header's ``SourceKey``, ``LedgerAccount``, ``LedgerDimensionValuesJson``,
  ``TransactionCurrencyCode``/``Amount`` signed, debit positive, ``Text``).

Assumptions (not in ../shared/docs, stated here and in the README):
- ``LedgerPostingJournal`` of a general journal's postings is its ``JournalBatchNumber``; that
  is how the connector's own journals are told from other sources. (``JournalNumber`` cannot
  be: with ``FiscalCalendarYear`` and ``Ledger`` it is the entity's key, unique per posted
  voucher, so it is the general ledger's own number, shown beside the voucher.)
- ``LedgerDimensionValuesJson`` is a JSON array of one-entry objects, dimension name to value,
  in the ledger format's order (``[{"MainAccount": "600100"}, {"Department": "022"}]``): how
  public client code reads it. Names are matched without regard to case. When the JSON is
  absent or unreadable, ``LedgerAccount`` is split by the active ledger format instead.
- The integration user may read both entities (the BI entities are readable by the roles
  that read the ledger; an F&O 403 names the entity so the administrator knows what to grant).

Volume: the headers of the month are read once (server paging), then the account entries in
chunks of ``KEYS_PER_REQUEST`` headers, narrowed to the reconciled main accounts by a prefix
match on ``LedgerAccount`` and checked exactly here.
"""

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ml_connector_dagster.dynamics.client import DynamicsClient
from ml_connector_dagster.dynamics.odata import Enum, all_of, any_of, eq, literal
from ml_connector_dagster.dynamics.readers import DimensionFormat
from ml_connector_dagster.ledger.keys import Dimensions

HEADER_SET = "GeneralJournalEntryBiEntities"
ENTRY_SET = "GeneralJournalAccountEntryBiEntities"
HEADER_FIELDS = (
    "SourceKey",
    "JournalNumber",
    "LedgerPostingJournal",
    "AccountingDate",
    "SubledgerVoucher",
    "SubledgerVoucherDataAreaId",
)
ENTRY_FIELDS = (
    "SourceKey",
    "GeneralJournalEntry",
    "LedgerAccount",
    "LedgerDimensionValuesJson",
    "TransactionCurrencyCode",
    "TransactionCurrencyAmount",
    "Text",
)
# Header keys per entry request: about 30 characters each in the URL, so 40 stay far below any
# URL limit while keeping the request count at headers / 40.
KEYS_PER_REQUEST = 40
CURRENT_LAYER = Enum("CurrentOperationsTax", "Current")
MAIN_ACCOUNT = "mainaccount"


class LedgerEntryError(ValueError):
    """A posted entry F&O returned that cannot be read (names the entry and the field)."""


@dataclass(frozen=True)
class LedgerEntry:
    """One posted account entry, with its voucher's journal number and date."""

    source_key: int
    journal_number: str  # the general ledger's number of the posted voucher
    posting_journal: str  # the journal that posted it (a general journal's JournalBatchNumber)
    voucher: str
    accounting_date: dt.date
    account: str
    dimensions: Dimensions  # format order as F&O names them, blank values left out
    currency: str
    amount: Decimal  # transaction currency, debit positive
    text: str


def _date(value: Any, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise LedgerEntryError(f"{what}: AccountingDate {value!r} is not a date") from exc


def _from_json(raw: str, fmt: DimensionFormat) -> tuple[str, Dimensions] | None:
    """Main account and dimensions from ``LedgerDimensionValuesJson``, or None if unreadable."""
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None
    pairs: list[tuple[str, str]] = []
    items = parsed if isinstance(parsed, list) else [parsed]
    for item in items:
        if not isinstance(item, dict):
            return None
        pairs.extend((str(k), "" if v is None else str(v)) for k, v in item.items())
    names = {name.lower(): name for name in fmt.dimensions}
    main = [value for name, value in pairs if name.lower() == MAIN_ACCOUNT]
    if len(main) != 1:
        return None
    dims = {names.get(name.lower(), name): value for name, value in pairs if value}
    dims.pop(names.get(MAIN_ACCOUNT, "MainAccount"), None)
    order = {name: i for i, name in enumerate(fmt.dimensions)}
    ordered = sorted(dims.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
    return main[0], tuple(ordered)


def split_display(display: str, fmt: DimensionFormat) -> tuple[str, Dimensions]:
    """Main account and dimensions from ``LedgerAccount``, split by the ledger format."""
    segments = display.split(fmt.delimiter) if display else [""]
    pairs = list(zip(fmt.dimensions, segments, strict=False))
    main = next((v for n, v in pairs if n.lower() == MAIN_ACCOUNT), segments[0])
    return main, tuple((n, v) for n, v in pairs if v and n.lower() != MAIN_ACCOUNT)


def place_of(row: dict[str, Any], fmt: DimensionFormat) -> tuple[str, Dimensions]:
    """Where one account entry sits: main account and non-blank dimensions."""
    raw = row.get("LedgerDimensionValuesJson")
    parsed = _from_json(raw, fmt) if raw else None
    if parsed is not None:
        return parsed
    display = str(row.get("LedgerAccount") or "")
    if not display:
        raise LedgerEntryError(
            f"account entry {row.get('SourceKey')}: neither LedgerDimensionValuesJson nor"
            " LedgerAccount names its account"
        )
    return split_display(display, fmt)


def _chunks(values: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def _prefix_filter(accounts: Iterable[str]) -> str:
    """``LedgerAccount eq '600100*' or ...``: F&O's wildcard ``eq`` (SQL LIKE) narrows the read;
    the exact main account is checked after parsing."""
    return " or ".join(f"LedgerAccount eq {literal(account + '*')}" for account in sorted(accounts))


def posted_entries(
    client: DynamicsClient,
    company: str,
    first: dt.date,
    last: dt.date,
    fmt: DimensionFormat,
    accounts: Iterable[str],
) -> list[LedgerEntry]:
    """Every posted entry (current layer) of ``company`` dated ``first``..``last`` on one of
    ``accounts``, from every source."""
    wanted = set(accounts)
    if not wanted:
        return []
    headers = {
        int(row["SourceKey"]): row
        for row in client.iter_entities(
            HEADER_SET,
            filter=all_of(
                eq("SubledgerVoucherDataAreaId", company.lower()),
                f"AccountingDate ge {literal(first)}",
                f"AccountingDate le {literal(last)}",
                eq("PostingLayer", CURRENT_LAYER),
            ),
            select=list(HEADER_FIELDS),
        )
    }
    entries: list[LedgerEntry] = []
    for chunk in _chunks(sorted(headers), KEYS_PER_REQUEST):
        rows = client.iter_entities(
            ENTRY_SET,
            filter=all_of(any_of("GeneralJournalEntry", list(chunk)), _prefix_filter(wanted)),
            select=list(ENTRY_FIELDS),
        )
        for row in rows:
            header = headers.get(int(row["GeneralJournalEntry"]))
            if header is None:
                continue  # F&O answered outside the asked keys: not ours to count
            account, dimensions = place_of(row, fmt)
            if account not in wanted:
                continue  # the prefix also matched a longer account number
            voucher = header.get("SubledgerVoucher")
            what = f"account entry {row.get('SourceKey')} (voucher {voucher})"
            amount = row.get("TransactionCurrencyAmount")
            if not isinstance(amount, Decimal | int):
                raise LedgerEntryError(f"{what}: TransactionCurrencyAmount {amount!r} is no amount")
            entries.append(
                LedgerEntry(
                    source_key=int(row["SourceKey"]),
                    journal_number=str(header.get("JournalNumber") or ""),
                    posting_journal=str(header.get("LedgerPostingJournal") or ""),
                    voucher=str(header.get("SubledgerVoucher") or ""),
                    accounting_date=_date(header.get("AccountingDate"), what),
                    account=account,
                    dimensions=dimensions,
                    currency=str(row.get("TransactionCurrencyCode") or ""),
                    amount=Decimal(amount),
                    text=str(row.get("Text") or ""),
                )
            )
    return sorted(entries, key=lambda e: (e.accounting_date, e.journal_number, e.source_key))
