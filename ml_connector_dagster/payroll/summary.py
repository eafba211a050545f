"""Markdown tables a finance reviewer reads in the Dagster UI, built from snapshots and journals."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal

from ml_connector_dagster.ledger.checks import Finding, rippling_totals
from ml_connector_dagster.ledger.inputs import PayrollRecord
from ml_connector_dagster.ledger.journal import Journal

ZERO = Decimal("0.00")


def markdown_table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], limit: int = 200
) -> str:
    rows = list(rows)
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows[:limit]:
        lines.append("| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |")
    if len(rows) > limit:
        lines.append(f"| ... {len(rows) - limit} more rows | " + " | " * (len(headers) - 1))
    return "\n".join(lines)


def totals_table(records: Iterable[PayrollRecord]) -> str:
    """Rippling's own totals per currency and category."""
    totals = rippling_totals(records)
    rows = [
        (currency, role.value, f"{amount:,.2f}")
        for (currency, role), amount in sorted(totals.items())
    ]
    return markdown_table(("currency", "category", "Rippling total"), rows)


def journal_table(journals: Iterable[Journal]) -> str:
    """Journals summarized by account and department, debit and credit."""
    sums: dict[tuple, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for journal in journals:
        for line in journal.lines:
            dims = dict(line.dimensions)
            key = (
                journal.identity.run_id[-8:],
                line.currency,
                line.account,
                dims.get("Department", ""),
            )
            sums[key][0] += line.debit
            sums[key][1] += line.credit
    rows = [(*key, f"{d:,.2f}", f"{c:,.2f}") for key, (d, c) in sorted(sums.items())]
    return markdown_table(("run", "currency", "account", "department", "debit", "credit"), rows)


def findings_table(findings: Iterable[Finding]) -> str:
    rows = [(f.subject, f.item, f.expected, f.actual, f.message) for f in findings]
    return markdown_table(("subject", "item", "expected", "actual", "why"), rows)
