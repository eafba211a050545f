"""Month-close reconciliation: Rippling's payroll register against what F&O posted.

For one company and one month, the register says what the month's paid pay runs cost, per
main account, financial dimensions and currency (a *place*). F&O says what was actually posted
on those accounts, from every source: the connector's journals, but also entries made by hand
or by another process, which the connector never sees otherwise. Finance reviews the result
at month close, so every place gets a row with the amounts side by side and a status saying
which of the usual explanations (nothing, journals not yet posted, someone else's entries)
covers the gap, if any.

Pure: the F&O reader and the Dagster asset build the inputs and show the result.
"""

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

from ml_connector_dagster.ledger.keys import Dimensions

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


@dataclass(frozen=True, order=True)
class Place:
    """Where an amount sits in the ledger: main account, dimension values, currency.

    The currency is part of the place so that amounts in two currencies are never added.
    """

    account: str
    dimensions: Dimensions  # ((name, value), ...) name order, blank values omitted
    currency: str  # transaction currency

    @property
    def label(self) -> str:
        """The place as finance reads it in an error or a report line."""
        dims = " ".join(f"{name}={value}" for name, value in self.dimensions)
        return " ".join(part for part in (self.account, dims, self.currency) if part)

    def canonical(self) -> "Place":
        """The same place with its dimensions in name order and blank values dropped.

        The register is built in name order (``ledger/builder.py`` sorts them), but a reader
        parsing F&O's display value gets them in the ledger format's order
        (``posting/corrections.parse_display_value``): without this the same ledger position
        would show up as two rows, one all register and one all posted.
        """
        dims = tuple(sorted((name, value) for name, value in self.dimensions if value.strip()))
        return replace(self, dimensions=dims)


@dataclass(frozen=True)
class RegisterLine:
    """Rippling's side: what one paid pay run of the month cost on one place."""

    place: Place
    amount: Decimal  # signed: debit +, credit -
    run_id: str  # the Rippling pay run

    @property
    def label(self) -> str:
        return f"register line of run {self.run_id} on {self.place.label}"


class EntrySource(StrEnum):
    CONNECTOR = "connector"  # from a journal this connector wrote
    OTHER = "other"  # posted by hand or by another process


@dataclass(frozen=True)
class PostedEntry:
    """F&O's side: one posted general journal account entry."""

    place: Place
    amount: Decimal  # signed, transaction currency
    journal_number: str
    voucher: str
    accounting_date: dt.date
    text: str
    source: EntrySource

    @property
    def label(self) -> str:
        return (
            f"posted entry of journal {self.journal_number} voucher {self.voucher}"
            f" ({self.accounting_date.isoformat()}) on {self.place.label}"
        )


@dataclass(frozen=True)
class UnpostedLine:
    """A line of one of the connector's journals F&O holds, not yet posted."""

    place: Place
    amount: Decimal  # signed
    journal_number: str  # the F&O JournalBatchNumber
    run_id: str

    @property
    def label(self) -> str:
        return (
            f"unposted line of journal {self.journal_number} (run {self.run_id})"
            f" on {self.place.label}"
        )


class Status(StrEnum):
    MATCHED = "matched"  # register == posted by connector, no other entries
    # The whole difference is the connector's unposted journals, no other entries.
    AWAITING_POSTING = "awaiting posting"
    # register == connector posted + connector unposted, but other sources posted on the
    # place too (even netting to zero): someone else touched payroll's accounts.
    OTHER_ENTRIES = "other entries"
    DIFFERENCE = "difference"  # anything else


@dataclass(frozen=True)
class PlaceRow:
    """One place: the register against what was posted on it, and the verdict."""

    place: Place
    register: Decimal
    posted_by_connector: Decimal
    posted_by_others: Decimal
    other_entry_count: int
    unposted: Decimal
    difference: Decimal  # register - (posted_by_connector + posted_by_others)
    status: Status
    runs: tuple[str, ...]  # register run ids on the place, sorted
    # Where finance looks next: the journals behind the posted and the unposted amounts.
    connector_journals: tuple[str, ...] = ()  # posted by the connector on the place, sorted
    unposted_journals: tuple[str, ...] = ()  # the connector's, not yet posted, sorted


@dataclass(frozen=True)
class CurrencyTotals:
    currency: str
    register: Decimal
    posted: Decimal  # connector + others
    unposted: Decimal
    difference: Decimal  # register - posted


