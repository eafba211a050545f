"""One partition's journals as two tables finance opens in Excel: the lines, and the totals.

The **Lines** table is the journal exactly as the connector writes it to F&O: one row per line,
in line-number order, split into the F&O journals (parts) ``posting.payloads.split_parts``
makes, with the account, each financial dimension of the mapping's format in its own column,
the names (F&O ``MainAccounts.Name``, the Rippling department) next to the codes, the header
description and the line text, debit, credit and currency. ``JournalBatchNumber`` is filled
only where F&O already holds this very content (the caller passes the numbers the audit trail
recorded for a journal whose payload hash is unchanged); before posting it is empty, because F&O
draws the number when the header is created.

The **Totals** table reconciles each journal with Rippling: per run, currency and category (the
ledger's line roles, the words of the ``reconciled`` check: ``earnings`` is gross pay,
``net_pay`` the net pay clearing...) the journal's total on the category's natural side,
Rippling's own reported total (``ledger.checks.rippling_totals``: gross, net and each record's
summary, never the line items the journal was built from), their difference (journal minus
Rippling) and whether they are equal; then the journal's total debit and total credit and
whether they are equal (balanced; not compared with Rippling: a negative amount lands on the
other side line by line, so no category total predicts them). With several runs, "all runs"
rows sum the partition.

Privacy, decided here: the file shows every line and total, also at the summary detail level
and also when a run has one worker, where the Dagster UI withholds totals
(``defs/payroll/assets.py``: ``_withhold_totals``, ``MIN_WORKERS_PER_ROW``). The UI's rule is
about who may see metadata (everyone with access to Dagster); this file is the journal itself,
line for line what F&O will hold and what finance reviews and posts there anyway, and a
preview with folded or withheld rows could not be ticked off against F&O. Its protection is who
can open it: it is written owner-only (0600, in 0700 directories, ``writers.py``), the
materialization's metadata carries its path, never an amount from it, and at the summary level
the lines are already sums per dimension combination (per worker only when finance opted into
``detail_level: worker``).
"""

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, Protocol

from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.ledger.checks import journal_totals, rippling_totals
from ml_connector_dagster.ledger.journal import ZERO, Journal, JournalBuild, LineRole
from ml_connector_dagster.payroll.names import Names as CompanyNames
from ml_connector_dagster.payroll.snapshot import PeriodSnapshot
from ml_connector_dagster.posting.payloads import JournalPart, split_parts

# The dimension whose name column is always there (finance asked for the department's name).
DEPARTMENT = "Department"
ALL_RUNS = "all runs"
TOTAL_DEBIT = "total debit"
TOTAL_CREDIT = "total credit"
YES, NO = "yes", "no"

# What each category (line role) means, in finance's words, beside the role's own name.
CATEGORY_MEANING: dict[LineRole, str] = {
    LineRole.EARNINGS: "gross earnings (Rippling gross pay)",
    LineRole.EMPLOYER_TAX: "employer taxes",
    LineRole.EMPLOYER_BENEFIT: "employer benefit contributions",
    LineRole.TAXES_PAYABLE: "taxes payable (employee and employer)",
    LineRole.DEDUCTIONS_PAYABLE: "deductions payable (employee and employer)",
    LineRole.GARNISHMENTS_PAYABLE: "garnishments payable",
    LineRole.NET_PAY: "net pay clearing (Rippling net pay)",
    LineRole.ACCRUED_PAYROLL: "accrued payroll (month-end estimate, reversed the next day)",
}

Kind = Literal["text", "money", "count", "date"]
Cell = str | Decimal | int | dt.date | None


class Names(Protocol):
    """Where the names next to the codes come from (F&O ``MainAccounts.Name``, Rippling's
    department names); "" when a code has none."""

    def account_name(self, company: str, account: str) -> str: ...

    def dimension_name(self, dimension: str, value: str) -> str: ...


@dataclass(frozen=True)
class JournalNames:
    """Names by code: ``accounts`` by (company, main account), ``dimensions`` by (dimension,
    value). Empty by default: the columns are then there and blank."""

    accounts: Mapping[tuple[str, str], str] = field(default_factory=dict)
    dimensions: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def account_name(self, company: str, account: str) -> str:
        return self.accounts.get((company.upper(), account), "")

    def dimension_name(self, dimension: str, value: str) -> str:
        return self.dimensions.get((dimension, value), "")


NO_NAMES = JournalNames()


