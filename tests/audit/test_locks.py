"""Named cross-process locks in the audit database (``audit/locks.py``).

The other process is a real subprocess; order comes from its output and from what the test
holds, never from a timer (the suite may run under libfaketime). Only the timeout case waits,
and its outcome does not depend on how long the wait really takes: the lock is held throughout.
"""

import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest

from ml_connector_dagster.audit.locks import LockTimeoutError, advisory_key, exclusive

BACKENDS = ["sqlite", "postgres"]
NAME = "test/lock"

# A child process: takes the lock with the given timeout; says "waiting" when it finds it busy
# (from the lock's own log record), "acquired" once held, "timeout" when it gave up.
_CHILD = textwrap.dedent(
    """
    import logging, sys
    from ml_connector_dagster.audit.locks import LockTimeoutError, exclusive

    class Say(logging.Handler):
        def emit(self, record):
            if record.msg.startswith("waiting"):
                print("waiting", flush=True)

    log = logging.getLogger("ml_connector_dagster.audit.locks")
    log.setLevel(logging.INFO)
    log.addHandler(Say())
    url, name, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
    try:
        with exclusive(url, name, timeout):
            print("acquired", flush=True)
    except LockTimeoutError as exc:
        print("timeout", exc, flush=True)
    """
)


def _child(url: str, timeout: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, url, NAME, str(timeout)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(child: subprocess.Popen[str]) -> str:
    output = child.stdout.read() if child.stdout else ""
    child.wait()
    assert child.returncode == 0, output
    return output


Database = Callable[[str], AbstractContextManager[str]]


@pytest.mark.parametrize("backend", BACKENDS)
def test_another_process_waits_until_the_holder_lets_go(
    backend: str, empty_database: Database
) -> None:
    with empty_database(backend) as url:
        with exclusive(url, NAME, timeout=5):
            child = _child(url, timeout=120)
            assert child.stdout is not None
            # It found the lock busy and is waiting: it cannot have it while we hold it.
            assert child.stdout.readline().strip() == "waiting"
        assert _finish(child).strip() == "acquired"


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_bounded_wait_ends_in_an_error_naming_the_lock_and_database(
    backend: str, empty_database: Database
) -> None:
    with empty_database(backend) as url, exclusive(url, NAME, timeout=5):
        output = _finish(_child(url, timeout=0.2))
    assert "waiting" in output
    last = output.strip().splitlines()[-1]
    assert last.startswith("timeout gave up after 0.2 s waiting for the lock 'test/lock'")
    assert "audit database" in last
    if backend == "postgres":
        assert "***@" in last  # the URL's password is hidden


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_lock_is_released_when_the_block_raises(backend: str, empty_database: Database) -> None:
    with empty_database(backend) as url:
        with pytest.raises(RuntimeError), exclusive(url, NAME, timeout=5):
            raise RuntimeError("boom")
        assert _finish(_child(url, timeout=5)).strip() == "acquired"


def test_in_memory_sqlite_excludes_the_threads_of_this_process() -> None:
    errors: list[BaseException] = []

    def contender() -> None:
        try:
            with exclusive("sqlite://", NAME, timeout=0.1):
                pass
        except LockTimeoutError as exc:
            errors.append(exc)

    with exclusive("sqlite:///:memory:", NAME, timeout=1):
        thread = threading.Thread(target=contender)
        thread.start()
        thread.join()
    assert len(errors) == 1 and "'test/lock'" in str(errors[0])
    with exclusive("sqlite://", NAME, timeout=1):
        pass  # free again


def test_the_advisory_key_is_stable_and_fits_a_bigint() -> None:
    """The key must be the same in every process (``hash()`` is salted per process)."""
    key = advisory_key("ml-connector/rippling-oauth-refresh")
    output = subprocess.run(
        [
            sys.executable,
            "-c",
            "from ml_connector_dagster.audit.locks import advisory_key;"
            " print(advisory_key('ml-connector/rippling-oauth-refresh'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert int(output) == key
    assert -(2**63) <= key < 2**63
    assert advisory_key("other") != key


def test_an_unsupported_database_is_refused() -> None:
    with pytest.raises(ValueError, match="mysql"), exclusive("mysql://u:p@h/db", NAME, 1):
        pass
