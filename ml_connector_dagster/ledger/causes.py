"""Findings grouped by root cause, with the money each cause holds back.

One department missing from the mapping file gives a finding per worker and dimension (45
rows for 45 workers); finance fixes one line of the file. So a failed check says the cause
first ("Department D110 (Field Ops) has no Department in the mapping file: 45 workers,
175,772.44 USD"), then the rows. A finding's cause is ``Finding.cause`` (set where the rule
knows it: ``ledger.entries.unmapped_cause``, ``account_cause``, the currency and missing-amount
rules); a finding without one is its own cause.

The money a cause holds back is the labor cost (gross earnings, employer taxes and employer
contributions: the debit side) of the payroll records behind its findings, as Rippling reports
it: what would have been posted for them. Pure: the checks (``defs/payroll/checks.py``) decide
whether an amount may be shown (one worker's amount is their pay).
"""

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from ml_connector_dagster.ledger.checks import Finding, rippling_totals
from ml_connector_dagster.ledger.inputs import PayrollRecord
from ml_connector_dagster.ledger.vocabulary import DEBIT_ROLES

# The cause of a balanced or reconciled finding of a journal that fully_mapped found records
# missing from: the records left off are the difference, so fixing the mapping fixes both.
KNOCK_ON_FULLY_MAPPED = (
    "Follows from fully_mapped: records it names are not on the journal, so its totals differ;"
    " fix fully_mapped first"
)


@dataclass(frozen=True)
class Cause:
    """One root cause of a check's findings."""

    label: str
    findings: int
    workers: int  # distinct workers of the records behind it (0: it names no record)
    amounts: tuple[tuple[str, Decimal], ...]  # (currency, labor cost held back), by currency

    @property
    def knock_on(self) -> bool:
        return self.label == KNOCK_ON_FULLY_MAPPED


def labor_cost(records: Iterable[PayrollRecord]) -> dict[str, Decimal]:
    """The debit side of ``records`` per currency, by Rippling's own totals."""
    totals: Counter[str] = Counter()
    for (currency, role), amount in rippling_totals(records).items():
        if role in DEBIT_ROLES:
            totals[currency] += amount
    return {currency: Decimal(amount) for currency, amount in sorted(totals.items())}


def cause_of(finding: Finding) -> str:
    """The cause ``finding`` is grouped under: its own text when the rule named none."""
    if finding.cause:
        return finding.cause
    what = f"{finding.subject}: {finding.item}".strip(": ")
    return f"{what}: {finding.message}" if finding.message else what


def group_causes(
    findings: Iterable[Finding], records_by_id: Mapping[str, PayrollRecord]
) -> list[Cause]:
    """The causes of ``findings``: the most money held back first, then the most findings,
    then by label. A record named by several findings of one cause counts once."""
    counts: Counter[str] = Counter()
    records: dict[str, dict[str, PayrollRecord]] = {}
    for finding in findings:
        label = cause_of(finding)
        counts[label] += 1
        behind = records.setdefault(label, {})
        for record_id in finding.records:
            record = records_by_id.get(record_id)
            if record is not None:
                behind[record.id] = record
    causes = []
    for label, count in counts.items():
        behind = list(records[label].values())
        causes.append(
            Cause(
                label=label,
                findings=count,
                workers=len({record.worker_id for record in behind}),
                amounts=tuple(labor_cost(behind).items()),
            )
        )
    return sorted(causes, key=lambda c: (-sum(a for _, a in c.amounts), -c.findings, c.label))


def money(amount: Decimal, currency: str) -> str:
    """``175,772.44 USD``: grouped thousands, the currency's two decimals, never a float."""
    return f"{amount.quantize(Decimal('0.01')):,} {currency}"


def amounts_text(amounts: Iterable[tuple[str, Decimal]]) -> str:
    return ", ".join(money(amount, currency) for currency, amount in amounts)
