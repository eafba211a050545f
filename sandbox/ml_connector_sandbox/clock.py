"""The sandbox's one clock: every date and timestamp its services produce comes from here.

It starts at the served company's as-of instant (its ``as_of`` date, 18:00 UTC: after every
seeded timestamp, which stop at 17:00) and moves on with real elapsed time measured on the
monotonic clock, so tokens still expire and writes still get increasing timestamps. It never
reads the wall clock: a test passes the same on any calendar day, and under
``faketime '+400d'`` (which fakes the wall clock, not the monotonic one) the sandbox still lives
on the company's dates. ``set`` and ``advance`` move it (the admin endpoint ``/_sandbox/clock``
exposes both), so a test can age tokens or reach a payroll deadline without sleeping.
"""

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

AS_OF_SECOND = 18 * 3600  # the seeded data stops at as_of 17:00 UTC
DEFAULT_AS_OF = dt.date(2026, 11, 20)  # the generator's default, for a seed without meta


def as_of_instant(as_of: dt.date) -> dt.datetime:
    """The moment a company generated ``as_of`` a date is served at."""
    return dt.datetime.combine(as_of, dt.time(), tzinfo=dt.UTC) + dt.timedelta(seconds=AS_OF_SECOND)


def company_clock(company: dict[str, Any]) -> "SandboxClock":
    """A clock at the company's as-of instant (a hand-written seed without meta: the default)."""
    as_of = (company.get("meta") or {}).get("as_of")
    return SandboxClock(as_of_instant(dt.date.fromisoformat(as_of) if as_of else DEFAULT_AS_OF))


class SandboxClock:
    """A clock anchored at ``start`` that advances with ``elapsed`` (monotonic seconds)."""

    def __init__(
        self,
        start: dt.datetime,
        *,
        frozen: bool = False,
        elapsed: Callable[[], float] = time.monotonic,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("the sandbox clock needs an aware start instant (UTC)")
        self._lock = threading.Lock()
        self._elapsed = elapsed
        self._frozen = frozen
        self._anchor = start.astimezone(dt.UTC)
        self._anchored_at = elapsed()

    def now(self) -> dt.datetime:
        with self._lock:
            if self._frozen:
                return self._anchor
            return self._anchor + dt.timedelta(seconds=self._elapsed() - self._anchored_at)

    def today(self) -> dt.date:
        return self.now().date()

    def timestamp(self) -> float:
        """Seconds since the epoch on this clock (token expiry is kept in these)."""
        return self.now().timestamp()

    def set(self, moment: dt.datetime, *, frozen: bool | None = None) -> None:
        """Jump to ``moment`` (forwards or back) and go on from there."""
        if moment.tzinfo is None:
            raise ValueError("set the sandbox clock to an aware instant (UTC)")
        with self._lock:
            self._anchor = moment.astimezone(dt.UTC)
            self._anchored_at = self._elapsed()
            if frozen is not None:
                self._frozen = frozen

    def advance(self, seconds: float) -> dt.datetime:
        """Move forward by ``seconds`` and return the new now."""
        self.set(self.now() + dt.timedelta(seconds=seconds))
        return self.now()

    def describe(self) -> dict[str, object]:
        return {"now": self.now().isoformat(), "frozen": self._frozen}
