"""Exclusive claims on journals, so only one process at a time posts a journal to Dynamics.

The claim is a row in ``journal_claims`` keyed by the journal key, in the audit database that
every process and Dagster instance shares (SQLite file or PostgreSQL). Exclusivity comes from
the database alone: acquiring is an INSERT that the primary key lets exactly one claimant win,
and taking over a stale claim is a DELETE conditional on the stale owner, so two stealers cannot
both remove it and a stealer cannot remove a claim someone else just took.

A claim is stale when its lease ran out (by the injected clock, the audit store's, which tests
pin) or when it belongs to a process on this host that is no longer running. A claim from
another host is only ever taken over after its lease: we cannot tell whether that process lives.
"""

import datetime as dt
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ml_connector_dagster import clock as connector_clock
from ml_connector_dagster.audit.schema import journal_claims

# Re-read and retry this many times when the row changes under us (a release or a steal racing
# ours); after that the last holder seen is reported as holding the claim.
_MAX_ROUNDS = 10


@dataclass(frozen=True)
class ClaimHolder:
    """Who holds a journal's claim, as stored in its row."""

    owner: str
    host: str
    pid: int
    claimed_at: dt.datetime
    lease_until: dt.datetime

    def describe(self) -> str:
        """For operators: which process to look at, and until when its lease runs."""
        return (
            f"process {self.pid} on host {self.host} since {_show(self.claimed_at)}"
            f" (lease until {_show(self.lease_until)})"
        )


class ClaimTaken(RuntimeError):
    """Another process holds the claim; the message names the journal key and the holder."""

    def __init__(self, journal_key: str, holder: ClaimHolder) -> None:
        super().__init__(f"journal {journal_key} is claimed by {holder.describe()}")
        self.journal_key = journal_key
        self.holder = holder


class JournalClaims:
    """Claims taken by one owner: this object, in this process on this host.

    Every ``JournalClaims`` object is its own owner (a random suffix), so two objects in one
    process exclude each other; callers sharing one object share its claims.
    """

    def __init__(
        self,
        engine: sa.engine.Engine,
        clock: Callable[[], dt.datetime],
        *,
        host: str | None = None,
        pid: int | None = None,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self.host = host if host is not None else socket.gethostname()
        self.pid = pid if pid is not None else os.getpid()
        self.owner = f"{self.host}:{self.pid}:{secrets.token_hex(4)}"

    def holder(self, journal_key: str) -> ClaimHolder | None:
        """The claim's current holder (possibly us, possibly stale), or None when unclaimed."""
        with self._engine.connect() as db:
            row = db.execute(
                sa.select(journal_claims).where(journal_claims.c.journal_key == journal_key)
            ).first()
        return _holder(row) if row is not None else None

    def try_acquire(self, journal_key: str, lease: dt.timedelta) -> ClaimHolder | None:
        """One attempt to hold the claim for ``lease`` from now; None means we hold it.

        Already ours: the lease is extended. Held by another: its ``ClaimHolder`` is returned,
        unless its claim is stale, which is then deleted (only if still that owner's) and the
        insert tried again.
        """
        seen: ClaimHolder | None = None
        for _ in range(_MAX_ROUNDS):
            now = self._now()
            if self.renew(journal_key, lease):
                return None
            try:
                with self._engine.begin() as db:
                    db.execute(
                        journal_claims.insert().values(
                            journal_key=journal_key,
                            owner=self.owner,
                            host=self.host,
                            pid=self.pid,
                            claimed_at=now,
                            lease_until=now + lease,
                        )
                    )
                return None
            except IntegrityError:
                pass  # someone holds it: see who
            current = self.holder(journal_key)
            if current is None or current.owner == self.owner:
                continue  # released (or taken by us) meanwhile: try again
            seen = current
            if not self._stale(current, now):
                return current
            with self._engine.begin() as db:
                db.execute(
                    journal_claims.delete().where(
                        journal_claims.c.journal_key == journal_key,
                        journal_claims.c.owner == current.owner,
                    )
                )
        if seen is None:
            seen = self.holder(journal_key)
        if seen is None or seen.owner == self.owner:
            raise RuntimeError(f"journal {journal_key}: claim kept changing, gave up")
        return seen

    def renew(self, journal_key: str, lease: dt.timedelta) -> bool:
        """Extend our lease to ``lease`` from now; False when we no longer hold the claim."""
        with self._engine.begin() as db:
            result = db.execute(
                journal_claims.update()
                .where(
                    journal_claims.c.journal_key == journal_key,
                    journal_claims.c.owner == self.owner,
                )
                .values(lease_until=self._now() + lease)
            )
        return result.rowcount == 1

    def release(self, journal_key: str) -> None:
        """Give the claim up; a claim someone else took from us is left alone."""
        with self._engine.begin() as db:
            db.execute(
                journal_claims.delete().where(
                    journal_claims.c.journal_key == journal_key,
                    journal_claims.c.owner == self.owner,
                )
            )

    def acquire(
        self,
        journal_key: str,
        *,
        lease: dt.timedelta,
        wait_seconds: float,
        poll_seconds: float = 1.0,
    ) -> None:
        """Hold the claim, waiting up to ``wait_seconds`` (0: one try); else ``ClaimTaken``.

        The wait is measured on the monotonic clock and slept with the connector's
        ``clock.sleep`` (``time.sleep`` fails under libfaketime).
        """
        deadline = time.monotonic() + wait_seconds
        while True:
            holder = self.try_acquire(journal_key, lease)
            if holder is None:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ClaimTaken(journal_key, holder)
            connector_clock.sleep(min(poll_seconds, remaining))

    @contextmanager
    def held(self, journal_key: str, *, lease: dt.timedelta, wait_seconds: float) -> Iterator[None]:
        """The claim, held for the block and released however the block ends."""
        self.acquire(journal_key, lease=lease, wait_seconds=wait_seconds)
        try:
            yield
        finally:
            self.release(journal_key)

    def _now(self) -> dt.datetime:
        return _utc(self._clock())

    def _stale(self, holder: ClaimHolder, now: dt.datetime) -> bool:
        if holder.lease_until < now:
            return True
        return holder.host == self.host and not process_alive(holder.pid)


def process_alive(pid: int) -> bool:
    """Whether ``pid`` is a running process on this host (a zombie has finished: dead)."""
    if pid <= 0:
        return False  # 0 and negatives would signal process groups, not a process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    except OverflowError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc here (or it vanished): trust the signal check
    # "pid (comm) state ...": comm may hold spaces and parentheses, so split after the last ")".
    fields = stat.rpartition(")")[2].split()
    return not (fields and fields[0] == "Z")


def _holder(row: Any) -> ClaimHolder:
    m = row._mapping
    return ClaimHolder(
        owner=m["owner"],
        host=m["host"],
        pid=int(m["pid"]),
        claimed_at=_utc(m["claimed_at"]),
        lease_until=_utc(m["lease_until"]),
    )


def _utc(moment: dt.datetime) -> dt.datetime:
    """Aware UTC; SQLite hands back the stored UTC values naive."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _show(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
