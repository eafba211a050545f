"""The journal of one run for one company, built a record at a time.

``build_journal`` is the entry point; ``JournalBuilder`` holds the run's line sums (by
``LineKey``) and ``RecordPosting`` one record's split over the worker's expense pieces.
"""

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from ml_connector_dagster.bulk import collector_paused
from ml_connector_dagster.config.mapping import AccountMap, LegalEntityMap, PayrollMapping
from ml_connector_dagster.ledger.allocation import allocate
from ml_connector_dagster.ledger.dimensions import (
    balance_sheet_dimensions,
    resolve_expense_dimensions,
)
from ml_connector_dagster.ledger.entries import (
    ZERO,
    AllocationSummary,
    Journal,
    JournalBuild,
    JournalIdentity,
    JournalLine,
    MappingProblem,
    account_cause,
    unmapped_to_problems,
)
from ml_connector_dagster.ledger.inputs import JobShare, PayrollRecord, PayRun, WorkerContext
from ml_connector_dagster.ledger.keys import Dimensions, LineKey, VoucherKey
from ml_connector_dagster.ledger.time_allocation import AllocationSource, choose_allocation
from ml_connector_dagster.ledger.vocabulary import JournalType, LineRole, Side

TEXT_LIMIT = 60  # LedgerJournalTrans.Text as the builder writes it

# (currency, account, dimensions) -> the workers with an amount on such a line: what the
# journal summary counts per row (``defs/payroll/assets.py``) without a second, worker-level
# build of the same run, which cost twice the build itself at 50,000 workers (issue 12).
LineWorkers = dict[tuple[str, str, Dimensions], set[str]]


def journal_dates(run: PayRun, journal_type: JournalType) -> tuple[dt.date, dt.date | None]:
    """(TransDate, reversing date): a settlement on the check date, not reversed; an accrual at
    the period end, reversed the next day."""
    if journal_type is JournalType.ACCRUAL:
        if run.period_end is None:
            raise ValueError(f"payroll run {run.id}: an accrual needs the pay period")
        return run.period_end, run.period_end + dt.timedelta(days=1)
    if run.check_date is None:
        raise ValueError(f"payroll run {run.id} has no check_date")
    return run.check_date, None


def earning_account(mapping: PayrollMapping, code: str | None, category: str | None) -> str | None:
    earnings = mapping.accounts.earnings
    if code and code in earnings.by_code:
        return earnings.by_code[code]
    if category and category in earnings.by_category:
        return earnings.by_category[category]
    return earnings.default


@dataclass(frozen=True)
class ExpensePiece:
    """One share of a worker's cost: an expense dimension combination and its weight."""

    dimensions: Dimensions
    weight: Decimal
    # What decides a remainder tie between pieces (lower first): Rippling ids, so the cents
    # do not depend on the order an API listed them in.
    tie_key: tuple[str, ...] = ()


@dataclass(frozen=True)
class Liability:
    """One credit of a record, on a balance-sheet account: what is owed, and to whom."""

    role: LineRole
    account: str
    amount: Decimal
    text: str


def record_liabilities(accounts: AccountMap, record: PayrollRecord) -> list[Liability]:
    """Taxes, deductions, garnishments and net pay owed for one record, net pay last (it
    absorbs the rounding cents when the record is split)."""
    taxes = sum((tax.amount for tax in record.taxes), ZERO)
    deductions = sum(
        (line.employee_amount + line.employer_amount for line in record.deductions), ZERO
    )
    garnishments = sum(record.garnishments, ZERO)
    return [
        Liability(LineRole.TAXES_PAYABLE, accounts.taxes_payable, taxes, "Payroll taxes payable"),
        Liability(
            LineRole.DEDUCTIONS_PAYABLE,
            accounts.deductions_payable,
            deductions,
            "Benefits and deductions payable",
        ),
        Liability(
            LineRole.GARNISHMENTS_PAYABLE,
            accounts.garnishments_payable,
            garnishments,
            "Garnishments payable",
        ),
        Liability(LineRole.NET_PAY, accounts.net_pay_clearing, record.net_pay, "Net pay clearing"),
    ]


