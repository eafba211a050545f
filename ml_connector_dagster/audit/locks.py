"""Named locks across processes, kept in the audit database.

Sensors, runs and the CLI are separate processes; a few things must be done by one of them at a
time (today: the Rippling OAuth refresh, whose refresh token Rippling rotates, so the second of
two overlapping refreshes would use a token that is already dead). The audit database is the one
thing all of them share, in production as in development, so the lock lives there:

- PostgreSQL: a session advisory lock (``pg_try_advisory_lock``) on a dedicated connection, its
  key derived from the name with a stable hash. The server drops it if the holder dies.
- SQLite file: a ``BEGIN IMMEDIATE`` transaction on a dedicated connection (SQLite's write lock
  on the database file, the pattern of ``migrate._schema_lock``). It also holds off the audit
  store's own writers while held; they wait (their busy timeout is 30 s), so hold it briefly.
  Every name shares that one write lock: on SQLite, different names exclude each other too.
- In-memory SQLite: the database lives in one process, so a process-local lock is enough.

Waiting is bounded and ours: non-blocking attempts polled with ``clock.sleep`` against a
monotonic deadline (``time.sleep`` and SQLite's busy handler are not used, since the suite runs
under libfaketime). The timeout error names the lock and the database (password hidden).
"""

import hashlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine
from sqlalchemy.pool import NullPool

from ml_connector_dagster import clock

log = logging.getLogger(__name__)

# Logged once when a lock is busy; tests watch for it to know another process is waiting.
WAITING_MESSAGE = "waiting for the lock %r in %s: another process holds it"

POLL_SECONDS = 0.05

_PROCESS_LOCKS: dict[str, threading.Lock] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()


class LockTimeoutError(TimeoutError):
    """The lock stayed held by someone else for longer than the caller would wait."""


def advisory_key(name: str) -> int:
    """A signed 64-bit PostgreSQL advisory lock key for ``name``, the same in every process.

    ``hash()`` is salted per process, so a digest is used; a collision with another key would
    only make two unrelated holders wait for each other, never break anything.
    """
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _url(target: str | URL | Engine) -> URL:
    if isinstance(target, Engine):
        return target.url
    return sa.engine.make_url(target)


def describe(url: URL) -> str:
    """The database for messages: never its password (an audit URL may carry one)."""
    return url.render_as_string(hide_password=True)


@contextmanager
def exclusive(target: str | URL | Engine, name: str, timeout: float) -> Iterator[None]:
    """Hold the lock ``name`` in the database ``target`` for the block, across processes.

    Waits at most ``timeout`` seconds, then raises ``LockTimeoutError``. Always a dedicated
    connection (never one from the caller's pool), released when the block ends however it
    ends. Not re-entrant: taking the same name twice in one thread waits for itself.
    """
    url = _url(target)
    backend = url.get_backend_name()
    if backend == "postgresql":
        with _postgres_lock(url, name, timeout):
            yield
    elif backend == "sqlite" and url.database in (None, "", ":memory:"):
        with _process_lock(url, name, timeout):
            yield
    elif backend == "sqlite":
        with _sqlite_lock(url, name, timeout):
            yield
    else:
        raise ValueError(
            f"no cross-process lock for a {backend} audit database: use PostgreSQL or SQLite"
        )


def _wait_for(try_once: Callable[[], bool], url: URL, name: str, timeout: float) -> None:
    """Call ``try_once`` until it takes the lock; raise once ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    if try_once():
        log.debug("took the lock %r in %s", name, describe(url))
        return
    log.info(WAITING_MESSAGE, name, describe(url))
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LockTimeoutError(
                f"gave up after {timeout:g} s waiting for the lock {name!r} in the audit database"
                f" {describe(url)}: another process (a sensor, a run or the CLI) still holds it"
            )
        clock.sleep(min(POLL_SECONDS, remaining))
        if try_once():
            log.debug("took the lock %r in %s after waiting", name, describe(url))
            return


@contextmanager
def _postgres_lock(url: URL, name: str, timeout: float) -> Iterator[None]:
    key = advisory_key(name)
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        # Autocommit: a session lock needs no transaction, and none is left open while held.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:

            def try_once() -> bool:
                query = sa.text("SELECT pg_try_advisory_lock(:key)")
                return bool(connection.execute(query, {"key": key}).scalar())

            _wait_for(try_once, url, name, timeout)
            try:
                yield
            finally:
                # Closing the connection would release it too; unlocking says so explicitly.
                connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                log.debug("released the lock %r in %s", name, describe(url))
    finally:
        engine.dispose()


@contextmanager
def _sqlite_lock(url: URL, name: str, timeout: float) -> Iterator[None]:
    # timeout=0: no busy handler, a held lock answers at once and we poll; isolation_level=None:
    # pysqlite begins nothing by itself, the BEGIN IMMEDIATE below is the only transaction.
    engine = sa.create_engine(
        url, connect_args={"timeout": 0, "isolation_level": None}, poolclass=NullPool
    )
    try:
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()

            def try_once() -> bool:
                try:
                    cursor.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as exc:
                    if "locked" in str(exc) or "busy" in str(exc):
                        return False
                    raise
                return True

            _wait_for(try_once, url, name, timeout)
            try:
                yield
            finally:
                cursor.execute("ROLLBACK")  # nothing was written: the transaction only locks
                log.debug("released the lock %r in %s", name, describe(url))
        finally:
            raw.close()
    finally:
        engine.dispose()


@contextmanager
def _process_lock(url: URL, name: str, timeout: float) -> Iterator[None]:
    with _PROCESS_LOCKS_GUARD:
        lock = _PROCESS_LOCKS.setdefault(name, threading.Lock())
    _wait_for(lambda: lock.acquire(blocking=False), url, name, timeout)
    try:
        yield
    finally:
        lock.release()
