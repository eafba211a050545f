"""Exclusive journal claims, on SQLite and PostgreSQL, across engines, threads and processes.

No ``time.sleep`` and no timeouts on ``Popen``: libfaketime breaks both, and the suite is also
run with the calendar moved. Waiting is blocking reads, ``os.waitid`` and ``Event.wait``.
"""

import datetime as dt
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from ml_connector_dagster.audit.claims import ClaimHolder, ClaimTaken, JournalClaims, process_alive
from ml_connector_dagster.audit.store import AuditStore

T0 = dt.datetime(2026, 11, 20, 18, 0, 5, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
REPO = Path(__file__).resolve().parents[2]


class MovableClock:
    """A pinned clock the test moves forward by hand."""

    def __init__(self, at: dt.datetime = T0) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at

    def advance(self, delta: dt.timedelta) -> None:
        self.at += delta


@pytest.fixture(params=["sqlite", "postgres"])
def audit_url(request: pytest.FixtureRequest, empty_database) -> Iterator[str]:
    """A fresh audit database that several stores (engines) can open."""
    with empty_database(request.param) as url:
        yield url


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def open_store(audit_url: str, clock: MovableClock) -> Iterator[Callable[[], AuditStore]]:
    """Opens another AuditStore (its own engine) on the same database, sharing the test clock."""
    stores: list[AuditStore] = []

    def opener() -> AuditStore:
        store = AuditStore(audit_url, clock=clock)
        stores.append(store)
        return store

    yield opener
    for store in stores:
        store.dispose()


def _reaped_pid() -> int:
    """The pid of a child that has exited and been reaped: no process has it now."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_one_claimant_wins_until_it_releases(open_store, clock: MovableClock) -> None:
    first, second = open_store().claims, open_store().claims
    assert first.try_acquire("k1", HOUR) is None
    holder = second.try_acquire("k1", HOUR)
    assert holder == ClaimHolder(
        owner=first.owner,
        host=socket.gethostname(),
        pid=os.getpid(),
        claimed_at=T0,
        lease_until=T0 + HOUR,
    )
    assert holder.claimed_at.tzinfo is not None and holder.claimed_at.utcoffset() == dt.timedelta()
    assert second.holder("k1") == holder
    second.release("k1")  # not ours: left alone
    assert first.holder("k1") == holder
    assert second.try_acquire("k2", HOUR) is None  # other keys are independent
    first.release("k1")
    assert first.holder("k1") is None
    assert second.try_acquire("k1", HOUR) is None
    assert first.try_acquire("k1", HOUR).owner == second.owner


def test_reacquiring_our_claim_extends_its_lease(open_store, clock: MovableClock) -> None:
    claims = open_store().claims
    assert claims.try_acquire("k1", dt.timedelta(minutes=5)) is None
    clock.advance(dt.timedelta(minutes=2))
    assert claims.try_acquire("k1", dt.timedelta(minutes=5)) is None
    held = claims.holder("k1")
    assert held.claimed_at == T0
    assert held.lease_until == T0 + dt.timedelta(minutes=7)
    clock.advance(dt.timedelta(minutes=1))
    assert claims.renew("k1", dt.timedelta(minutes=10)) is True
    assert claims.holder("k1").lease_until == T0 + dt.timedelta(minutes=13)


def test_an_expired_lease_is_stolen_and_its_owner_cannot_renew(
    open_store, clock: MovableClock
) -> None:
    first, second = open_store().claims, open_store().claims
    assert first.try_acquire("k1", dt.timedelta(minutes=1)) is None
    clock.advance(dt.timedelta(minutes=1))  # exactly at lease_until: still valid
    assert second.try_acquire("k1", HOUR).owner == first.owner
    clock.advance(dt.timedelta(microseconds=1))
    assert second.try_acquire("k1", HOUR) is None
    stolen_at = T0 + dt.timedelta(minutes=1, microseconds=1)
    assert second.holder("k1") == ClaimHolder(
        owner=second.owner,
        host=socket.gethostname(),
        pid=os.getpid(),
        claimed_at=stolen_at,
        lease_until=stolen_at + HOUR,
    )
    assert first.renew("k1", HOUR) is False
    first.release("k1")  # must not delete the new owner's row
    assert first.holder("k1").owner == second.owner
    assert first.try_acquire("k1", HOUR).owner == second.owner


CHILD = """
import datetime as dt, sys
from ml_connector_dagster.audit.store import AuditStore
at = dt.datetime.fromisoformat(sys.argv[2])
store = AuditStore(sys.argv[1], clock=lambda: at)
holder = store.claims.try_acquire("k-child", dt.timedelta(hours=1))
print("held" if holder is None else "taken", flush=True)
sys.stdin.read()
"""


def test_a_dead_process_claim_on_this_host_is_stolen(
    open_store, audit_url: str, clock: MovableClock, tmp_path: Path
) -> None:
    claims = open_store().claims
    with (tmp_path / "child.err").open("w+") as err:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, audit_url, T0.isoformat()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            cwd=REPO,
        )
        try:
            line = child.stdout.readline().strip()
            err.seek(0)
            assert line == "held", err.read()
            # Alive, same host, lease valid (same pinned instant): not ours to take.
            holder = claims.try_acquire("k-child", HOUR)
            assert holder is not None
            assert (holder.pid, holder.host) == (child.pid, socket.gethostname())
            assert holder.lease_until == T0 + HOUR
        finally:
            child.kill()  # SIGKILL: the child cannot release anything
            child.wait()
            child.stdin.close()
            child.stdout.close()
    assert claims.try_acquire("k-child", HOUR) is None
    assert claims.holder("k-child").owner == claims.owner


def test_a_claim_from_another_host_is_not_stolen_while_its_lease_runs(
    open_store, clock: MovableClock
) -> None:
    engine = open_store().engine
    remote = JournalClaims(engine, clock, host="elsewhere", pid=999999)
    local = open_store().claims
    assert remote.try_acquire("k1", HOUR) is None
    holder = local.try_acquire("k1", HOUR)
    assert (holder.owner, holder.host, holder.pid) == (remote.owner, "elsewhere", 999999)
    clock.advance(HOUR)
    assert local.try_acquire("k1", HOUR).owner == remote.owner
    # The same dead pid on *this* host is taken at once: the pid check is for local claims only.
    dead_here = JournalClaims(engine, clock, host=local.host, pid=_reaped_pid())
    assert dead_here.try_acquire("k2", HOUR) is None
    assert local.try_acquire("k2", HOUR) is None


@pytest.mark.parametrize("before", ["free", "expired", "dead-process"])
def test_many_concurrent_claimants_exactly_one_wins(
    open_store, clock: MovableClock, before: str
) -> None:
    """8 engines race for each key; a stale claim makes them all race to steal it first."""
    claimants = 8
    keys = [f"k{i}" for i in range(4)]
    stores = [open_store() for _ in range(claimants)]
    stale: list[JournalClaims] = []
    if before != "free":
        pid = _reaped_pid() if before == "dead-process" else os.getpid()
        stale_claims = JournalClaims(stores[0].engine, clock, pid=pid)
        lease = dt.timedelta(minutes=-1) if before == "expired" else HOUR
        for key in keys:
            assert stale_claims.try_acquire(key, lease) is None
        stale.append(stale_claims)
    barrier = threading.Barrier(claimants)
    results: dict[str, list[ClaimHolder | None]] = {key: [] for key in keys}
    errors: list[BaseException] = []

    def race(claims: JournalClaims) -> None:
        try:
            for key in keys:
                barrier.wait()
                results[key].append(claims.try_acquire(key, HOUR))
        except BaseException as exc:  # surfaced below, not lost in the thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=race, args=(store.claims,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for key in keys:
        assert len(results[key]) == claimants
        assert results[key].count(None) == 1, results[key]
        winner = stores[0].claims.holder(key)
        assert winner.owner in {store.claims.owner for store in stores}
        assert {holder.owner for holder in results[key] if holder is not None} == {winner.owner}


def test_acquire_without_waiting_names_key_and_holder(open_store, clock: MovableClock) -> None:
    holder_claims = JournalClaims(open_store().engine, clock, host="web-1", pid=1234)
    holder_claims.acquire("k1", lease=HOUR, wait_seconds=0)
    other = open_store().claims
    tries: list[ClaimHolder | None] = []
    original = other.try_acquire

    def counting(journal_key: str, lease: dt.timedelta) -> ClaimHolder | None:
        tries.append(original(journal_key, lease))
        return tries[-1]

    other.try_acquire = counting
    with pytest.raises(ClaimTaken) as taken:
        other.acquire("k1", lease=HOUR, wait_seconds=0)
    assert len(tries) == 1
    assert taken.value.journal_key == "k1"
    assert taken.value.holder.owner == holder_claims.owner
    message = str(taken.value)
    assert "k1" in message and "1234" in message and "web-1" in message
    assert message == (
        "journal k1 is claimed by process 1234 on host web-1 since 2026-11-20 18:00:05 UTC"
        " (lease until 2026-11-20 19:00:05 UTC)"
    )


def test_acquire_waits_until_another_thread_releases(open_store, clock: MovableClock) -> None:
    first, second = open_store().claims, open_store().claims
    first.acquire("k1", lease=HOUR, wait_seconds=0)
    refused_once = threading.Event()
    tries: list[ClaimHolder | None] = []
    original = second.try_acquire

    def watched(journal_key: str, lease: dt.timedelta) -> ClaimHolder | None:
        tries.append(original(journal_key, lease))
        if tries[-1] is not None:
            refused_once.set()
        return tries[-1]

    second.try_acquire = watched

    def release_after_a_refusal() -> None:
        refused_once.wait(30)
        threading.Event().wait(0.05)
        first.release("k1")

    releaser = threading.Thread(target=release_after_a_refusal)
    releaser.start()
    try:
        second.acquire("k1", lease=HOUR, wait_seconds=30, poll_seconds=0.02)
    finally:
        releaser.join()
    assert tries[0] is not None and tries[0].owner == first.owner
    assert tries[-1] is None
    assert second.holder("k1").owner == second.owner


def test_held_releases_even_when_the_block_fails(open_store, clock: MovableClock) -> None:
    store = open_store()
    other = open_store().claims
    with pytest.raises(ValueError), store.claims.held("k1", lease=HOUR, wait_seconds=0):
        assert other.try_acquire("k1", HOUR).owner == store.claims.owner
        raise ValueError("posting failed")
    assert store.claims.holder("k1") is None
    with other.held("k1", lease=HOUR, wait_seconds=0), pytest.raises(ClaimTaken):
        store.claims.acquire("k1", lease=HOUR, wait_seconds=0)


def test_the_store_claims_use_the_store_clock(audit_url: str) -> None:
    at = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    store = AuditStore(audit_url, clock=lambda: at)
    try:
        store.claims.acquire("k1", lease=HOUR, wait_seconds=0)
        holder = store.claims.holder("k1")
        assert holder.claimed_at == at and holder.claimed_at.tzinfo == dt.UTC
        assert holder.lease_until == at + HOUR
        assert sa.inspect(store.engine).has_table("journal_claims")
    finally:
        store.dispose()


def test_process_alive() -> None:
    assert process_alive(os.getpid()) is True
    assert process_alive(_reaped_pid()) is False
    assert process_alive(0) is False
    # A finished child not yet reaped is a zombie: dead, though its pid still answers kill(0).
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # blocks, does not reap
        os.kill(child.pid, 0)  # the zombie still exists
        assert process_alive(child.pid) is False
    finally:
        child.wait()
