"""From one payroll run to one balanced general journal per company and journal type.

Every worker payroll record balances on its own: gross + employer taxes + employer
contributions on the debit side equal all taxes + all deductions + garnishments + net pay on the
credit side. Each record's lines go into one voucher (per expense dimension combination, or per
worker in worker detail), so every voucher balances too. Negative amounts (corrections,
reversals) are posted as positive amounts on the opposite side. Lines are then summed per
voucher, account, dimensions, currency and side.

The values live in ``ledger.entries``, the building in ``ledger.builder``; this module is
where callers import both from.
"""

from ml_connector_dagster.ledger.builder import (
    ExpensePiece,
    JournalBuilder,
    Liability,
    RecordPosting,
    build_journal,
    earning_account,
    journal_dates,
    record_liabilities,
)
from ml_connector_dagster.ledger.entries import (
    DESCRIPTION_LIMIT,
    ZERO,
    Journal,
    JournalBuild,
    JournalIdentity,
    JournalLine,
    MappingProblem,
    line_display_value,
    unmapped_to_problems,
)
from ml_connector_dagster.ledger.vocabulary import DEBIT_ROLES, JournalType, LineRole

# The ledger's public face: callers import these from here, whichever module defines them.
__all__ = [
    "DEBIT_ROLES",
    "DESCRIPTION_LIMIT",
    "ZERO",
    "ExpensePiece",
    "Journal",
    "JournalBuild",
    "JournalBuilder",
    "JournalIdentity",
    "JournalLine",
    "JournalType",
    "Liability",
    "LineRole",
    "MappingProblem",
    "RecordPosting",
    "build_journal",
    "earning_account",
    "journal_dates",
    "line_display_value",
    "record_liabilities",
    "unmapped_to_problems",
]