def company_names(company: str, names: CompanyNames) -> JournalNames:
    """One company's names (``payroll.names``: F&O's account names, Rippling's department
    names) in the shape the export asks for."""
    return JournalNames(
        accounts={(company.upper(), account): name for account, name in names.accounts.items()},
        dimensions=dict(names.values),
    )


@dataclass(frozen=True)
class Column:
    name: str
    # money: Decimal (a number format with 2 decimals); count: int; date: datetime.date
    kind: Kind = "text"


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[Column, ...]
    rows: list[tuple[Cell, ...]]

    @property
    def header(self) -> list[str]:
        return [column.name for column in self.columns]


@dataclass(frozen=True)
class JournalExport:
    """The two tables of one pay period x company."""

    pay_period: str
    company: str
    lines: Table
    totals: Table

    @property
    def reconciled(self) -> bool:
        """Every category's total equals Rippling's."""
        column = self.totals.header.index("reconciled")
        return all(row[column] in (YES, None) for row in self.totals.rows)

    @property
    def balanced(self) -> bool:
        column = self.totals.header.index("balanced")
        return all(row[column] in (YES, None) for row in self.totals.rows)


def journal_export(
    pay_period: str,
    company: str,
    builds: Sequence[JournalBuild],
    snapshot: PeriodSnapshot,
    mapping: PayrollMapping,
    names: Names = NO_NAMES,
    batch_numbers: Mapping[str, Sequence[str]] | None = None,
) -> JournalExport:
    """The partition's tables. ``batch_numbers``: per journal identity key, the F&O
    JournalBatchNumbers of its parts in number order (the order the poster creates them), for
    journals F&O already holds with this content; absent: not created yet."""
    journals = [build.journal for build in builds]
    return JournalExport(
        pay_period=pay_period,
        company=company.upper(),
        lines=lines_table(journals, mapping, names, batch_numbers or {}),
        totals=totals_table(journals, snapshot),
    )


# --- lines -------------------------------------------------------------------------------------
def dimension_columns(mapping: PayrollMapping, journals: Iterable[Journal]) -> list[str]:
    """The format's financial dimensions in order, then any a line carries that the format no
    longer lists (a journal built with an earlier mapping), so no value is dropped."""
    ordered = list(mapping.dimension_format.financial_dimensions)
    extra = {
        name for journal in journals for line in journal.lines for name, _ in line.dimensions
    } - set(ordered)
    return ordered + sorted(extra)


def named_dimensions(
    dimensions: Sequence[str], journals: Iterable[Journal], names: Names
) -> list[str]:
    """The dimensions with a name column: the department always, any other when ``names``
    names one of its values in these journals."""
    values: dict[str, set[str]] = {}
    for journal in journals:
        for line in journal.lines:
            for name, value in line.dimensions:
                values.setdefault(name, set()).add(value)
    return [
        dimension
        for dimension in dimensions
        if dimension == DEPARTMENT
        or any(names.dimension_name(dimension, v) for v in values.get(dimension, ()))
    ]


def _parts(journal: Journal, max_lines: int) -> list[JournalPart]:
    """The F&O journals the poster would write; one part when a voucher is longer than a
    journal may be (the poster refuses that journal, the preview still shows it)."""
    try:
        return split_parts(journal, max_lines)
    except ValueError:
        return [JournalPart(1, 1, journal.description, tuple(journal.lines))]


def _batch_number(numbers: Sequence[str], part: JournalPart) -> str:
    if not numbers:
        return ""
    if len(numbers) == part.count:
        return numbers[part.index - 1]
    return ", ".join(numbers)  # F&O holds another split of it: every number, none guessed


def lines_table(
    journals: Sequence[Journal],
    mapping: PayrollMapping,
    names: Names = NO_NAMES,
    batch_numbers: Mapping[str, Sequence[str]] | None = None,
) -> Table:
    dimensions = dimension_columns(mapping, journals)
    named = named_dimensions(dimensions, journals, names)
    columns = (
        Column("run"),
        Column("journal type"),
        Column("date", "date"),
        Column("reverse date", "date"),
        Column("F&O journal"),
        Column("JournalBatchNumber"),
        Column("line number", "count"),
        Column("voucher"),
        Column("account"),
        Column("account name"),
        *(Column(d) for d in dimensions),
        *(Column(f"{d} name") for d in named),
        Column("category"),
        Column("description"),
        Column("text"),
        Column("debit", "money"),
        Column("credit", "money"),
        Column("currency"),
    )
    rows: list[tuple[Cell, ...]] = []
    for journal in journals:
        numbers = (batch_numbers or {}).get(journal.identity.key, ())
        for part in _parts(journal, mapping.journal.max_lines_per_journal):
            for number, line in zip(part.line_numbers, part.lines, strict=True):
                values = dict(line.dimensions)
                rows.append(
                    (
                        journal.identity.run_id,
                        journal.identity.journal_type.value,
                        journal.trans_date,
                        journal.reverse_date,
                        f"{part.index}/{part.count}",
                        _batch_number(numbers, part),
                        number,
                        line.voucher,
                        line.account,
                        names.account_name(journal.company, line.account),
                        *(values.get(d, "") for d in dimensions),
                        *(names.dimension_name(d, values.get(d, "")) for d in named),
                        line.role.value,
                        part.description,
                        line.text,
                        line.debit if line.debit else None,  # F&O's line has one side only
                        line.credit if line.credit else None,
                        line.currency,
                    )
                )
    return Table("Lines", columns, rows)