def spread(
    amount: Decimal, weights: list[Decimal], tie_keys: list[tuple[str, ...]] | None = None
) -> list[Decimal]:
    """``amount`` split by ``weights`` in whole cents (remainder ties by ``tie_keys``); one
    weight takes it as it is."""
    return [amount] if len(weights) == 1 else allocate(amount, weights, tie_keys)


def line_text(label: str, what: str) -> str:
    return f"{label} {what}".strip()[:TEXT_LIMIT]


class JournalBuilder:
    """One run's journal for one company, built a record at a time.

    Holds what the records add up to: the amount and first text of every line (by ``LineKey``),
    the mapping problems, and which records and workers went in.
    """

    def __init__(
        self,
        run: PayRun,
        mapping: PayrollMapping,
        company: LegalEntityMap,
        workers: Mapping[str, WorkerContext],
        journal_type: JournalType = JournalType.SETTLEMENT,
        hours: Mapping[str, tuple[JobShare, ...]] | None = None,
    ) -> None:
        self.run = run
        self.mapping = mapping
        self.company = company
        self.workers = workers
        self.identity = JournalIdentity(mapping.connection, run.id, company.company, journal_type)
        # Dates first: a run that cannot be dated is refused before any record is read.
        self.trans_date, self.reverse_date = journal_dates(run, journal_type)
        self.worker_detail = mapping.journal.detail_level == "worker"
        self.liability_dimensions: Dimensions = tuple(
            sorted(balance_sheet_dimensions(mapping, company).items())
        )
        self.problems: list[MappingProblem] = []
        self.record_ids: list[str] = []
        self.worker_ids: list[str] = []
        self.amounts: dict[LineKey, Decimal] = {}
        self.texts: dict[LineKey, str] = {}
        self.line_workers: LineWorkers | None = None  # filled only when a caller asks
        # Hours per worker in this run's pay period (``time_allocation.hours_shares``), and
        # the order of the sources that place a worker's cost.
        self.hours: Mapping[str, tuple[JobShare, ...]] = hours or {}
        self.order = tuple(AllocationSource(name) for name in mapping.allocation.order)
        # (source, currency) -> (workers, [records, expense amount]): the journal's metadata.
        self.allocation: dict[tuple[str, str], tuple[set[str], list]] = {}

    # --- records ---------------------------------------------------------------------------
    def add_records(self, records: Iterable[PayrollRecord]) -> None:
        for record in records:
            self.add_record(record)

    def add_record(self, record: PayrollRecord) -> None:
        """Post one record, or only list its problems when its dimensions cannot be placed."""
        self.record_ids.append(record.id)
        self.worker_ids.append(record.worker_id)
        worker = self.workers.get(record.worker_id) or WorkerContext(worker_id=record.worker_id)
        source, pieces = self.expense_pieces(worker, record)
        if pieces:
            posting = RecordPosting(self, record, worker, pieces)
            posting.post()
            self.tally(source, record, sum(posting.debits, ZERO))

    def expense_pieces(
        self, worker: WorkerContext, record: PayrollRecord
    ) -> tuple[AllocationSource, list[ExpensePiece]]:
        """The source that places the worker (``ledger.time_allocation``) and its expense
        dimension combinations with their weights; no pieces when any of them misses a
        required dimension (each gap is listed)."""
        allocation = choose_allocation(self.order, worker, self.hours.get(record.worker_id, ()))
        shares = allocation.shares or (JobShare((), Decimal(1)),)
        pieces: list[ExpensePiece] = []
        complete = True
        for share in shares:
            values, missing = resolve_expense_dimensions(
                self.mapping, self.company, worker, share.job_codes
            )
            self.problems.extend(unmapped_to_problems(record.id, missing))
            complete = complete and not missing
            pieces.append(ExpensePiece(tuple(sorted(values.items())), share.weight, share.tie_key))
        return allocation.source, (pieces if complete else [])

    def tally(self, source: AllocationSource, record: PayrollRecord, amount: Decimal) -> None:
        """Count the record under the source that allocated it (the journal's metadata)."""
        key = (source.value, record.currency.upper())
        entry = self.allocation.get(key)
        if entry is None:
            self.allocation[key] = entry = ({record.worker_id}, [0, ZERO])
        entry[0].add(record.worker_id)
        entry[1][0] += 1
        entry[1][1] += amount

    def voucher(self, record: PayrollRecord, piece: ExpensePiece) -> VoucherKey:
        currency = record.currency.upper()
        if self.worker_detail:
            return VoucherKey(currency, worker_id=record.worker_id)
        return VoucherKey(currency, dimensions=piece.dimensions)

    def add_line(
        self,
        record: PayrollRecord,
        voucher: VoucherKey,
        account: str | None,
        dimensions: Dimensions,
        role: LineRole,
        amount: Decimal,
        item: str,
        text: str,
    ) -> None:
        """Add an amount to its line; a negative one goes positive on the opposite side, and
        an item without an account becomes a problem instead of a line."""
        if amount == 0:
            return
        if account is None:
            self.problems.append(
                MappingProblem(
                    record.worker_id, record.id, item, "main account", account_cause(item)
                )
            )
            return
        side = Side.natural(role)
        if amount < 0:
            side, amount = side.opposite, -amount
        key = LineKey(voucher, account, dimensions, role, side)
        if self.line_workers is not None:
            place = (voucher.currency, account, dimensions)
            known = self.line_workers.get(place)
            if known is None:
                self.line_workers[place] = {record.worker_id}
            else:
                known.add(record.worker_id)
        summed = self.amounts.get(key)
        if summed is None:
            self.amounts[key] = amount
            self.texts[key] = text  # the first text of a line is its text
        else:
            self.amounts[key] = summed + amount

    # --- the journal -----------------------------------------------------------------------
    def lines(self) -> list[JournalLine]:
        """The summed lines, voucher by voucher: debits before credits, then by account,
        dimensions and role."""
        prefix = f"PR{self.identity.key[:6].upper()}"
        vouchers = sorted({key.voucher for key in self.amounts}, key=lambda v: v.numbering_order)
        voucher_ids = {voucher: f"{prefix}-{n:04d}" for n, voucher in enumerate(vouchers, 1)}
        lines = [
            JournalLine(
                voucher=voucher_ids[key.voucher],
                account=key.account,
                dimensions=key.dimensions,
                currency=key.currency,
                role=key.role,
                debit=amount if key.side is Side.DEBIT else ZERO,
                credit=amount if key.side is Side.CREDIT else ZERO,
                text=self.texts[key],
            )
            for key, amount in self.amounts.items()
            if amount != 0
        ]
        lines.sort(
            key=lambda line: (
                line.voucher,
                line.credit > 0,
                line.account,
                line.dimensions,
                line.role.name,
            )
        )
        return lines

    def build(self) -> JournalBuild:
        journal = Journal(
            identity=self.identity,
            company=self.company.company,
            journal_name=self.mapping.journal.name,
            trans_date=self.trans_date,
            reverse_date=self.reverse_date,
            description=self.identity.description(self.run.check_date),
            lines=self.lines(),
            source_record_ids=list(self.record_ids),
            worker_ids=list(self.worker_ids),
            mapping_hash=self.mapping.content_hash,
        )
        allocation = [
            AllocationSummary(source, len(workers), counts[0], currency, counts[1])
            for (source, currency), (workers, counts) in sorted(self.allocation.items())
        ]
        return JournalBuild(journal, list(self.problems), allocation)


