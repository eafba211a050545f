"""The posted general ledger the stand-in keeps: what posting a journal (or a manual voucher
finance enters by hand) writes to ``GeneralJournalEntryBiEntities`` (one row per voucher and
date) and ``GeneralJournalAccountEntryBiEntities`` (one row per account entry).

Posting happens inside the caller's store transaction and checks everything before it writes a
row, so a refused posting leaves no trace. Where F&O's documentation is silent, the choices are
marked ASSUMPTION below; the product reconciles against these rows, so they are kept simple and
stated rather than guessed at silently.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ml_connector_sandbox.dynamics.edm import DEFAULT_DATETIME, canonical_decimal
from ml_connector_sandbox.dynamics.errors import ODataError
from ml_connector_sandbox.dynamics.ledger_dimensions import resolve_ledger_account
from ml_connector_sandbox.dynamics.schema import EntitySchema, Schema
from ml_connector_sandbox.dynamics.store import Store

HEADERS = "GeneralJournalEntryBiEntities"
ENTRIES = "GeneralJournalAccountEntryBiEntities"
# SourceKey is the RecId of the ledger row: one increasing counter for both sets, starting
# where F&O's RecIds start, so a SourceKey never looks like a line number or a year.
RECID_SEQUENCE = "ledger:recid"
GL_JOURNAL_SEQUENCE = "ledger:journal-number"
FIRST_RECID = 5_637_144_576
# ASSUMPTION: the user F&O records as the poster; the sandbox has no user behind its admin
# routes, so it names F&O's built-in administrator.
POSTED_BY = "Admin"
CENT = Decimal("0.01")


# What a line without these (optional) columns means for posting.
LINE_DEFAULTS: dict[str, Any] = {
    "DocumentNum": "",
    "ReverseEntry": "No",
    "ReverseDate": DEFAULT_DATETIME,
    "OffsetAccountType": "Ledger",
    "OffsetAccountDisplayValue": "",
    "OffsetText": "",
    "Text": "",
    "Quantity": "0",
    "PaymentReference": "",
    "ExchRate": "100",
    "AccountType": "Ledger",
}


def refused(text: str) -> ODataError:
    """A posting F&O refuses (400; the text in the innererror)."""
    return ODataError(400, text)


def stable_id(kind: str, text: str) -> int:
    """An Int64 that stays the same for the same ``text`` across restarts and resets, where the
    seed gives no RecId (a ledger per company, a main account per chart)."""
    digest = hashlib.sha256(f"{kind}:{text.lower()}".encode()).hexdigest()
    return FIRST_RECID + 10**10 + int(digest[:12], 16) % 10**9


@dataclass
class AccountEntry:
    """One account entry before it is stored: the applied dimensions and the signed amount in
    transaction currency (debit positive, credit negative)."""

    applied: dict[str, Any]
    currency: str
    amount: Decimal
    accounting: Decimal
    text: str = ""
    quantity: str = "0"
    payment_reference: str = ""
    correction: bool = False

    def reversed(self) -> AccountEntry:
        """The entry a reversing entry posts: same account, the amounts negated. A reversal is
        an ordinary posting on the other side (IsCorrection No), not a storno."""
        return AccountEntry(
            self.applied,
            self.currency,
            -self.amount,
            -self.accounting,
            self.text,
            canonical_decimal(-Decimal(self.quantity)),
            self.payment_reference,
            correction=False,
        )


@dataclass
class Voucher:
    """The entries of one voucher on one accounting date."""

    voucher: str
    date: str  # canonical DateTimeOffset text, midnight UTC
    document_number: str = ""
    entries: list[AccountEntry] = field(default_factory=list)


class LedgerPosting:
    """Writes ledger rows into one store; every method runs inside the caller's transaction."""

    def __init__(self, store: Store, schema: Schema) -> None:
        self.store = store
        self.schema = schema

    def e(self, name: str) -> EntitySchema:
        return self.schema.entities[name]

    # --- company facts ----------------------------------------------------------------------

    def ledger(self, company: str) -> dict[str, Any]:
        rows = self.store.select(self.e("Ledgers"), '"LegalEntityId" = ?', [company])
        if not rows:
            raise refused(f"No ledger is set up for legal entity '{company}'.")
        return rows[0]

    def ledger_id(self, company: str) -> int:
        return int(self.ledger(company)["LedgerRecId"]) or stable_id("ledger", company)

    def main_account_id(self, company: str, main_account: str) -> int:
        chart = self.ledger(company)["ChartOfAccounts"]
        rows = self.store.select(
            self.e("MainAccounts"),
            '"ChartOfAccounts" = ? AND "MainAccountId" = ?',
            [chart, main_account],
        )
        recid = int(rows[0]["MainAccountRecId"]) if rows else 0
        return recid or stable_id("main-account", f"{chart}/{main_account}")

    def accounting_amount(
        self, company: str, currency: str, amount: Decimal, exch_rate: Decimal
    ) -> Decimal:
        """The amount in the company's accounting currency (``Ledgers.AccountingCurrency``): the
        same amount in that currency, else ``amount * ExchRate / 100`` rounded to cents.
        ASSUMPTION: the line's ExchRate (per 100 units, F&O's convention; 100 where the line has
        none) is the rate; the sandbox keeps no exchange rate tables, and rounds half away from
        zero to two decimals."""
        if currency.upper() == (self.ledger(company)["AccountingCurrency"] or "").upper():
            return amount
        rate = exch_rate if exch_rate != 0 else Decimal(100)
        return (amount * rate / 100).quantize(CENT, rounding=ROUND_HALF_UP)

    # --- entries ----------------------------------------------------------------------------

    def entry(
        self,
        company: str,
        applied: dict[str, Any],
        currency: str,
        debit: Decimal,
        credit: Decimal,
        exch_rate: Decimal,
        **extra: Any,
    ) -> AccountEntry:
        """An entry from a debit or a credit. A negative debit or credit (allowed by some
        journal names) stays on its side as a correction (IsCorrection Yes, F&O's storno)."""
        amount = debit if debit != 0 else -credit
        return AccountEntry(
            applied,
            currency,
            amount,
            self.accounting_amount(company, currency, amount, exch_rate),
            correction=debit < 0 or credit < 0,
            **extra,
        )

    def check_balanced(self, voucher: Voucher) -> None:
        """A voucher balances in accounting currency on its date, as F&O requires to post."""
        difference = sum((e.accounting for e in voucher.entries), Decimal(0))
        if difference != 0:
            raise refused(
                f"The transactions on voucher {voucher.voucher} do not balance as per "
                f"{voucher.date[:10]}. (accounting currency: {canonical_decimal(difference)})"
            )

    # --- writing ----------------------------------------------------------------------------

    def write(
        self,
        company: str,
        journal_number: str,
        vouchers: list[Voucher],
        now: datetime,
    ) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """Store one header per voucher and its entries; returns the stored rows.

        ASSUMPTION (no public page settles it): a general journal's postings carry the journal's
        batch number as ``LedgerPostingJournal``, and each posted voucher gets its own general
        ledger ``JournalNumber`` from a number sequence (``GJ-0000001``): the metadata's key
        (``JournalNumber``, ``FiscalCalendarYear``, ``Ledger``) is unique, which a journal
        number shared by a journal's vouchers could not be. The fiscal calendar is the
        calendar year with one period per month, so ``FiscalCalendarYear`` is the year and
        ``FiscalCalendarPeriod`` the month (F&O stores RecIds of its fiscal calendar there);
        ``AcknowledgementDate`` is the accounting date.
        """
        for voucher in vouchers:
            self.check_balanced(voucher)
        headers, entries = self.e(HEADERS), self.e(ENTRIES)
        ledger = self.ledger_id(company)
        created_on = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        out = []
        for voucher in vouchers:
            date = voucher.date
            header = {
                "SourceKey": self.next_recid(),
                "JournalNumber": f"GJ-{self.store.next_number(GL_JOURNAL_SEQUENCE):07d}",
                "FiscalCalendarYear": int(date[:4]),
                "Ledger": ledger,
                "AccountingDate": date,
                "DocumentDate": date,
                "DocumentNumber": voucher.document_number,
                "SubledgerVoucher": voucher.voucher,
                "SubledgerVoucherDataAreaId": company.lower(),
                "PostingLayer": "Current",
                "LedgerPostingJournal": journal_number,
                "LedgerPostingJournalDataAreaId": company.lower(),
                "CreatedOn": created_on,
                "FiscalCalendarPeriod": int(date[5:7]),
                "AcknowledgementDate": date,
                "SysCreatedBy": POSTED_BY,
            }
            self.store.insert(headers, header)
            rows = [self.entry_row(company, header["SourceKey"], e) for e in voucher.entries]
            self.store.insert_many(entries, rows)
            out.append((self.store.full_row(headers, header), rows))
        return out

    def entry_row(self, company: str, header_key: int, entry: AccountEntry) -> dict[str, Any]:
        """``LedgerAccount`` is the display value as F&O applied it: every segment of the
        format used, blanks included, joined by its delimiter (segments F&O dropped are gone).
        ASSUMPTION: ``LedgerDimensionValuesJson`` is a JSON array of one-entry objects, one per
        non-blank segment in format order (``[{"MainAccount": "600100"}, {"Department":
        "022"}]``), the shape public client code reads it in; no sample of F&O's exact text
        (spacing, blank segments) was available."""
        names = entry.applied["format"]
        values = entry.applied["values"]
        account = entry.applied["delimiter"].join(values.get(n, "") for n in names)
        dims = [{n: values[n]} for n in names if values.get(n)]
        main = values.get(names[0], "") if names else ""
        accounting = entry.accounting
        return {
            "SourceKey": self.next_recid(),
            "GeneralJournalEntry": header_key,
            "LedgerAccount": account,
            "LedgerDimensionValuesJson": json.dumps(dims),
            "IsCredit": "Yes" if (entry.amount < 0) != entry.correction else "No",
            "TransactionCurrencyCode": entry.currency,
            "TransactionCurrencyAmount": canonical_decimal(entry.amount),
            "AccountingCurrencyAmount": canonical_decimal(accounting),
            # ASSUMPTION: the reporting currency is the accounting currency.
            "ReportingCurrencyAmount": canonical_decimal(accounting),
            "Text": entry.text,
            "MainAccount": self.main_account_id(company, main),
            "Quantity": entry.quantity,
            "IsCorrection": "Yes" if entry.correction else "No",
            "PaymentReference": entry.payment_reference,
        }

    def next_recid(self) -> int:
        return self.store.next_number(RECID_SEQUENCE, at_least=FIRST_RECID)

    # --- a journal --------------------------------------------------------------------------

    def journal_vouchers(
        self, header: dict[str, Any], lines: list[dict[str, Any]]
    ) -> list[Voucher]:
        """The vouchers a journal posts: one per (Voucher, TransDate) of its lines, in line
        order, and for lines with ``ReverseEntry`` Yes one more per (Voucher, ReverseDate) with
        the negated entries. ASSUMPTION: the journal name's detail level is "Transaction" (one
        account entry per line, no summarising)."""
        company = header["dataAreaId"]
        # ``get`` with F&O's empty values: a tenant may lack a property (``without_properties``)
        lines = [{**LINE_DEFAULTS, **line} for line in lines]
        posted: dict[tuple[str, str], Voucher] = {}
        reversals: dict[tuple[str, str], Voucher] = {}
        for line in lines:
            entries = self.line_entries(company, line)
            key = (line["Voucher"], line["TransDate"])
            voucher = posted.setdefault(key, Voucher(*key, document_number=line["DocumentNum"]))
            voucher.entries += entries
            if line["ReverseEntry"] == "Yes":
                if line["ReverseDate"] == DEFAULT_DATETIME:
                    raise refused(
                        f"Line {line['LineNumber']} of journal {line['JournalBatchNumber']} "
                        "is a reversing entry without a reversing date."
                    )
                if line["ReverseDate"] <= line["TransDate"]:
                    raise refused(
                        f"Line {line['LineNumber']} of journal {line['JournalBatchNumber']}: "
                        "the reversing date must be after the transaction date."
                    )
                rkey = (line["Voucher"], line["ReverseDate"])
                reversal = reversals.setdefault(rkey, Voucher(*rkey, line["DocumentNum"]))
                reversal.entries += [e.reversed() for e in entries]
        return [*posted.values(), *reversals.values()]

    def line_entries(self, company: str, line: dict[str, Any]) -> list[AccountEntry]:
        """The line's own entry and, with a ledger offset account, the offsetting one."""
        for kind, value in (
            ("AccountType", line["AccountType"]),
            (
                "OffsetAccountType",
                line["OffsetAccountType"] if line["OffsetAccountDisplayValue"] else "Ledger",
            ),
        ):
            if value != "Ledger":
                # Posting a vendor line needs its posting profile's summary account, which the
                # sandbox does not model: refuse rather than post to a made-up account.
                raise refused(
                    f"Line {line['LineNumber']} of journal {line['JournalBatchNumber']}: posting "
                    f"{kind} {value} is not supported by this sandbox (ledger accounts only)."
                )
        debit, credit = Decimal(line["DebitAmount"]), Decimal(line["CreditAmount"])
        extra = {
            "text": line["Text"],
            "quantity": line["Quantity"],
            "payment_reference": line["PaymentReference"],
        }
        rate = Decimal(line["ExchRate"])
        currency = line["CurrencyCode"]
        applied = json.loads(line.get("_applied_dims") or "{}")
        if "format" not in applied:  # a line crafted through the admin route: read it now
            applied = self.resolve(company, line["AccountDisplayValue"], line["TransDate"])
        entries = [self.entry(company, applied, currency, debit, credit, rate, **extra)]
        if line["OffsetAccountDisplayValue"]:
            # The offset's applied dimensions are not kept with the line; F&O validates them
            # again on posting, so the sandbox reads them again on the transaction date.
            offset = self.resolve(company, line["OffsetAccountDisplayValue"], line["TransDate"])
            offset_extra = {**extra, "text": line["OffsetText"] or line["Text"]}
            entries.append(
                self.entry(company, offset, currency, credit, debit, rate, **offset_extra)
            )
        return entries

    def resolve(self, company: str, display_value: str, trans_date: str) -> dict[str, Any]:
        return resolve_ledger_account(
            self.store, self.schema, company, display_value, trans_date
        ).as_json()
