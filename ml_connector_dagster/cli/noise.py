"""Dagster's noise to a log file, the command's own words to the terminal.

Why: a command that submits a run starts a code server, and that server starts the run worker;
both write Dagster's event lines (one DEBUG line per event, about a hundred a run) and Python's
preview/beta warnings to the stdout and stderr they inherited. Finance reading `ml-connector run`
needs the progress and the result table, an engineer chasing a failure needs every line: so the
children inherit a log file under ``$DAGSTER_HOME/ml-connector/logs/`` instead of the terminal,
this process's Dagster loggers and warnings go to the same file, and the command names the file
at the end. ``--verbose`` leaves all of it on the terminal (and writes no file).

The redirection is done on the file descriptors only while the children are started
(``children_write_to``), then undone: the children keep the file, this process keeps its
terminal for the progress display.
"""

import logging
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ml_connector_dagster import clock

LOGGERS = ("dagster", "dagster_postgres", "py.warnings", "alembic")


def log_file(home: Path, command: str) -> Path:
    """``$DAGSTER_HOME/ml-connector/logs/<command>-<UTC timestamp>-<pid>.log`` (owner-only)."""
    directory = home / "ml-connector" / "logs"
    directory.mkdir(parents=True, exist_ok=True)
    stamp = clock.now().strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"{command.replace(' ', '-')}-{stamp}-{os.getpid()}.log"
    path.touch(mode=0o600)
    return path


@contextmanager
def captured(path: Path | None) -> Iterator[None]:
    """This process's Dagster loggers and Python warnings go to ``path`` (None: untouched)."""
    if path is None:
        yield
        return
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    saved = []
    for name in LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, list(logger.handlers), logger.propagate))
        logger.handlers = [handler]
        logger.propagate = False
    logging.captureWarnings(True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            yield
    finally:
        logging.captureWarnings(False)
        for logger, handlers, propagate in saved:
            logger.handlers = handlers
            logger.propagate = propagate
        handler.close()


@contextmanager
def children_write_to(path: Path | None) -> Iterator[None]:
    """Processes started inside the block inherit ``path`` as stdout and stderr (None: the
    terminal, as ``--verbose`` asks)."""
    if path is None:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    target = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        for fd in saved:
            os.dup2(target, fd)
        yield
    finally:
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)
        os.close(target)
