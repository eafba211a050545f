"""The connector's clock: pinned in tests, an Event wait for sleeping."""

import datetime as dt
import time

import pytest

from ml_connector_dagster import clock


def test_pinned_clock_answers_the_pinned_instant_and_restores_after() -> None:
    moment = dt.datetime(2026, 11, 20, 18, tzinfo=dt.UTC)
    with clock.pinned(moment):
        assert clock.now() == moment
        assert clock.today() == dt.date(2026, 11, 20)
        with clock.pinned(moment + dt.timedelta(days=1)):
            assert clock.today() == dt.date(2026, 11, 21)
        assert clock.now() == moment
    assert clock.now() != moment
    assert clock.now().tzinfo is not None


def test_pinning_needs_an_aware_instant() -> None:
    with pytest.raises(ValueError, match="aware"), clock.pinned(dt.datetime(2026, 1, 1)):
        pass


def test_sleep_waits_and_zero_returns_at_once() -> None:
    started = time.monotonic()
    clock.sleep(0)
    clock.sleep(-1)
    assert time.monotonic() - started < 1.0
    clock.sleep(0.05)
    assert time.monotonic() - started >= 0.05
