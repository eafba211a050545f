"""From one Rippling payroll run to one balanced general journal per company and journal type.

Every worker payroll record balances on its own: gross + employer taxes + employer
contributions on the debit side equal all taxes + all deductions + garnishments + net pay on the
credit side. Each record's lines go into one voucher (per expense dimension combination, or per
worker in worker detail), so every voucher balances too. Negative amounts (corrections,
reversals) are posted as positive amounts on the opposite side. Lines are then summed per
voucher, account, dimensions, currency and side.
"""

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum

from ml_connector_dagster.ledger.allocation import allocate
from ml_connector_dagster.ledger.dimensions import (
    Unmapped,
    WorkerContext,
    balance_sheet_dimensions,
    display_value,
    resolve_expense_dimensions,
)
from ml_connector_dagster.ledger.mapping import LegalEntityMap, PayrollMapping
from ml_connector_dagster.rippling.models import PayrollRun, WorkerPayrollRecord

ZERO = Decimal("0.00")
DESCRIPTION_LIMIT = 60  # LedgerJournalHeaders.Description


class JournalType(StrEnum):
    SETTLEMENT = "settlement"  # the run reached PAID
    ACCRUAL = "accrual"  # the run is APPROVED: dated at period end, reversing next period


class LineRole(StrEnum):
    """What a line stands for; reconciliation compares these with Rippling's own totals."""

    EARNINGS = "earnings"
    EMPLOYER_TAX = "employer_tax"
    EMPLOYER_BENEFIT = "employer_benefit"
    TAXES_PAYABLE = "taxes_payable"
    DEDUCTIONS_PAYABLE = "deductions_payable"
    GARNISHMENTS_PAYABLE = "garnishments_payable"
    NET_PAY = "net_pay"


DEBIT_ROLES = frozenset({LineRole.EARNINGS, LineRole.EMPLOYER_TAX, LineRole.EMPLOYER_BENEFIT})


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
    dimensions: tuple[tuple[str, str], ...]
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


@dataclass
class JournalBuild:
    journal: Journal
    problems: list[MappingProblem] = field(default_factory=list)


def _accrual_dates(run: PayrollRun) -> tuple[dt.date, dt.date]:
    if run.pay_period is None:
        raise ValueError(f"payroll run {run.id}: an accrual needs the pay period")
    end = run.pay_period.end_date
    return end, end + dt.timedelta(days=1)


def earning_account(mapping: PayrollMapping, code: str | None, category: str | None) -> str | None:
    earnings = mapping.accounts.earnings
    if code and code in earnings.by_code:
        return earnings.by_code[code]
    if category and category in earnings.by_category:
        return earnings.by_category[category]
    return earnings.default


def build_journal(
    run: PayrollRun,
    records: Iterable[WorkerPayrollRecord],
    workers: Mapping[str, WorkerContext],
    mapping: PayrollMapping,
    company: LegalEntityMap,
    journal_type: JournalType = JournalType.SETTLEMENT,
) -> JournalBuild:
    """The journal of one run for one company, plus every mapping problem found on the way."""
    identity = JournalIdentity(mapping.connection, run.id, company.company, journal_type)
    if journal_type is JournalType.ACCRUAL:
        trans_date, reverse_date = _accrual_dates(run)
    else:
        if run.check_date is None:
            raise ValueError(f"payroll run {run.id} has no check_date")
        trans_date, reverse_date = run.check_date, None
    worker_detail = mapping.journal.detail_level == "worker"
    problems: list[MappingProblem] = []
    # (voucher key, account, dims, currency, role, side) -> amount
    sums: dict[tuple, Decimal] = defaultdict(lambda: ZERO)
    texts: dict[tuple, str] = {}
    record_ids: list[str] = []
    worker_ids: list[str] = []
    liability_dims = tuple(sorted(balance_sheet_dimensions(mapping, company).items()))

    for record in records:
        record_ids.append(record.id)
        worker_ids.append(record.worker_id)
        worker = workers.get(record.worker_id) or WorkerContext(worker_id=record.worker_id)
        pieces = _expense_pieces(mapping, company, worker, record, problems)
        if not pieces:
            continue
        currency = record.currency.upper()
        label = f"{worker.number or record.worker_id}" if worker_detail else ""
        vouchers = [
            (currency, record.worker_id) if worker_detail else (currency, dims)
            for dims, _ in pieces
        ]
        weights = [weight for _, weight in pieces]
        debit_per_piece = [ZERO] * len(pieces)

        def add(
            piece: int,
            account: str | None,
            dims: tuple,
            role: LineRole,
            amount: Decimal,
            item: str,
            text: str,
            *,
            _record: WorkerPayrollRecord = record,
            _currency: str = currency,
            _vouchers: list = vouchers,
        ) -> None:
            if amount == 0:
                return
            if account is None:
                problems.append(MappingProblem(_record.worker_id, _record.id, item, "main account"))
                return
            debit_side = role in DEBIT_ROLES
            if amount < 0:
                debit_side, amount = not debit_side, -amount
            key = (_vouchers[piece], account, dims, _currency, role, "D" if debit_side else "C")
            sums[key] += amount
            texts.setdefault(key, text)

        def expense(
            account: str | None,
            role: LineRole,
            amount: Decimal,
            item: str,
            text: str,
            *,
            _weights: list = weights,
            _pieces: list = pieces,
            _debits: list = debit_per_piece,
        ) -> None:
            for index, part in enumerate(_spread(amount, _weights)):
                _debits[index] += part
                add(index, account, _pieces[index][0], role, part, item, text)

        for earning in record.earnings:
            expense(
                earning_account(mapping, earning.earning_code, earning.earning_category),
                LineRole.EARNINGS,
                earning.amount,
                f"earning {earning.earning_code or earning.earning_category}",
                _text(label, earning.display_name or earning.earning_category or "Earnings"),
            )
        for tax in record.taxes:
            if (tax.paid_by or "").upper() == "EMPLOYER":
                expense(
                    mapping.accounts.employer_taxes,
                    LineRole.EMPLOYER_TAX,
                    tax.amount,
                    f"tax {tax.tax_code}",
                    _text(label, "Employer taxes"),
                )
        for deduction in record.deductions:
            expense(
                mapping.accounts.employer_benefits,
                LineRole.EMPLOYER_BENEFIT,
                deduction.employer_amount,
                f"deduction {deduction.deduction_code}",
                _text(label, "Employer benefits"),
            )

        # Liabilities carry the legal entity's dimensions only. With several pieces, each is
        # spread by the same weights and net pay absorbs the rounding cents, so that every
        # voucher balances whenever the record itself balances.
        liabilities = _liabilities(mapping, record)
        parts = [_spread(amount, weights) for _, _, amount, _ in liabilities]
        credit_per_piece = [sum(column, ZERO) for column in zip(*parts, strict=True)]
        drift = [d - c for d, c in zip(debit_per_piece, credit_per_piece, strict=True)]
        if len(pieces) > 1 and sum(drift, ZERO) == 0:
            parts[-1] = [p + d for p, d in zip(parts[-1], drift, strict=True)]
        for (role, account, _, text), split in zip(liabilities, parts, strict=True):
            for index, part in enumerate(split):
                add(index, account, liability_dims, role, part, role.value, _text(label, text))

    lines = _to_lines(sums, texts, identity)
    description = identity.description(run.check_date)
    journal = Journal(
        identity=identity,
        company=company.company,
        journal_name=mapping.journal.name,
        trans_date=trans_date,
        reverse_date=reverse_date,
        description=description,
        lines=lines,
        source_record_ids=record_ids,
        worker_ids=worker_ids,
        mapping_hash=mapping.content_hash,
    )
    return JournalBuild(journal, problems)


