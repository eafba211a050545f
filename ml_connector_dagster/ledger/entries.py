"""A journal and its parts as values: identity, lines, mapping problems.

What the builder produces and everything downstream (checks, posting, the audit trail) reads.
"""

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.ledger.dimensions import Unmapped, display_value
from ml_connector_dagster.ledger.keys import Dimensions
from ml_connector_dagster.ledger.vocabulary import JournalType, LineRole

ZERO = Decimal("0.00")
DESCRIPTION_LIMIT = 60  # LedgerJournalHeaders.Description


@dataclass(frozen=True)
class JournalIdentity:
    """What makes a journal unique for ever: it is never posted twice."""

    connection: str
    run_id: str
    company: str
    journal_type: JournalType
    correction: int = 0  # n > 0: the n-th correcting journal of the journal with correction 0

    @property
    def key(self) -> str:
        raw = f"{self.connection}|{self.run_id}|{self.company}|{self.journal_type.value}"
        if self.correction:
            raw += f"|correction-{self.correction}"
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    def corrected_by(self, n: int) -> "JournalIdentity":
        """The identity of this journal's n-th correcting journal (its own F&O journal)."""
        return replace(self, correction=n)

    @property
    def integration_key(self) -> str:
        """``LedgerJournalHeaders.IntegrationKey`` of every F&O journal of this identity.

        The same on every part of a split journal and independent of the check date, so any
        journal holding it counts as present whatever its description or split.
        """
        return f"mlc-{self.key}"

    @property
    def marker(self) -> str:
        """The identity in the header Description, for people and for tenants without
        IntegrationKey. Bracket-free: F&O's ``*`` wildcard runs on SQL LIKE, where ``[...]`` is a
        character class (and ``_`` one character; neither occurs here)."""
        return self.integration_key

    def description(self, check_date: dt.date | None) -> str:
        label = f"Payroll {check_date.isoformat() if check_date else ''} {self.journal_type.value}"
        text = f"{label.strip()} {self.marker}"
        return text[-DESCRIPTION_LIMIT:] if len(text) > DESCRIPTION_LIMIT else text


@dataclass(frozen=True)
class JournalLine:
    voucher: str
    account: str
    dimensions: Dimensions
    currency: str
    role: LineRole
    debit: Decimal
    credit: Decimal
    text: str

    @property
    def amount(self) -> Decimal:
        return self.debit - self.credit


@dataclass(frozen=True)
class MappingProblem:
    """Something the mapping cannot place: listed by worker and item, never posted blank."""

    worker_id: str
    record_id: str
    item: str
    missing: str
    # The root cause in finance's words, the same for every problem it explains ("Department
    # D110 is not in the mapping file"): the checks group problems by it (``ledger/causes.py``).
    cause: str = ""


@dataclass
class Journal:
    identity: JournalIdentity
    company: str
    journal_name: str
    trans_date: dt.date
    reverse_date: dt.date | None
    description: str
    lines: list[JournalLine]
    source_record_ids: list[str]
    worker_ids: list[str]
    mapping_hash: str = ""  # the mapping it was built with (PayrollMapping.content_hash)

    @property
    def total_debit(self) -> Decimal:
        return sum((line.debit for line in self.lines), ZERO)

    @property
    def total_credit(self) -> Decimal:
        return sum((line.credit for line in self.lines), ZERO)

    @property
    def currencies(self) -> tuple[str, ...]:
        return tuple(sorted({line.currency for line in self.lines}))

    def payload_hash(self) -> str:
        """A hash of exactly what would be written; changes when Rippling's data changes."""
        canonical = [
            [
                line.voucher,
                line.account,
                list(line.dimensions),
                line.currency,
                line.role.value,
                str(line.debit),
                str(line.credit),
            ]
            for line in self.lines
        ]
        body = json.dumps(
            {"trans_date": self.trans_date.isoformat(), "lines": canonical}, sort_keys=True
        )
        return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class AllocationSummary:
    """The records of a journal that one source allocated (``ledger/time_allocation.py``):
    how many workers and records, and their expense (earnings, employer taxes and employer
    contributions, signed) in one currency."""

    source: str
    workers: int
    records: int
    currency: str
    amount: Decimal


@dataclass
class JournalBuild:
    journal: Journal
    problems: list[MappingProblem] = field(default_factory=list)
    # Which source placed each worker's cost on job codes, in counts and amounts.
    allocation: list[AllocationSummary] = field(default_factory=list)


def line_display_value(mapping: PayrollMapping, line: JournalLine) -> str:
    return display_value(mapping.dimension_format, line.account, dict(line.dimensions))


def unmapped_cause(gap: Unmapped) -> str:
    """Why no mapping level gave ``gap``'s dimension, as finance fixes it: almost always a
    department the mapping file does not list (every worker of it has the same gap)."""
    if gap.department_key:
        department = f"Department {gap.department_key}" + (
            f" ({gap.department_name})" if gap.department_name else ""
        )
        if not gap.department_listed:
            return f"{department} is not in the mapping file (departments:)"
        return f"{department} has no {gap.dimension} in the mapping file (departments:)"
    return (
        f"Workers without a department in Rippling have no {gap.dimension}: give them one in"
        " Rippling, or a value per worker, job code or default in the mapping file"
    )


def account_cause(item: str) -> str:
    """Why an item has no line: the mapping file gives its kind of pay no main account."""
    return f"{item[:1].upper()}{item[1:]} has no main account in the mapping file (accounts:)"


def unmapped_to_problems(record_id: str, gaps: Iterable[Unmapped]) -> list[MappingProblem]:
    return [
        MappingProblem(
            g.worker_id,
            record_id,
            f"dimension {g.dimension}",
            f"no value from {g.looked_for}",
            unmapped_cause(g),
        )
        for g in gaps
    ]
