"""``time.sleep`` that works under libfaketime, for the test suite only.

Why: the suite must pass with the calendar moved on (``FAKETIME_DONT_FAKE_MONOTONIC=1 faketime
-f '+400d' pytest ...``, issue 14). Under libfaketime, CPython's ``time.sleep`` (an absolute
``clock_nanosleep`` on the monotonic clock, which libfaketime's wrapper mistranslates) fails with
``OSError: [Errno 22] Invalid argument``, and so does everything that polls with it:
``subprocess.Popen.wait(timeout)``, Dagster's ``wait_for_grpc_server`` when a command starts its
code server, the code server's run-event loop, the run worker's executor, the daemon's threads.
Our own code already waits with ``ml_connector_dagster.clock.sleep`` (a ``threading.Event``
wait, which libfaketime leaves alone); Dagster's internals cannot be changed, so under
libfaketime, and only there, ``time.sleep`` itself is replaced by the same wait.

Production never runs under libfaketime, so nothing here is part of the product: the tests'
process installs it from ``tests/conftest.py`` and the processes they spawn (code servers, run
workers, ``dagster-daemon``, helper scripts) through ``sitecustomize.py`` beside this file,
whose directory ``install`` puts on ``PYTHONPATH``. Without libfaketime, ``install`` does
nothing at all: not the patch, not the ``PYTHONPATH`` entry.
"""

import os
import sys
import time

from ml_connector_dagster import clock

SITE_DIR = os.path.dirname(os.path.abspath(__file__))
_real_sleep = time.sleep


def under_libfaketime() -> bool:
    """Whether libfaketime is preloaded into this process (``faketime`` sets ``LD_PRELOAD``)."""
    return "faketime" in os.environ.get("LD_PRELOAD", "")


def sleep(seconds: float) -> None:
    """``time.sleep`` semantics (negative is an error, zero yields) over ``clock.sleep``."""
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    if seconds == 0:
        os.sched_yield()
        return
    clock.sleep(seconds)


def install() -> bool:
    """Under libfaketime: replace ``time.sleep`` (also where a module already bound it by
    ``from time import sleep``) and put ``SITE_DIR`` on the ``PYTHONPATH`` that child processes
    inherit. Returns whether it did; without libfaketime nothing changes."""
    if not under_libfaketime():
        return False
    time.sleep = sleep
    for module in list(sys.modules.values()):
        if module is sys.modules[__name__]:
            continue
        names = getattr(module, "__dict__", None)
        if not isinstance(names, dict):
            continue
        for name, value in list(names.items()):
            if value is _real_sleep:
                setattr(module, name, sleep)
    entries = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if SITE_DIR not in entries:
        os.environ["PYTHONPATH"] = os.pathsep.join([SITE_DIR, *entries])
    return True
