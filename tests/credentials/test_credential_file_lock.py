"""The credentials file lock: one writer at a time across processes and threads, file 0600.

Children are real subprocesses; the test waits on their output (blocking reads) and exit, never
on a timer (libfaketime breaks ``time.sleep`` and timed waits; the suite also runs under it).
"""

import os
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from ml_connector_dagster.credentials.files import locked, write_private_file

# Probes the lock without waiting (plain flock, as an earlier release took it), says whether
# it was free, then takes it through ``locked`` (waiting its turn) and appends to the log.
_CHILD = textwrap.dedent(
    """
    import fcntl, os, sys
    from pathlib import Path
    from ml_connector_dagster.credentials.files import locked

    path, log = Path(sys.argv[1]), Path(sys.argv[2])
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        print("free", flush=True)
        fcntl.flock(fd, fcntl.LOCK_UN)
    except BlockingIOError:
        print("busy", flush=True)
    finally:
        os.close(fd)
    with locked(path):
        with log.open("a") as handle:
            handle.write("child\\n")
    """
)

# Read-modify-write of a counter, many times, as the credential store's ``update`` does.
_COUNTER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from ml_connector_dagster.credentials.files import locked, write_private_file

    path, rounds = Path(sys.argv[1]), int(sys.argv[2])
    print("ready", flush=True)
    sys.stdin.read()
    for _ in range(rounds):
        with locked(path):
            write_private_file(path, str(int(path.read_text()) + 1).encode())
    """
)

posix_only = pytest.mark.skipif(os.name != "posix", reason="flock and modes are POSIX")


@posix_only
def test_another_process_waits_while_the_lock_is_held(tmp_path: Path) -> None:
    path, log = tmp_path / "private" / "credentials.enc", tmp_path / "order.log"
    with locked(path):
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(path), str(log)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout.readline().strip() == "busy"  # held here, seen there
            with log.open("a") as handle:
                handle.write("parent\n")
        except BaseException:
            child.kill()
            raise
    assert child.stdout.read() == ""
    assert child.wait() == 0
    assert log.read_text().splitlines() == ["parent", "child"]


@posix_only
def test_processes_updating_one_file_lose_no_update(tmp_path: Path) -> None:
    path = tmp_path / "private" / "counter"
    write_private_file(path, b"0")
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _COUNTER, str(path), "25"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        for child in children:
            assert child.stdout.readline().strip() == "ready"
        for child in children:
            child.stdin.close()  # go, all at once
        for child in children:
            assert child.wait() == 0
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    assert path.read_text() == "75"


def test_threads_of_one_process_take_turns(tmp_path: Path) -> None:
    """Separate lock objects in one process wait for each other instead of failing."""
    path = tmp_path / "private" / "counter"
    write_private_file(path, b"0")
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def bump() -> None:
        barrier.wait()
        try:
            for _ in range(25):
                with locked(path):
                    write_private_file(path, str(int(path.read_text()) + 1).encode())
        except BaseException as exc:  # surfaced below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert path.read_text() == "100"


@posix_only
def test_the_lock_file_is_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "private" / "credentials.enc"
    previous = os.umask(0)  # even a permissive umask does not widen it
    try:
        with locked(path):
            pass
    finally:
        os.umask(previous)
    lock_file = path.with_name("credentials.enc.lock")
    assert stat.S_IMODE(lock_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with locked(path):  # and taken again
        pass
