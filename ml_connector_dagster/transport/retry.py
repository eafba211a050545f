"""When to try a request again, and how long to wait first.

Rippling throttles with a bare 429 (no Retry-After), so its schedule is exponential backoff with
full jitter: wait a uniform draw from ``[0, min(cap, base * 2**attempt)]``. Dynamics sends
``Retry-After`` and expects exactly that wait. A Retry-After that does appear is always honoured
(bounded by ``max_wait``). The clock and the random source are injectable so tests assert the
schedule without sleeping.

Whether to try again at all is ``RetryPolicy.retry_on``: a 429 was never processed, so it is
always sent again; a server error or a lost connection is sent again only when repeating the
request cannot duplicate anything (idempotent); otherwise the outcome is *ambiguous* and the
caller must look before writing again. ``transport.send`` is the one loop that acts on it.
"""

import enum
import random
import time
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import httpx

from ml_connector_dagster import clock

Sleeper = Callable[[float], None]

# Server errors worth another try on an idempotent request. The others (501 Not Implemented,
# 505 HTTP Version Not Supported, ...) say the request itself will never work.
TRANSIENT_SERVER_ERRORS: frozenset[int] = frozenset({500, 502, 503, 504})
# Every 5xx: for a service whose reads should be retried on any server error (F&O).
ANY_SERVER_ERROR: Container[int] = range(500, 600)

# RFC 9110 section 9.2.2: sending these twice has the effect of sending them once.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


class Verdict(enum.Enum):
    """What to do with one answer (or one transport error) to one request."""

    DONE = "done"  # hand it to the caller: a result, or a refusal retrying will not change
    RETRY = "retry"  # wait, then send the same request again
    AMBIGUOUS = "ambiguous"  # a write may or may not have landed: never resend blindly


def is_idempotent(method: str) -> bool:
    return method.upper() in IDEMPOTENT_METHODS


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

    def retry_on(
        self,
        method: str,
        status: int,
        *,
        idempotent: bool | None = None,
        server_errors: Container[int] = TRANSIENT_SERVER_ERRORS,
    ) -> Verdict:
        """Whether an answer with ``status`` to ``method`` is final, worth retrying or ambiguous.

        ``idempotent`` overrides the method's standard meaning where the caller knows better
        (F&O's PATCH of the same values is harmless twice; its POST create is not). Any 5xx to
        a request that is not idempotent is ambiguous, whatever ``server_errors`` says: a proxy
        may have forwarded it before failing.
        """
        safe = is_idempotent(method) if idempotent is None else idempotent
        if status == 429:
            return Verdict.RETRY
        if 500 <= status <= 599 and not safe:
            return Verdict.AMBIGUOUS
        if status in server_errors:
            return Verdict.RETRY
        return Verdict.DONE

    def retry_on_error(
        self, method: str, error: Exception, *, idempotent: bool | None = None
    ) -> Verdict:
        """The same decision for a transport error instead of an answer.

        A connection that was never made carried nothing, so any request is sent again; once
        bytes may have left, only an idempotent request is.
        """
        if not isinstance(error, RETRYABLE_ERRORS):
            return Verdict.DONE
        safe = is_idempotent(method) if idempotent is None else idempotent
        if safe or isinstance(error, NOT_SENT_ERRORS):
            return Verdict.RETRY
        return Verdict.AMBIGUOUS


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

# Failures before the request could leave: nothing reached the server.
NOT_SENT_ERRORS: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout)
