"""Journal lines as F&O holds them: numbered, comparable, and summed per account and dimensions.

Every line of a journal identity has a fixed ``LineNumber`` (its 1-based position in the built
journal), whatever the split into F&O journals. A resent changeset therefore collides on F&O's
key instead of duplicating lines, a resume adds exactly the missing numbers, and what F&O holds
can be compared with what Rippling says now without any local record.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.ledger.journal import Journal
from ml_connector_dagster.posting.payloads import line_payloads, split_parts

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class LedgerLine:
    """The parts of one line that decide where money lands: compared field by field."""

    number: int
    account: str  # AccountDisplayValue: main account and dimensions in the active format
    currency: str
    debit: Decimal
    credit: Decimal
    trans_date: str  # YYYY-MM-DD

    @property
    def amount(self) -> Decimal:
        return self.debit - self.credit

    def same_money(self, other: "LedgerLine") -> bool:
        """Same account, dimensions, currency and amounts (the date is compared separately)."""
        return (
            self.account.upper() == other.account.upper()
            and self.currency.upper() == other.currency.upper()
            and self.debit == other.debit
            and self.credit == other.credit
        )

    @classmethod
    def from_dynamics(cls, row: Mapping[str, Any]) -> "LedgerLine":
        return cls(
            number=int(Decimal(str(row["LineNumber"]))),
            account=str(row.get("AccountDisplayValue") or ""),
            currency=str(row.get("CurrencyCode") or ""),
            debit=Decimal(str(row.get("DebitAmount") or "0")),
            credit=Decimal(str(row.get("CreditAmount") or "0")),
            trans_date=str(row.get("TransDate") or "")[:10],
        )


LINE_FIELDS = (
    "LineNumber",
    "AccountDisplayValue",
    "CurrencyCode",
    "DebitAmount",
    "CreditAmount",
    "TransDate",
)


def expected_lines(journal: Journal, mapping: PayrollMapping) -> dict[int, LedgerLine]:
    """The journal as F&O would hold it, by line number (independent of any split)."""
    [whole] = split_parts(journal, max(len(journal.lines), 1))
    return {
        int(payload["LineNumber"]): LedgerLine.from_dynamics(payload)
        for payload in line_payloads(journal, whole, "", mapping)
    }


@dataclass(frozen=True)
class Difference:
    """One account + dimensions whose amount in F&O differs from the journal built now."""

    account: str
    currency: str
    in_dynamics: Decimal
    now: Decimal

    @property
    def difference(self) -> Decimal:
        return self.now - self.in_dynamics

    def describe(self) -> str:
        return (
            f"{self.account} {self.currency}: F&O {self.in_dynamics}, Rippling now {self.now},"
            f" difference {self.difference:+}"
        )


def _sums(lines: Iterable[LedgerLine]) -> dict[tuple[str, str], Decimal]:
    sums: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for line in lines:
        sums[(line.account.upper(), line.currency.upper())] += line.amount
    return sums


def account_differences(
    in_dynamics: Iterable[LedgerLine], now: Iterable[LedgerLine]
) -> list[Difference]:
    """Net amount per account + dimensions + currency, where F&O and now disagree."""
    held, wanted = _sums(in_dynamics), _sums(now)
    return [
        Difference(account, currency, held.get(key, ZERO), wanted.get(key, ZERO))
        for key in sorted(set(held) | set(wanted))
        for account, currency in [key]
        if held.get(key, ZERO) != wanted.get(key, ZERO)
    ]
