"""The machine-wide cap on requests in flight per service (``transport/inflight.py``): held by
threads and processes alike, freed by a process that dies, off at 0, and on every client the
connection builds."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from processes import wait_for_exit

from ml_connector_dagster import clock
from ml_connector_dagster.connections import Connection
from ml_connector_dagster.payroll.snapshot import read_workforce
from ml_connector_dagster.transport.inflight import InFlightCap


def test_threads_never_hold_more_slots_than_the_limit(tmp_path: Path) -> None:
    cap = InFlightCap(tmp_path, "rippling", 2)
    inside, most, guard = [0], [0], threading.Lock()
    release = threading.Event()

    def request() -> None:
        with cap.slot():
            with guard:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            release.wait(10)
            with guard:
                inside[0] -= 1

    threads = [threading.Thread(target=request) for _ in range(6)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while inside[0] < 2 and time.monotonic() < deadline:
        clock.sleep(0.01)
    assert inside[0] == 2  # two got in; four wait, whatever the scheduling
    release.set()
    for thread in threads:
        thread.join(10)
    assert not any(t.is_alive() for t in threads)
    assert most[0] == 2 and inside[0] == 0


HOLDER = textwrap.dedent(
    """
    import sys, threading
    from pathlib import Path
    from ml_connector_dagster.transport.inflight import InFlightCap
    cap = InFlightCap(Path(sys.argv[1]), "dynamics", 1)
    with cap.slot():
        Path(sys.argv[2]).write_text("held")
        while not Path(sys.argv[3]).exists():
            threading.Event().wait(0.01)  # time.sleep fails under libfaketime
    """
)


def _holder(tmp_path: Path) -> tuple[subprocess.Popen, Path, Path]:
    held, go = tmp_path / "held", tmp_path / "go"
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "slots"), str(held), str(go)]
    )
    deadline = time.monotonic() + 30
    while not held.exists():
        assert process.poll() is None and time.monotonic() < deadline, "the holder did not start"
        clock.sleep(0.02)
    return process, held, go


def _waiting_request(cap: InFlightCap) -> tuple[threading.Thread, threading.Event]:
    got = threading.Event()

    def request() -> None:
        with cap.slot():
            got.set()

    thread = threading.Thread(target=request, daemon=True)
    thread.start()
    return thread, got


def test_another_process_holding_the_only_slot_makes_a_request_wait(tmp_path: Path) -> None:
    process, _, go = _holder(tmp_path)
    thread, got = _waiting_request(InFlightCap(tmp_path / "slots", "dynamics", 1))
    assert not got.wait(0.5)  # cannot get in while the other process holds the slot
    go.write_text("")
    assert wait_for_exit(process) == 0
    assert got.wait(10)
    thread.join(10)


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_a_killed_process_frees_its_slot(tmp_path: Path) -> None:
    process, _, _ = _holder(tmp_path)
    thread, got = _waiting_request(InFlightCap(tmp_path / "slots", "dynamics", 1))
    assert not got.wait(0.5)
    process.send_signal(signal.SIGKILL)  # our own child, by its handle
    wait_for_exit(process)
    assert got.wait(10)  # the OS released the dead holder's lock
    thread.join(10)


def test_a_limit_of_zero_is_no_cap(tmp_path: Path) -> None:
    cap = InFlightCap(tmp_path / "slots", "rippling", 0)
    with cap.slot(), cap.slot(), cap.slot():
        pass
    assert not (tmp_path / "slots").exists()
    with pytest.raises(ValueError, match="rippling"):
        InFlightCap(tmp_path, "rippling", -1)


def test_the_connections_clients_carry_the_configured_caps(sandbox_env, monkeypatch) -> None:
    monkeypatch.setenv("ML_CONNECTOR_RIPPLING_MAX_IN_FLIGHT", "1")
    monkeypatch.setenv("ML_CONNECTOR_DYNAMICS_MAX_IN_FLIGHT", "4")
    connection = Connection.from_environment()
    with connection.rippling() as rippling, connection.dynamics() as dynamics:
        caps = (rippling._sender.cap, dynamics._sender.cap)
        assert [(c.service, c.limit) for c in caps if c is not None] == [
            ("rippling", 1),
            ("dynamics", 4),
        ]
        assert caps[0].directory == connection.settings.dagster_home / "ml-connector/in-flight"
        # one slot, three lists read side by side: each request waits its turn, none deadlocks
        workforce = read_workforce(rippling, concurrency=3)
    assert workforce.workers
