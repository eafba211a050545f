"""Who numbers the vouchers: F&O's voucher series, or the connector.

A journal name decides how F&O gives its lines vouchers (``JournalNames.NewVoucher``):

- ``BalanceSheet`` ("In connection with balance"): a new number from the journal name's voucher
  series each time the running balance of the lines returns to zero. The connector writes its
  lines voucher by voucher, each balanced, in line-number order, so F&O's series draws exactly
  the connector's voucher boundaries (a voucher that balances part-way through is split into
  smaller balanced vouchers, never merged with the next).
- ``OneVoucher``: every line of a journal under one number. Every F&O journal the connector
  writes holds whole vouchers only, so that one voucher balances too.
- ``Manually``: F&O draws no number; each line must carry its voucher.

So the connector leaves ``Voucher`` out (F&O's series numbers it, vouchers stay balanced)
unless the journal name is ``Manually``; only then does it supply its own voucher ids. Supplying
a voucher on a journal name with a series would put numbers F&O did not draw into the ledger
and, on a tenant whose series does not allow manual numbers, be refused.
``VoucherAllocationAtPosting`` (numbers drawn only when the journal is posted) changes nothing
here: lines are still grouped by balance; ping reports it so finance knows when numbers appear.

Uncertain, and said so: no public page states what F&O's OData ``LedgerJournalLines`` does with
a supplied voucher on a series-numbered journal name; the sandbox refuses it (our reading of the
form's behaviour), which is the stricter assumption.
"""

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ml_connector_dagster.dynamics.client import DynamicsClient
from ml_connector_dagster.dynamics.odata import all_of, eq

log = logging.getLogger(__name__)


class NewVoucher(StrEnum):
    """``JournalNames.NewVoucher`` (enum NewVoucher)."""

    BALANCE = "BalanceSheet"
    ONE_VOUCHER = "OneVoucher"
    MANUAL = "Manually"


class VoucherSource(StrEnum):
    SERIES = "series"  # F&O's voucher series numbers the lines; Voucher is left out
    CONNECTOR = "connector"  # the journal name wants vouchers on the lines; the connector's ids


@dataclass(frozen=True)
class VoucherSettings:
    """A journal name's voucher settings in one company, as F&O reports them."""

    company: str
    journal_name: str
    new_voucher: str
    allocation_at_posting: bool
    series: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "VoucherSettings":
        return cls(
            company=str(row.get("dataAreaId", "")).upper(),
            journal_name=str(row.get("Name", "")),
            new_voucher=str(row.get("NewVoucher") or NewVoucher.BALANCE),
            allocation_at_posting=row.get("VoucherAllocationAtPosting") == "Yes",
            series=str(row.get("VoucherSeriesCode") or ""),
        )

    @property
    def source(self) -> VoucherSource:
        if self.new_voucher == NewVoucher.MANUAL:
            return VoucherSource.CONNECTOR
        return VoucherSource.SERIES

    def describe(self) -> str:
        """One line for ping and logs: the setting and what the connector does with it."""
        when = "at posting" if self.allocation_at_posting else "when lines are written"
        if self.source is VoucherSource.CONNECTOR:
            return (
                f"{self.journal_name} in {self.company}: new voucher {self.new_voucher};"
                " the connector supplies one voucher per balanced group"
            )
        return (
            f"{self.journal_name} in {self.company}: new voucher {self.new_voucher}, series"
            f" {self.series or '(none)'}, numbers drawn {when}; the connector leaves Voucher to"
            " F&O"
        )


def read_voucher_settings(
    client: DynamicsClient, journal_name: str, company: str
) -> VoucherSettings | None:
    """The journal name's settings in ``company``, or None when it does not exist there."""
    rows = client.list_entities(
        "JournalNames",
        filter=all_of(eq("dataAreaId", company.lower()), eq("Name", journal_name)),
    )
    return VoucherSettings.from_row(rows[0]) if rows else None
