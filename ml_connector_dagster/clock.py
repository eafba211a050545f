"""The connector's clock: what time it is, and how to wait.

Production reads the system clock. Everything that decides by date (poll cadence, watermarks,
"today" for the workforce sync) asks ``now()`` here instead of ``datetime.now``, so a test pins
one instant with ``pinned(...)`` and passes on any calendar day.

``sleep`` waits on a ``threading.Event`` rather than ``time.sleep``: the wait is the same, and
it also works under libfaketime, whose ``clock_nanosleep`` wrapper makes ``time.sleep`` fail
with EINVAL once the wall clock is shifted (the suite is run that way to prove it does not
depend on today's date).
"""

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator

_pinned: dt.datetime | None = None


def now() -> dt.datetime:
    """The current instant, timezone-aware UTC (the pinned one inside ``pinned``)."""
    return _pinned if _pinned is not None else dt.datetime.now(dt.UTC)


def today() -> dt.date:
    return now().date()


def sleep(seconds: float) -> None:
    """Block for ``seconds`` (nothing for zero or less)."""
    if seconds > 0:
        threading.Event().wait(seconds)


@contextlib.contextmanager
def pinned(moment: dt.datetime) -> Iterator[dt.datetime]:
    """Within the block, ``now()`` is ``moment`` (tests; not for production code paths)."""
    global _pinned
    if moment.tzinfo is None:
        raise ValueError("pin the clock to an aware instant (UTC)")
    previous, _pinned = _pinned, moment.astimezone(dt.UTC)
    try:
        yield _pinned
    finally:
        _pinned = previous
