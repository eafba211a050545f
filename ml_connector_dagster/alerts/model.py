"""What an alert says: its kind, where (company, pay period), what happened, how much, a link.

An alert is told to people in finance who do not open Dagster every day, so every field is in
their words: the F&O company (``USMF``), the pay period's end date, one plain line of what
happened, the money it concerns (a ``Decimal`` with its currency, never a float) and the
Dagster run to open for details.

``dedupe_key`` makes "the same alert" exact: kind, connection, company, pay period and a
``reference`` naming the one thing it is about (a Dagster run id, a journal key). The outbox
keeps one row per key, so raising an alert again (a retried step, two processes) tells nobody
twice.
"""

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class AlertKind(StrEnum):
    """Why finance or the operator is told; stored as text in the outbox."""

    BLOCKED = "blocked"  # a check stopped a pay period: nothing was written to Dynamics
    RUN_FAILED = "run-failed"  # a connector run failed
    CORRECTION_NEEDED = "correction-needed"  # Rippling changed after the journal was created
    APPROVAL_WAITING = "approval-waiting"  # journals wait for finance's approval to post
    UNPOSTED = "unposted"  # created in F&O by the connector, not posted N days after pay date


# How each kind opens a message: what happened, in finance's words.
TITLES = {
    AlertKind.BLOCKED: "Pay period blocked, nothing was written to Dynamics",
    AlertKind.RUN_FAILED: "A connector run failed",
    AlertKind.CORRECTION_NEEDED: "A correction is needed",
    AlertKind.APPROVAL_WAITING: "Journals are waiting for approval",
    AlertKind.UNPOSTED: "Journals created in Dynamics are still not posted",
}

_PAY_PERIOD = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COMPANY = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_SUMMARY_MAX = 1000


class AlertError(ValueError):
    """An alert that cannot be told as given; the text names the field."""


@dataclass(frozen=True)
class Alert:
    """One alert. ``reference`` is what makes it unique within its kind and partition."""

    kind: AlertKind
    summary: str  # one line, plain words: what happened and what to do
    reference: str  # the Dagster run id, or the journal key, the alert is about
    company: str | None = None
    pay_period: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    run_id: str | None = None
    run_url: str | None = None
    connection: str = "default"

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", AlertKind(self.kind))
        summary = " ".join(str(self.summary).split())  # one line, whatever it was given
        if not summary:
            raise AlertError("alert summary: say what happened (it is empty)")
        object.__setattr__(self, "summary", summary[:_SUMMARY_MAX])
        if not str(self.reference).strip():
            raise AlertError("alert reference: give the run id or journal key it is about")
        if self.company is not None and not _COMPANY.match(self.company):
            raise AlertError(f"alert company {self.company!r}: expected a dataAreaId like USMF")
        if self.pay_period is not None and not _PAY_PERIOD.match(self.pay_period):
            raise AlertError(f"alert pay_period {self.pay_period!r}: expected 2026-11-15")
        if self.amount is not None:
            if not isinstance(self.amount, Decimal) or isinstance(self.amount, bool):
                raise AlertError(
                    f"alert amount must be a Decimal, got {type(self.amount).__name__}"
                )
            if not self.amount.is_finite():
                raise AlertError(f"alert amount {self.amount} is not a finite number")
            if self.currency is None or not _CURRENCY.match(self.currency):
                raise AlertError(
                    f"alert currency {self.currency!r}: an amount needs its ISO code (USD)"
                )
        elif self.currency is not None and not _CURRENCY.match(self.currency):
            raise AlertError(f"alert currency {self.currency!r}: expected an ISO code (USD)")

    @property
    def title(self) -> str:
        return TITLES[self.kind]

    @property
    def dedupe_key(self) -> str:
        parts = (self.kind, self.connection, self.company, self.pay_period, self.reference)
        return "|".join(part or "-" for part in parts)[:300]


def run_link(dagster_url: str, run_id: str) -> str:
    """The Dagster UI page of a run: ``<ML_CONNECTOR_DAGSTER_URL>/runs/<run id>``."""
    return f"{dagster_url.rstrip('/')}/runs/{run_id}"


def format_amount(amount: Decimal, currency: str) -> str:
    """``175,772.44 USD``: thousands separators, at least cents, never through a float.

    An amount with more decimals than cents keeps them all (nothing is rounded away).
    """
    exponent = amount.as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return f"{amount:,.{places}f} {currency}"
