"""What became of the journals the connector created: posted by finance, and unchanged?

The connector creates journals; finance posts them in F&O, or edits them first, or leaves them.
This module compares what the audit trail says was created (``created_journals``: the latest
``created`` attempt of each journal identity, with its JournalBatchNumbers and totals) with the
headers F&O holds now (``FoHeader``: ``IsPosted`` and F&O's own totals of the lines), per
journal and per partition, and lists the journals still unposted too long after their pay date.
Pure: the reads are ``fo_headers.py`` and the audit store, the events ``defs/payroll``.

One journal may be several F&O journals (a long one is split, ``payloads.split_parts``): the
trail records the whole journal's totals, so F&O's totals are summed over its parts, and the
journal counts as posted only when every part is. A correction that replaced the lines of an
unposted journal (``corrected`` on the same JournalBatchNumbers) is what the connector created
from then on; a correcting journal (other numbers, for a journal already posted) leaves the
original as created, and is not followed here.
"""

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ml_connector_dagster.audit.store import Outcome

ZERO = Decimal("0.00")
# "Payroll 2026-11-20 settlement mlc-..." (``ledger.entries.JournalIdentity.description``)
_PAY_DATE = re.compile(r"\bPayroll (\d{4}-\d{2}-\d{2})\b")


class ObservedStatus(StrEnum):
    # The first two in the words of ``posting/status.py`` (the posting step's table).
    NOT_POSTED = "created in F&O, not posted"
    POSTED = "posted by finance in F&O"
    PARTLY_POSTED = "partly posted by finance in F&O"
    MISSING = "not found in F&O"


@dataclass(frozen=True)
class CreatedJournal:
    """A journal as the audit trail says the connector created it."""

    journal_key: str
    partition_key: str  # "USMF|2026-11-14"
    pay_period: str
    company: str
    payroll_run_id: str
    journal_type: str
    dagster_run_id: str
    batch_numbers: tuple[str, ...]
    total_debit: Decimal
    total_credit: Decimal
    records: int = 0  # Rippling payroll records behind it (one per worker of the run)


@dataclass(frozen=True)
class FoHeader:
    """One F&O journal header as read back."""

    company: str  # dataAreaId, lower case as F&O answers
    batch_number: str
    posted: bool
    total_debit: Decimal
    total_credit: Decimal
    description: str

    @classmethod
    def from_dynamics(cls, row: Mapping[str, Any]) -> "FoHeader":
        return cls(
            company=str(row["dataAreaId"]).lower(),
            batch_number=str(row["JournalBatchNumber"]),
            posted=row.get("IsPosted") == "Yes",
            total_debit=Decimal(str(row.get("JournalTotalDebit") or "0")),
            total_credit=Decimal(str(row.get("JournalTotalCredit") or "0")),
            description=str(row.get("Description") or ""),
        )


@dataclass(frozen=True)
class JournalObservation:
    created: CreatedJournal
    status: ObservedStatus
    fo_debit: Decimal | None  # None: no part of it was found
    fo_credit: Decimal | None
    missing: tuple[str, ...]  # JournalBatchNumbers F&O no longer has
    pay_date: dt.date

    @property
    def unchanged(self) -> bool:
        """F&O holds every part, with the totals the connector created."""
        return not self.missing and (self.fo_debit, self.fo_credit) == (
            self.created.total_debit,
            self.created.total_credit,
        )

    @property
    def batch_numbers(self) -> str:
        return ", ".join(self.created.batch_numbers)

    def describe_change(self) -> str:
        """One line naming the run, the journal and created vs now (for a failed check)."""
        c = self.created
        where = (
            f"journal {self.batch_numbers} of Rippling run {c.payroll_run_id} ({c.journal_type},"
            f" created by Dagster run {c.dagster_run_id or 'unknown'})"
        )
        if self.missing:
            return f"{where}: {', '.join(self.missing)} not found in F&O"
        return (
            f"{where}: created debit {c.total_debit} / credit {c.total_credit}, F&O now"
            f" debit {self.fo_debit} / credit {self.fo_credit}"
        )


@dataclass(frozen=True)
class PartitionObservation:
    partition_key: str
    journals: tuple[JournalObservation, ...]

    @property
    def status(self) -> ObservedStatus:
        """Missing if a journal is; posted when all are; partly posted when some are."""
        statuses = {j.status for j in self.journals}
        if ObservedStatus.MISSING in statuses:
            return ObservedStatus.MISSING
        if statuses == {ObservedStatus.POSTED}:
            return ObservedStatus.POSTED
        if statuses & {ObservedStatus.POSTED, ObservedStatus.PARTLY_POSTED}:
            return ObservedStatus.PARTLY_POSTED
        return ObservedStatus.NOT_POSTED

    @property
    def changed(self) -> tuple[JournalObservation, ...]:
        return tuple(j for j in self.journals if not j.unchanged)


def _batch_numbers(text: str | None) -> tuple[str, ...]:
    return tuple(n.strip() for n in (text or "").split(",") if n.strip())


def _amount(value: object, row: Mapping[str, Any], field: str) -> Decimal:
    try:
        return Decimal(str(value))
    except ArithmeticError:
        raise ValueError(
            f"audit attempt {row.get('id')} (journal {row.get('journal_key')}): {field}"
            f" {value!r} is not an amount"
        ) from None


