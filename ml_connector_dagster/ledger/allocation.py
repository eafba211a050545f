"""Split an amount by weights into cents that add up exactly (largest remainder).

Rounding each share on its own can leave the parts a cent off the whole; the largest-remainder
method floors every share and hands the leftover cents to the shares with the biggest
fractional parts, so the parts always sum to the original amount.

Ties of the fractional part are decided by ``tie_keys`` (lower key first), never by the order
the parts came in: the parts come from Rippling lists whose order the API does not promise, and
the same payroll must post the same cents from one read to the next (``accounting.md``: the
lower Rippling job-assignment id, for time entries the lower job code id). Without tie keys the
earlier part wins, which is only stable when the caller's order is.
"""

from collections.abc import Hashable, Sequence
from decimal import Decimal

CENT = Decimal("0.01")


def allocate(
    amount: Decimal,
    weights: Sequence[Decimal],
    tie_keys: Sequence[Hashable] | None = None,
) -> list[Decimal]:
    """Shares of ``amount`` proportional to ``weights``, in cents, summing exactly to it.

    ``tie_keys`` (one per weight, mutually comparable) order the parts whose fractional parts
    are equal: the lower key gets the leftover cent first.
    """
    if not weights:
        raise ValueError("allocation needs at least one weight")
    if any(w < 0 for w in weights):
        raise ValueError("allocation weights must not be negative")
    if tie_keys is not None and len(tie_keys) != len(weights):
        raise ValueError("allocation needs one tie key per weight")
    if amount != amount.quantize(CENT):
        raise ValueError(f"amount {amount} is not in whole cents")
    # Exact integer arithmetic: the weights scaled to integers, so equal remainders compare
    # equal (a Decimal quotient rounds each share at its own magnitude, and could break a tie
    # by precision instead of by key).
    scale = max(0, *(-int(w.as_tuple().exponent) for w in weights))
    units = [int(w.scaleb(scale)) for w in weights]
    if sum(units) == 0:
        units = [1] * len(units)
    total = sum(units)
    sign = -1 if amount < 0 else 1
    cents = int(abs(amount) / CENT)
    floors = [cents * u // total for u in units]
    remainders = [cents * u % total for u in units]
    leftover = cents - sum(floors)
    keys = tie_keys if tie_keys is not None else range(len(weights))
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], keys[i], i))
    for i in order[:leftover]:
        floors[i] += 1
    return [sign * Decimal(c) * CENT for c in floors]