class RecordPosting:
    """One record's lines: each expense split over the worker's pieces by weight, each piece
    in its own voucher with its share of the liabilities, so every voucher balances whenever
    the record does."""

    def __init__(
        self,
        builder: JournalBuilder,
        record: PayrollRecord,
        worker: WorkerContext,
        pieces: list[ExpensePiece],
    ) -> None:
        self.builder = builder
        self.record = record
        self.pieces = pieces
        self.weights = [piece.weight for piece in pieces]
        self.tie_keys = [piece.tie_key for piece in pieces]
        self.vouchers = [builder.voucher(record, piece) for piece in pieces]
        # Expense debits per piece, unplaceable ones included: the liabilities must match them.
        self.debits = [ZERO] * len(pieces)
        self.label = (worker.number or record.worker_id) if builder.worker_detail else ""

    def post(self) -> None:
        accounts = self.builder.mapping.accounts
        for earning in self.record.earnings:
            self.expense(
                earning_account(self.builder.mapping, earning.code, earning.category),
                LineRole.EARNINGS,
                earning.amount,
                f"earning {earning.code or earning.category}",
                earning.display_name or earning.category or "Earnings",
            )
        for tax in self.record.taxes:
            if tax.employer_paid:
                self.expense(
                    accounts.employer_taxes,
                    LineRole.EMPLOYER_TAX,
                    tax.amount,
                    f"tax {tax.code}",
                    "Employer taxes",
                )
        for deduction in self.record.deductions:
            self.expense(
                accounts.employer_benefits,
                LineRole.EMPLOYER_BENEFIT,
                deduction.employer_amount,
                f"deduction {deduction.code}",
                "Employer benefits",
            )
        self.liabilities()

    def expense(
        self, account: str | None, role: LineRole, amount: Decimal, item: str, what: str
    ) -> None:
        """One expense, split by weight, each share on its piece's dimensions."""
        for index, share in enumerate(spread(amount, self.weights, self.tie_keys)):
            self.debits[index] += share
            self.line(index, account, self.pieces[index].dimensions, role, share, item, what)

    def liabilities(self) -> None:
        """Liabilities carry the legal entity's dimensions only. With several pieces, each is
        spread by the same weights and net pay absorbs the rounding cents, so that every
        voucher balances whenever the record itself balances."""
        owed = record_liabilities(self.builder.mapping.accounts, self.record)
        shares = [spread(liability.amount, self.weights, self.tie_keys) for liability in owed]
        if len(self.pieces) > 1:  # one piece takes every amount whole: no cents to move
            credits = [sum(column, ZERO) for column in zip(*shares, strict=True)]
            drift = [debit - credit for debit, credit in zip(self.debits, credits, strict=True)]
            if sum(drift, ZERO) == 0:
                shares[-1] = [share + cents for share, cents in zip(shares[-1], drift, strict=True)]
        dimensions = self.builder.liability_dimensions
        for liability, split in zip(owed, shares, strict=True):
            for index, share in enumerate(split):
                self.line(
                    index,
                    liability.account,
                    dimensions,
                    liability.role,
                    share,
                    liability.role.value,
                    liability.text,
                )

    def line(
        self,
        index: int,
        account: str | None,
        dimensions: Dimensions,
        role: LineRole,
        amount: Decimal,
        item: str,
        what: str,
    ) -> None:
        if amount == 0:  # no line, so no text to make (most records have some zero items)
            return
        self.builder.add_line(
            self.record,
            self.vouchers[index],
            account,
            dimensions,
            role,
            amount,
            item,
            line_text(self.label, what) if self.label else what.strip()[:TEXT_LIMIT],
        )


def build_journal(
    run: PayRun,
    records: Iterable[PayrollRecord],
    workers: Mapping[str, WorkerContext],
    mapping: PayrollMapping,
    company: LegalEntityMap,
    journal_type: JournalType = JournalType.SETTLEMENT,
    line_workers: LineWorkers | None = None,
    hours: Mapping[str, tuple[JobShare, ...]] | None = None,
) -> JournalBuild:
    """The journal of one run for one company, plus every mapping problem found on the way.

    ``line_workers``, when given, is filled with the workers behind each line's place;
    ``hours`` are the workers' hours per job code combination in the run's pay period."""
    builder = JournalBuilder(run, mapping, company, workers, journal_type, hours)
    builder.line_workers = line_workers
    with collector_paused():  # many objects, no cycles: see ``bulk.py``
        builder.add_records(records)
        return builder.build()