@dataclass(frozen=True)
class Reconciliation:
    company: str
    month: str  # "2026-11"
    rows: tuple[PlaceRow, ...]  # sorted by place
    other_entries: tuple[PostedEntry, ...]  # every OTHER entry considered, sorted
    unposted: tuple[UnpostedLine, ...]  # sorted by (journal_number, place)
    totals: tuple[CurrencyTotals, ...]  # sorted by currency
    accounts: tuple[str, ...]  # the accounts reconciled, sorted

    def counts(self) -> dict[Status, int]:
        """Rows per status, every status present (0 when none) so a report has fixed columns."""
        out = dict.fromkeys(Status, 0)
        for row in self.rows:
            out[row.status] += 1
        return out

    @property
    def reconciled(self) -> bool:
        """Every row matched. A month with nothing on the accounts reconciles: there is nothing
        the register says that the ledger does not."""
        return all(row.status is Status.MATCHED for row in self.rows)

    def summary(self) -> str:
        """One plain sentence for finance. Says "reconciled" only when it is: a summary read on
        its own must never let a month with a gap pass for closed."""
        counts = self.counts()
        head = f"{self.company} {self.month}"
        pending = _journals(line.journal_number for line in self.unposted)
        if self.reconciled:
            if not self.rows:
                return (
                    f"{head} reconciled: no payroll and no postings on the"
                    f" {_plural(len(self.accounts), 'account')} reconciled."
                )
            text = f"{head} reconciled: {_plural(counts[Status.MATCHED], 'place')} matched"
            if pending:
                # MATCHED ignores unposted lines (the register already equals what was posted):
                # posting them would open a difference, so finance must hear of them. No amount:
                # a journal is balanced, so its lines net to nothing across places.
                text += (
                    f", but connector {_named('journal', pending)}, not yet posted,"
                    " would change that"
                )
            return text + "."
        parts = [f"{_plural(counts[Status.MATCHED], 'place')} matched"]
        awaiting = [row for row in self.rows if row.status is Status.AWAITING_POSTING]
        if awaiting:
            journals = _journals(j for row in awaiting for j in row.unposted_journals)
            # The journals, not an amount: their balanced lines would net to nothing.
            parts.append(
                f"{_plural(len(awaiting), 'place')} awaiting posting of"
                f" {_named('journal', journals)}"
            )
        if counts[Status.OTHER_ENTRIES]:
            parts.append(f"{_plural(counts[Status.OTHER_ENTRIES], 'place')} with other entries")
        differences = [row for row in self.rows if row.status is Status.DIFFERENCE]
        if differences:
            # One difference is shown as is; several are shown net, and said to be net, as
            # two differences can cancel out.
            word = "of" if len(differences) == 1 else "netting"
            parts.append(
                f"{_plural(len(differences), 'difference')} {word}"
                f" {_row_amounts(differences, 'difference')}"
            )
        if self.other_entries:
            parts.append(f"{_plural(len(self.other_entries), 'entry')} posted by others")
        return f"{head}: {', '.join(parts)}."


def _plural(n: int, noun: str) -> str:
    if n == 1:
        return f"1 {noun}"
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{n} {plural}"


def _money(currency: str, amount: Decimal) -> str:
    return f"{currency} {amount:,.2f}"


def _journals(numbers: Iterable[str]) -> list[str]:
    return sorted(set(numbers))


def _named(noun: str, names: list[str]) -> str:
    """``journal JN-1`` or ``journals JN-1, JN-2``."""
    return f"{noun}{'s' if len(names) > 1 else ''} {', '.join(names)}"


def _row_amounts(rows: Iterable[PlaceRow], column: str) -> str:
    per: dict[str, Decimal] = {}
    for row in rows:
        per[row.place.currency] = per.get(row.place.currency, ZERO) + getattr(row, column)
    return " and ".join(_money(c, a) for c, a in sorted(per.items()))


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    """First and last day of ``"YYYY-MM"``; anything else is refused, never guessed."""
    match = _MONTH.fullmatch(month) if isinstance(month, str) else None
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1:
        raise ValueError(f"month {month!r} is not like YYYY-MM (e.g. 2026-11)")
    year, number = int(match.group(1)), int(match.group(2))
    first = dt.date(year, number, 1)
    following = dt.date(year + 1, 1, 1) if number == 12 else dt.date(year, number + 1, 1)
    return first, following - dt.timedelta(days=1)


def _cents(amount: object, label: str) -> Decimal:
    """The amount in cents, refusing what a ledger amount cannot be.

    Trailing zeros are accepted (``100.000000`` is 100.00: F&O's real fields carry more
    digits than the currency has); a value below the cent is refused, as summing it would
    make a difference no ledger line shows. Assumption: every currency here has cents, as
    ``accounting.md`` works in cents throughout.
    """
    if not isinstance(amount, Decimal):
        raise ValueError(f"{label}: amount {amount!r} is not a Decimal ({type(amount).__name__})")
    if not amount.is_finite():
        raise ValueError(f"{label}: amount {amount} is not a number")
    cents = amount.quantize(CENT)
    if cents != amount:
        raise ValueError(f"{label}: amount {amount} has more than 2 decimals")
    return cents


def _checked_place(place: Place, label: str) -> Place:
    names = [name for name, _ in place.dimensions]
    if len(set(names)) != len(names):
        raise ValueError(f"{label}: a dimension is given twice")
    return place.canonical()