def _text(label: str, what: str) -> str:
    return f"{label} {what}".strip()[:60]


def _spread(amount: Decimal, weights: list[Decimal]) -> list[Decimal]:
    return [amount] if len(weights) == 1 else allocate(amount, weights)


def _expense_pieces(
    mapping: PayrollMapping,
    company: LegalEntityMap,
    worker: WorkerContext,
    record: WorkerPayrollRecord,
    problems: list[MappingProblem],
) -> list[tuple[tuple[tuple[str, str], ...], Decimal]]:
    """The worker's expense dimension combinations with their weights (one per job code)."""
    job_codes: tuple[tuple[str | None, int], ...] = worker.job_codes or ((None, 1),)
    pieces: list[tuple[tuple[tuple[str, str], ...], Decimal]] = []
    failed = False
    for job_code, weight in job_codes:
        values, missing = resolve_expense_dimensions(mapping, company, worker, job_code)
        problems.extend(unmapped_to_problems(record.id, missing))
        failed = failed or bool(missing)
        pieces.append((tuple(sorted(values.items())), Decimal(weight)))
    return [] if failed else pieces


def _liabilities(
    mapping: PayrollMapping, record: WorkerPayrollRecord
) -> list[tuple[LineRole, str, Decimal, str]]:
    accounts = mapping.accounts
    taxes = sum((t.amount for t in record.taxes), ZERO)
    deductions = sum((d.employee_amount + d.employer_amount for d in record.deductions), ZERO)
    garnishments = sum((g.amount for g in record.garnishments), ZERO)
    return [
        (LineRole.TAXES_PAYABLE, accounts.taxes_payable, taxes, "Payroll taxes payable"),
        (
            LineRole.DEDUCTIONS_PAYABLE,
            accounts.deductions_payable,
            deductions,
            "Benefits and deductions payable",
        ),
        (
            LineRole.GARNISHMENTS_PAYABLE,
            accounts.garnishments_payable,
            garnishments,
            "Garnishments payable",
        ),
        (LineRole.NET_PAY, accounts.net_pay_clearing, record.net_pay, "Net pay clearing"),
    ]


def _to_lines(
    sums: Mapping[tuple, Decimal], texts: Mapping[tuple, str], identity: JournalIdentity
) -> list[JournalLine]:
    voucher_keys = sorted({key[0] for key in sums}, key=repr)
    voucher_ids = {
        vk: f"PR{identity.key[:6].upper()}-{n:04d}" for n, vk in enumerate(voucher_keys, 1)
    }
    lines = []
    for key in sorted(sums, key=repr):
        voucher_key, account, dims, currency, role, side = key
        amount = sums[key]
        if amount == 0:
            continue
        lines.append(
            JournalLine(
                voucher=voucher_ids[voucher_key],
                account=account,
                dimensions=dims,
                currency=currency,
                role=role,
                debit=amount if side == "D" else ZERO,
                credit=amount if side == "C" else ZERO,
                text=texts[key],
            )
        )
    lines.sort(key=lambda line: (line.voucher, line.credit > 0, line.account, line.dimensions))
    return lines


def line_display_value(mapping: PayrollMapping, line: JournalLine) -> str:
    return display_value(mapping.dimension_format, line.account, dict(line.dimensions))


def unmapped_to_problems(record_id: str, gaps: Iterable[Unmapped]) -> list[MappingProblem]:
    return [
        MappingProblem(
            g.worker_id, record_id, f"dimension {g.dimension}", f"no value from {g.looked_for}"
        )
        for g in gaps
    ]
