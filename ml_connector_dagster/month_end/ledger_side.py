"""The F&O side of a month's reconciliation: what is posted, and what of ours is not yet.

Posted entries come from every source (``dynamics/ledger_entries.py``); an entry counts as the
connector's when the journal that posted it is one of the F&O journals the audit trail records
for the company (the assumption that ``LedgerPostingJournal`` is a general journal's
``JournalBatchNumber`` is stated there). The connector's journals F&O holds but finance has not
posted yet are read line by line, so the reconciliation can say "the difference is waiting
for posting".
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from ml_connector_dagster.audit.store import AuditStore
from ml_connector_dagster.dynamics.client import DynamicsClient
from ml_connector_dagster.dynamics.ledger_entries import (
    KEYS_PER_REQUEST,
    posted_entries,
    split_display,
)
from ml_connector_dagster.dynamics.odata import all_of, any_of, eq
from ml_connector_dagster.dynamics.readers import DimensionFormat
from ml_connector_dagster.ledger.reconciliation import (
    EntrySource,
    Place,
    PostedEntry,
    UnpostedLine,
)
from ml_connector_dagster.ledger.vocabulary import JournalType
from ml_connector_dagster.month_end.month import Month
from ml_connector_dagster.posting.lines import LINE_FIELDS, LedgerLine


@dataclass(frozen=True)
class LedgerSide:
    posted: list[PostedEntry]
    unposted: list[UnpostedLine]
    # The connector's F&O journals of the company (batch number -> Rippling run id).
    journals: dict[str, str]
    # Entries of the connector's accrual journals (and their reversals): estimates, not
    # Rippling's register, so they are kept apart and shown beside the comparison.
    accruals: list[PostedEntry] = field(default_factory=list)


# Journal types that are estimates reversed later, not a pay run's settlement.
ACCRUAL_TYPES = frozenset({JournalType.ACCRUAL.value, JournalType.MONTH_END_ACCRUAL.value})


def connector_journals(store: AuditStore, company: str) -> dict[str, str]:
    """Every F&O journal the connector wrote for ``company`` (any month): batch -> run id."""
    return {
        batch: record.payroll_run_id
        for record in store.identities()
        if record.company.upper() == company.upper()
        for batch in record.journal_batch_numbers
    }


def accrual_journals(store: AuditStore, company: str) -> frozenset[str]:
    """The connector's accrual journals of ``company`` (batch numbers)."""
    return frozenset(
        batch
        for record in store.identities()
        if record.company.upper() == company.upper() and record.journal_type in ACCRUAL_TYPES
        for batch in record.journal_batch_numbers
    )


def _unposted_batches(client: DynamicsClient, company: str, batches: Iterable[str]) -> list[str]:
    wanted = sorted(set(batches))
    unposted: list[str] = []
    for start in range(0, len(wanted), KEYS_PER_REQUEST):
        chunk: list = wanted[start : start + KEYS_PER_REQUEST]
        rows = client.iter_entities(
            "LedgerJournalHeaders",
            filter=all_of(eq("dataAreaId", company.lower()), any_of("JournalBatchNumber", chunk)),
            select=["JournalBatchNumber", "IsPosted"],
        )
        unposted.extend(str(r["JournalBatchNumber"]) for r in rows if r.get("IsPosted") != "Yes")
    return sorted(unposted)


def _unposted_lines(
    client: DynamicsClient,
    company: str,
    month: Month,
    fmt: DimensionFormat,
    accounts: set[str],
    journals: dict[str, str],
) -> list[UnpostedLine]:
    lines: list[UnpostedLine] = []
    for batch in _unposted_batches(client, company, journals):
        rows = client.iter_entities(
            "LedgerJournalLines",
            filter=all_of(eq("dataAreaId", company.lower()), eq("JournalBatchNumber", batch)),
            select=list(LINE_FIELDS),
        )
        for line in map(LedgerLine.from_dynamics, rows):
            if dt.date.fromisoformat(line.trans_date) not in month:
                continue
            account, dimensions = split_display(line.account, fmt)
            if account not in accounts:
                continue
            lines.append(
                UnpostedLine(
                    place=Place(account, dimensions, line.currency.upper()),
                    amount=line.amount,
                    journal_number=batch,
                    run_id=journals[batch],
                )
            )
    return lines


def read_ledger_side(
    client: DynamicsClient,
    company: str,
    month: Month,
    fmt: DimensionFormat,
    accounts: Iterable[str],
    journals: dict[str, str],
    accruals: frozenset[str] = frozenset(),
) -> LedgerSide:
    """``accruals``: the connector's accrual journals, whose entries are set apart (see
    ``LedgerSide.accruals``) and whose unposted lines are not awaited."""
    wanted = set(accounts)
    everything = [
        PostedEntry(
            place=Place(entry.account, entry.dimensions, entry.currency.upper()),
            amount=entry.amount,
            journal_number=entry.posting_journal or entry.journal_number,
            voucher=entry.voucher,
            accounting_date=entry.accounting_date,
            text=entry.text,
            source=EntrySource.CONNECTOR
            if entry.posting_journal in journals
            else EntrySource.OTHER,
        )
        for entry in posted_entries(client, company, month.first_day, month.last_day, fmt, wanted)
    ]
    settlements = {batch: run for batch, run in journals.items() if batch not in accruals}
    unposted = _unposted_lines(client, company, month, fmt, wanted, settlements)
    return LedgerSide(
        posted=[e for e in everything if e.journal_number not in accruals],
        unposted=unposted,
        journals=journals,
        accruals=[e for e in everything if e.journal_number in accruals],
    )
