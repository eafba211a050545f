"""Waiting for a child process in a way that also works under libfaketime.

``Popen.wait(timeout)`` polls with ``time.sleep``, which fails with EINVAL under libfaketime
(the suite must pass with ``faketime -f '+400d'``); this polls with the connector's
``clock.sleep`` and the monotonic clock instead.
"""

import subprocess
import time

from ml_connector_dagster import clock


def wait_for_exit(process: subprocess.Popen, seconds: float = 30.0) -> int:
    """The process's exit code once it has ended; AssertionError after ``seconds``."""
    deadline = time.monotonic() + seconds
    while (code := process.poll()) is None:
        if time.monotonic() >= deadline:
            raise AssertionError(f"process {process.pid} still running after {seconds} s")
        clock.sleep(0.02)
    return code
