"""When to try a request again, and how long to wait first.

Rippling throttles with a bare 429 (no Retry-After), so its schedule is exponential backoff with
full jitter: wait a uniform draw from ``[0, min(cap, base * 2**attempt)]``. Dynamics sends
``Retry-After`` and expects exactly that wait. A Retry-After that does appear is always honoured
(bounded by ``max_wait``). The clock and the random source are injectable so tests assert the
schedule without sleeping.
"""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import httpx

from ml_connector_dagster import clock

Sleeper = Callable[[float], None]

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass
class RetryPolicy:
    """Bounded retries: ``attempts`` tries in all, waits within ``[0, cap]`` and ``max_wait``."""

    attempts: int = 8
    base: float = 1.0
    cap: float = 60.0
    max_wait: float = 300.0
    sleep: Sleeper = clock.sleep
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("a retry policy needs at least one attempt")
        if self.base <= 0 or self.cap < self.base:
            raise ValueError("retry base must be > 0 and cap >= base")

    def backoff(self, attempt: int) -> float:
        """Full-jitter wait before retry number ``attempt`` (0 for the first retry)."""
        ceiling = min(self.cap, self.base * (2**attempt))
        return self.rng.uniform(0, ceiling)

    def wait_for(self, response: httpx.Response | None, attempt: int) -> float:
        """Retry-After when the server said it, else jittered backoff."""
        if response is not None:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            if retry_after is not None:
                return min(retry_after, self.max_wait)
        return self.backoff(attempt)


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent/garbled."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now())


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUS


RETRYABLE_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.PoolTimeout,
    httpx.RemoteProtocolError,
    httpx.ReadError,
    httpx.WriteError,
)
