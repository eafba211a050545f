"""Run at the start of every Python process the tests spawn under libfaketime.

``faketime_sleep.install`` puts this directory on ``PYTHONPATH`` only when libfaketime is
preloaded, so code servers, run workers and ``dagster-daemon`` started by the tests replace
``time.sleep`` before Dagster binds it (see ``faketime_sleep.py`` for why). A
``sitecustomize`` that this one shadows (a distribution's, say) still runs afterwards.
"""

import importlib.machinery
import importlib.util
import os
import sys

import faketime_sleep

faketime_sleep.install()


def _run_shadowed() -> None:
    others = [p for p in sys.path if os.path.abspath(p or ".") != faketime_sleep.SITE_DIR]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", others)
    if spec is not None and spec.loader is not None:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))


_run_shadowed()