# --- totals ------------------------------------------------------------------------------------
TOTAL_COLUMNS = (
    Column("run"),
    Column("journal type"),
    Column("currency"),
    Column("category"),
    Column("meaning"),
    Column("journal", "money"),
    Column("Rippling", "money"),
    Column("difference", "money"),
    Column("reconciled"),
    Column("balanced"),
)


@dataclass
class _Sums:
    """One journal's (or all runs') totals beside Rippling's, per (currency, role)."""

    journal: dict[tuple[str, LineRole], Decimal] = field(default_factory=dict)
    rippling: dict[tuple[str, LineRole], Decimal] = field(default_factory=dict)
    debit: dict[str, Decimal] = field(default_factory=dict)
    credit: dict[str, Decimal] = field(default_factory=dict)

    def add(self, other: "_Sums") -> None:
        for mine, theirs in (
            (self.journal, other.journal),
            (self.rippling, other.rippling),
            (self.debit, other.debit),
            (self.credit, other.credit),
        ):
            for key, amount in theirs.items():
                mine[key] = mine.get(key, ZERO) + amount


def _sums(journal: Journal, snapshot: PeriodSnapshot) -> _Sums:
    sums = _Sums(
        journal=journal_totals(journal),
        rippling=rippling_totals(snapshot.records.get(journal.identity.run_id, [])),
    )
    for line in journal.lines:
        sums.debit[line.currency] = sums.debit.get(line.currency, ZERO) + line.debit
        sums.credit[line.currency] = sums.credit.get(line.currency, ZERO) + line.credit
    return sums


def _yes(flag: bool) -> str:
    return YES if flag else NO


def _rows(run: str, journal_type: str, sums: _Sums) -> list[tuple[Cell, ...]]:
    rows: list[tuple[Cell, ...]] = []
    currencies = sorted({c for c, _ in sums.journal} | {c for c, _ in sums.rippling})
    for currency in currencies:
        for role in LineRole:
            key = (currency, role)
            if key not in sums.journal and key not in sums.rippling:
                continue
            ours, theirs = sums.journal.get(key, ZERO), sums.rippling.get(key, ZERO)
            rows.append(
                (
                    run,
                    journal_type,
                    currency,
                    role.value,
                    CATEGORY_MEANING[role],
                    ours,
                    theirs,
                    ours - theirs,
                    _yes(ours == theirs),
                    None,
                )
            )
        debit, credit = sums.debit.get(currency, ZERO), sums.credit.get(currency, ZERO)
        # A line whose amount is negative lands on the other side, line by line, so Rippling's
        # category totals say nothing of the journal's debit and credit: these rows say only
        # whether the journal balances.
        for label, amount, meaning in (
            (TOTAL_DEBIT, debit, "every debit line of the journal"),
            (TOTAL_CREDIT, credit, "every credit line of the journal"),
        ):
            rows.append(
                (
                    run,
                    journal_type,
                    currency,
                    label,
                    meaning,
                    amount,
                    None,
                    None,
                    None,
                    _yes(debit == credit),
                )
            )
    return rows


def totals_table(journals: Sequence[Journal], snapshot: PeriodSnapshot) -> Table:
    rows: list[tuple[Cell, ...]] = []
    partition = _Sums()
    for journal in journals:
        sums = _sums(journal, snapshot)
        partition.add(sums)
        rows += _rows(journal.identity.run_id, journal.identity.journal_type.value, sums)
    if len(journals) > 1:
        rows += _rows(ALL_RUNS, "", partition)
    return Table("Totals", TOTAL_COLUMNS, rows)
