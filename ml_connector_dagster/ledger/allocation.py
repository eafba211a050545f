"""Split an amount by weights into cents that add up exactly (largest remainder).

Rounding each share on its own can leave the parts a cent off the whole; the largest-remainder
method floors every share and hands the leftover cents to the shares with the biggest
fractional parts (ties to the earlier share), so the parts always sum to the original amount.
"""

from collections.abc import Sequence
from decimal import ROUND_FLOOR, Decimal

CENT = Decimal("0.01")


def allocate(amount: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Shares of ``amount`` proportional to ``weights``, in cents, summing exactly to it."""
    if not weights:
        raise ValueError("allocation needs at least one weight")
    if any(w < 0 for w in weights):
        raise ValueError("allocation weights must not be negative")
    total_weight = sum(weights, Decimal(0))
    if total_weight == 0:
        weights = [Decimal(1)] * len(weights)
        total_weight = Decimal(len(weights))
    if amount != amount.quantize(CENT):
        raise ValueError(f"amount {amount} is not in whole cents")
    sign = -1 if amount < 0 else 1
    cents = int(abs(amount) / CENT)
    exact = [Decimal(cents) * w / total_weight for w in weights]
    floors = [int(e.to_integral_value(rounding=ROUND_FLOOR)) for e in exact]
    leftover = cents - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:leftover]:
        floors[i] += 1
    return [sign * Decimal(c) * CENT for c in floors]