def created_journals(attempts: Iterable[Mapping[str, Any]]) -> list[CreatedJournal]:
    """The journals the connector created, from the audit trail's attempts (in id order).

    Per journal identity the latest ``created`` attempt; a later ``corrected`` attempt on the
    same JournalBatchNumbers (its lines were replaced) becomes what was created.
    """
    latest: dict[str, CreatedJournal] = {}
    for row in sorted(attempts, key=lambda r: r["id"]):
        outcome, key = row["outcome"], row["journal_key"]
        numbers = _batch_numbers(row.get("journal_batch_number"))
        if outcome == Outcome.CORRECTED:
            earlier = latest.get(key)
            if earlier is None or set(numbers) != set(earlier.batch_numbers):
                continue  # a correcting journal: the original stays as created
        elif outcome != Outcome.CREATED:
            continue
        if not numbers:
            continue
        latest[key] = CreatedJournal(
            journal_key=key,
            partition_key=str(row.get("partition_key") or f"{row['company']}|{row['pay_period']}"),
            pay_period=str(row["pay_period"]),
            company=str(row["company"]),
            payroll_run_id=str(row["payroll_run_id"]),
            journal_type=str(row["journal_type"]),
            dagster_run_id=str(row.get("dagster_run_id") or ""),
            batch_numbers=numbers,
            total_debit=_amount(row.get("total_debit"), row, "total_debit"),
            total_credit=_amount(row.get("total_credit"), row, "total_credit"),
            records=len(row.get("source_record_ids") or ()),
        )
    return sorted(latest.values(), key=lambda j: (j.partition_key, j.payroll_run_id, j.journal_key))


def wanted_headers(journals: Iterable[CreatedJournal]) -> dict[str, list[str]]:
    """JournalBatchNumbers to read, per company (lower case, as F&O's dataAreaId)."""
    wanted: dict[str, set[str]] = {}
    for journal in journals:
        wanted.setdefault(journal.company.lower(), set()).update(journal.batch_numbers)
    return {company: sorted(numbers) for company, numbers in sorted(wanted.items())}


def pay_date_of(descriptions: Iterable[str], pay_period: str) -> dt.date:
    """The pay (check) date the connector wrote into the journal's description; the pay
    period's end date when finance has edited it away (earlier, so an alert comes no later)."""
    for description in descriptions:
        match = _PAY_DATE.search(description)
        if match:
            try:
                return dt.date.fromisoformat(match.group(1))
            except ValueError:
                continue
    return dt.date.fromisoformat(pay_period)


def observe_journal(
    journal: CreatedJournal, headers: Mapping[tuple[str, str], FoHeader]
) -> JournalObservation:
    company = journal.company.lower()
    found = [headers[(company, n)] for n in journal.batch_numbers if (company, n) in headers]
    missing = tuple(n for n in journal.batch_numbers if (company, n) not in headers)
    if missing:
        status = ObservedStatus.MISSING
    elif all(h.posted for h in found):
        status = ObservedStatus.POSTED
    elif any(h.posted for h in found):
        status = ObservedStatus.PARTLY_POSTED
    else:
        status = ObservedStatus.NOT_POSTED
    return JournalObservation(
        created=journal,
        status=status,
        fo_debit=sum((h.total_debit for h in found), ZERO) if found else None,
        fo_credit=sum((h.total_credit for h in found), ZERO) if found else None,
        missing=missing,
        pay_date=pay_date_of((h.description for h in found), journal.pay_period),
    )


def observe_partitions(
    journals: Iterable[CreatedJournal], headers: Iterable[FoHeader]
) -> list[PartitionObservation]:
    """Every created journal against F&O's headers, grouped by partition (sorted)."""
    by_key = {(h.company.lower(), h.batch_number): h for h in headers}
    grouped: dict[str, list[JournalObservation]] = {}
    for journal in journals:
        grouped.setdefault(journal.partition_key, []).append(observe_journal(journal, by_key))
    return [PartitionObservation(key, tuple(obs)) for key, obs in sorted(grouped.items())]


@dataclass(frozen=True)
class UnpostedJournal:
    """A journal created by the connector, still unposted ``days`` after its pay date: what an
    alert says (company, pay period, run, journal, amount, how long)."""

    company: str
    pay_period: str
    partition_key: str
    payroll_run_id: str
    journal_type: str
    batch_numbers: tuple[str, ...]
    pay_date: dt.date
    days_unposted: int
    total_debit: Decimal
    dagster_run_id: str
    records: int  # Rippling payroll records behind it: one is one person's pay

    def describe(self, *, show_amount: bool = True) -> str:
        """One line for an alert; ``show_amount=False`` leaves the amount out (a journal of
        one worker at the summary detail level)."""
        amount = f", debit {self.total_debit}" if show_amount else ""
        return (
            f"{self.company} pay period {self.pay_period}: journal {', '.join(self.batch_numbers)}"
            f" (Rippling run {self.payroll_run_id}, {self.journal_type}{amount}) is not posted"
            f" in F&O {self.days_unposted} days after its pay date {self.pay_date.isoformat()}"
        )


def unposted_too_long(
    partitions: Iterable[PartitionObservation], today: dt.date, days: int
) -> list[UnpostedJournal]:
    """Journals not (wholly) posted in F&O ``days`` or more days after their pay date.

    A journal F&O no longer has is not listed here: the ``unchanged_in_fo`` check names it.
    """
    result = []
    for partition in partitions:
        for obs in partition.journals:
            if obs.status not in (ObservedStatus.NOT_POSTED, ObservedStatus.PARTLY_POSTED):
                continue
            waited = (today - obs.pay_date).days
            if waited < days:
                continue
            c = obs.created
            result.append(
                UnpostedJournal(
                    company=c.company,
                    pay_period=c.pay_period,
                    partition_key=c.partition_key,
                    payroll_run_id=c.payroll_run_id,
                    journal_type=c.journal_type,
                    batch_numbers=c.batch_numbers,
                    pay_date=obs.pay_date,
                    days_unposted=waited,
                    total_debit=c.total_debit,
                    dagster_run_id=c.dagster_run_id,
                    records=c.records,
                )
            )
    return result
