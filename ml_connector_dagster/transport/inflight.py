"""At most N requests to one service in flight at once, across every process on this machine.

A pay period's company runs may run at the same time (PostgreSQL instances allow it), each
reading Rippling's lists side by side (``ML_CONNECTOR_RIPPLING_CONCURRENCY`` per step): without
a shared cap, ten runs would have thirty requests in flight against a service that publishes no
rate limit. The cap is N lock files per service under the connection's ``in-flight/`` directory
(``$DAGSTER_HOME/ml-connector/in-flight`` with one connection): a request holds one
(``flock``, through ``filelock``) while it is sent and its answer read, and waits while all N
are held. The OS releases the lock of a process that dies, so a killed run
never keeps a slot. Retries wait (backoff, Retry-After) without holding a slot.

It covers the processes of one machine (the default run launcher's run workers, the daemon,
the CLI); run workers on several machines (Kubernetes, Docker hosts) share no directory, and
then each machine has its own N. 0 turns the cap off.
"""

import contextlib
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from ml_connector_dagster import clock

# How often a request waiting for a slot tries again (requests take tens of milliseconds).
POLL_SECONDS = 0.01


class InFlightCap:
    """``limit`` slots for requests to ``service``, shared through lock files in ``directory``."""

    def __init__(self, directory: Path, service: str, limit: int) -> None:
        if limit < 0:
            raise ValueError(f"{service}: the in-flight limit must be 0 (no cap) or more")
        self.directory = directory
        self.service = service
        self.limit = limit

    def __repr__(self) -> str:
        return f"InFlightCap({self.service!r}, limit={self.limit})"

    def _lock(self, slot: int) -> FileLock:
        return FileLock(
            self.directory / f"{self.service}.{slot}.lock",
            mode=0o600,
            preserve_lock_file=True,
            thread_local=False,
        )

    def _take(self) -> FileLock | None:
        """One free slot, held; None when all are taken."""
        for slot in range(self.limit):
            lock = self._lock(slot)
            try:
                lock.acquire(blocking=False)
            except Timeout:
                continue
            return lock
        return None

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the service's slots for the duration (wait while all are held)."""
        if self.limit == 0:
            yield
            return
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = self._take()
        while lock is None:
            clock.sleep(POLL_SECONDS)
            lock = self._take()
        try:
            yield
        finally:
            lock.release()
