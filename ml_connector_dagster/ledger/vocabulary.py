"""The ledger's words: journal types, line roles and sides, as string enums.

Their values are what the audit trail, the payload hash and F&O already hold, so they never
change; a new word is a new member, never a renamed one.
"""

from enum import StrEnum


class JournalType(StrEnum):
    SETTLEMENT = "settlement"  # the run reached PAID
    ACCRUAL = "accrual"  # the run is APPROVED: dated at period end, reversing next period
    # Unpaid days of a company at a month end (``ledger.month_end_accrual``): its identity is
    # (company, month), dated at month end, reversing the next day.
    MONTH_END_ACCRUAL = "month_end_accrual"


class LineRole(StrEnum):
    """What a line stands for; reconciliation compares these with Rippling's own totals."""

    EARNINGS = "earnings"
    EMPLOYER_TAX = "employer_tax"
    EMPLOYER_BENEFIT = "employer_benefit"
    TAXES_PAYABLE = "taxes_payable"
    DEDUCTIONS_PAYABLE = "deductions_payable"
    GARNISHMENTS_PAYABLE = "garnishments_payable"
    NET_PAY = "net_pay"
    # Labor earned but not yet paid at a month end (``ledger.month_end_accrual``): a liability.
    ACCRUED_PAYROLL = "accrued_payroll"


# Roles whose natural side is the debit (expenses); every other role is a liability (credit).
DEBIT_ROLES = frozenset({LineRole.EARNINGS, LineRole.EMPLOYER_TAX, LineRole.EMPLOYER_BENEFIT})


class Side(StrEnum):
    """Which column of a line an amount lands in."""

    DEBIT = "debit"
    CREDIT = "credit"

    @classmethod
    def natural(cls, role: LineRole) -> "Side":
        return cls.DEBIT if role in DEBIT_ROLES else cls.CREDIT

    @property
    def opposite(self) -> "Side":
        return Side.CREDIT if self is Side.DEBIT else Side.DEBIT
