"""The sandbox's one clock: anchored at the company's as-of date, never the wall clock."""

import datetime as dt
import ssl

import httpx
import pytest

from ml_connector_sandbox.clock import SandboxClock, as_of_instant
from ml_connector_sandbox.server import Sandbox


class FakeElapsed:
    """Monotonic seconds a test moves by hand."""

    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


def test_clock_starts_at_the_as_of_instant_and_moves_with_elapsed_time() -> None:
    elapsed = FakeElapsed()
    start = as_of_instant(dt.date(2026, 11, 20))
    clock = SandboxClock(start, elapsed=elapsed)
    assert clock.now() == dt.datetime(2026, 11, 20, 18, 0, tzinfo=dt.UTC)
    elapsed.value += 90.5
    assert clock.now() == start + dt.timedelta(seconds=90.5)
    assert clock.today() == dt.date(2026, 11, 20)
    assert clock.advance(6 * 3600) == start + dt.timedelta(seconds=90.5 + 6 * 3600)
    assert clock.today() == dt.date(2026, 11, 21)


def test_a_frozen_clock_stands_still_and_set_jumps_back() -> None:
    elapsed = FakeElapsed()
    start = as_of_instant(dt.date(2026, 11, 20))
    clock = SandboxClock(start, elapsed=elapsed, frozen=True)
    elapsed.value += 3600
    assert clock.now() == start
    earlier = start - dt.timedelta(days=30)
    clock.set(earlier, frozen=False)
    elapsed.value += 5
    assert clock.now() == earlier + dt.timedelta(seconds=5)
    with pytest.raises(ValueError, match="aware"):
        clock.set(dt.datetime(2026, 1, 1))


def test_running_sandbox_lives_on_the_company_date_and_resets_its_clock(
    fresh_sandbox: Sandbox, sandbox_ssl: ssl.SSLContext
) -> None:
    as_of = dt.date.fromisoformat(fresh_sandbox.company["meta"]["as_of"])
    url = fresh_sandbox.urls["rippling"] + "/_sandbox/clock"
    with httpx.Client(verify=sandbox_ssl) as admin:
        now = dt.datetime.fromisoformat(admin.get(url).json()["now"])
        assert now.date() == as_of  # whatever today's real date is
        moved = admin.put(url, json={"advance_seconds": 3 * 86400}).json()
        assert dt.datetime.fromisoformat(moved["now"]).date() == as_of + dt.timedelta(days=3)
        assert fresh_sandbox.rippling.store.today() == as_of + dt.timedelta(days=3)
        assert admin.put(url, json={"now": "2026-12-01T09:00:00"}).status_code == 400
        fresh_sandbox.reset()
        after = dt.datetime.fromisoformat(admin.get(url).json()["now"])
    assert after.date() == as_of