@dataclass
class _Sums:
    """What the inputs put on one place, summed exactly."""

    register: Decimal = ZERO
    connector: Decimal = ZERO
    others: Decimal = ZERO
    other_count: int = 0
    unposted: Decimal = ZERO
    runs: set[str] = field(default_factory=set)
    connector_journals: set[str] = field(default_factory=set)
    unposted_journals: set[str] = field(default_factory=set)

    def row(self, place: Place) -> PlaceRow:
        difference = self.register - (self.connector + self.others)
        return PlaceRow(
            place=place,
            register=self.register,
            posted_by_connector=self.connector,
            posted_by_others=self.others,
            other_entry_count=self.other_count,
            unposted=self.unposted,
            difference=difference,
            status=self.status(difference),
            runs=tuple(sorted(self.runs)),
            connector_journals=tuple(sorted(self.connector_journals)),
            unposted_journals=tuple(sorted(self.unposted_journals)),
        )

    def status(self, difference: Decimal) -> Status:
        if self.other_count == 0:
            # Unposted lines stop a match: with the register already equal to what the
            # connector posted, posting them would double the amount (a duplicate journal
            # waiting in F&O), so the place is a difference finance must look at.
            if self.register == self.connector and self.unposted == 0:
                return Status.MATCHED
            if self.unposted != 0 and difference == self.unposted:
                return Status.AWAITING_POSTING
            return Status.DIFFERENCE
        if self.register == self.connector + self.unposted:
            return Status.OTHER_ENTRIES
        return Status.DIFFERENCE


R = TypeVar("R", RegisterLine, PostedEntry, UnpostedLine)


def _considered(records: Iterable[R], wanted: frozenset[str]) -> Iterator[tuple[R, Place, Decimal]]:
    """Each record on a reconciled account, with its place and amount checked (records on
    other accounts are dropped unchecked: a bad one there cannot stop the month)."""
    for record in records:
        if record.place.account in wanted:
            yield (
                record,
                _checked_place(record.place, record.label),
                _cents(record.amount, record.label),
            )


def reconcile(
    company: str,
    month: str,
    accounts: Iterable[str],
    register: Iterable[RegisterLine],
    posted: Iterable[PostedEntry],
    unposted: Iterable[UnpostedLine],
) -> Reconciliation:
    """Reconcile one company's month: a row per place any input touches on ``accounts``.

    Records on other accounts are dropped before they are read (the F&O reader may return
    more than payroll's accounts, in whatever shape), so a problem in one of them cannot stop
    the month's reconciliation. Every kept record is checked: amounts in whole cents, posted
    entries dated in the month.
    """
    first, last = month_bounds(month)
    kept_accounts = tuple(sorted(set(accounts)))
    if not kept_accounts:
        # Nothing to compare would "reconcile" trivially and say so: refuse instead.
        raise ValueError(f"no accounts to reconcile for {company} {month}")
    wanted = frozenset(kept_accounts)
    sums: dict[Place, _Sums] = {}

    def at(place: Place) -> _Sums:
        return sums.setdefault(place, _Sums())

    for line, place, amount in _considered(register, wanted):
        entry = at(place)
        entry.register += amount
        entry.runs.add(line.run_id)

    others: list[PostedEntry] = []
    for posting, place, amount in _considered(posted, wanted):
        if not first <= posting.accounting_date <= last:
            raise ValueError(f"{posting.label}: dated outside {month}")
        entry = at(place)
        if posting.source is EntrySource.CONNECTOR:
            entry.connector += amount
            entry.connector_journals.add(posting.journal_number)
        elif posting.source is EntrySource.OTHER:
            entry.others += amount
            entry.other_count += 1
            others.append(replace(posting, place=place, amount=amount))
        else:  # a plain string slipped through: guessing its side would hide it
            raise ValueError(f"{posting.label}: source {posting.source!r} is not an EntrySource")

    pending: list[UnpostedLine] = []
    for line, place, amount in _considered(unposted, wanted):
        entry = at(place)
        entry.unposted += amount
        entry.unposted_journals.add(line.journal_number)
        pending.append(replace(line, place=place, amount=amount))

    rows = tuple(sums[place].row(place) for place in sorted(sums))
    # The full record after the sort keys, so equal keys never depend on input order.
    others.sort(
        key=lambda e: (
            e.accounting_date,
            e.journal_number,
            e.voucher,
            e.place,
            e.amount,
            e.text,
        )
    )
    pending.sort(key=lambda u: (u.journal_number, u.place, u.run_id, u.amount))
    return Reconciliation(
        company=company,
        month=month,
        rows=rows,
        other_entries=tuple(others),
        unposted=tuple(pending),
        totals=_totals(rows),
        accounts=kept_accounts,
    )


def _totals(rows: Iterable[PlaceRow]) -> tuple[CurrencyTotals, ...]:
    per: dict[str, list[Decimal]] = {}
    for row in rows:
        sums = per.setdefault(row.place.currency, [ZERO, ZERO, ZERO])
        sums[0] += row.register
        sums[1] += row.posted_by_connector + row.posted_by_others
        sums[2] += row.unposted
    return tuple(
        CurrencyTotals(currency, register, posted, unposted, register - posted)
        for currency, (register, posted, unposted) in sorted(per.items())
    )
