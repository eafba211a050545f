"""The keys journal lines are summed by: the voucher a line belongs to, and the line in it.

Every record's lines go into one voucher per expense dimension combination (or per worker in
worker detail), and lines are summed per voucher, account, dimensions, role and side. Naming
those parts, rather than indexing a tuple, is what lets the builder read like the rule.

Both are named tuples, not dataclasses: a build sums every record's lines by ``LineKey`` (half
a million dictionary lookups at 50,000 workers), and a tuple hashes and compares in C where a
dataclass calls Python for each (issue 12: about a third of the build's CPU).
"""

from typing import NamedTuple

from ml_connector_dagster.ledger.vocabulary import LineRole, Side

# Financial dimension values in name order: (("BusinessUnit", "001"), ("Department", "D100")).
Dimensions = tuple[tuple[str, str], ...]


class VoucherKey(NamedTuple):
    """One voucher: a currency and either a worker (worker detail) or a dimension combination."""

    currency: str
    worker_id: str | None = None
    dimensions: Dimensions = ()

    @property
    def numbering_order(self) -> str:
        """Vouchers are numbered in the order of this text: the ``repr`` of the (currency,
        worker or dimensions) pair vouchers were first keyed by. It must never change: voucher
        numbers are in the payload hash of journals already posted, and a renumbering would be
        reported as a change in Rippling's data."""
        group = self.worker_id if self.worker_id is not None else self.dimensions
        return repr((self.currency, group))


class LineKey(NamedTuple):
    """One summed line of a voucher."""

    voucher: VoucherKey
    account: str
    dimensions: Dimensions
    role: LineRole
    side: Side

    @property
    def currency(self) -> str:
        return self.voucher.currency
