"""Opens the database backend of stored values: its schema, its engine, its locks.

``storage/database.py`` keeps values in a table and knows nothing of the audit store; this
module gives it what only the audit store has: the migrations (the table comes with revision
0007, applied the first time a process opens the database, as for the audit store) and the
cross-process locks (``locks.py``). One engine per database and process, reused by every
load and store of the IO manager (opening one per value would cost a connection each).

The lock an asset's read-then-store holds:

- PostgreSQL: a session advisory lock (``locks.exclusive``), which the server drops if the
  holder dies; every container sharing the database shares it.
- SQLite file: a file lock beside the database file. Not ``locks.exclusive``'s
  ``BEGIN IMMEDIATE``: that holds SQLite's write lock, and the holder's own store of the value
  it read would then wait for itself. A SQLite file serves one machine, as a file lock does.
"""

import re
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

from ml_connector_dagster.audit import locks
from ml_connector_dagster.audit.migrate import upgrade_to_head
from ml_connector_dagster.credentials.files import locked
from ml_connector_dagster.credentials.keys import KeyRing
from ml_connector_dagster.storage.codec import Codec
from ml_connector_dagster.storage.database import DatabaseBackend
from ml_connector_dagster.storage.errors import StorageError

# How long a run waits for another's read-then-store of the same asset (a company-wide
# Rippling read takes minutes at most; a holder that died has released the lock already).
LOCK_WAIT_SECONDS = 1800.0

_ENGINES: dict[str, Engine] = {}
_ENGINES_GUARD = threading.Lock()


def _engine(url: str) -> Engine:
    with _ENGINES_GUARD:
        engine = _ENGINES.get(url)
        if engine is None:
            parsed = sa.engine.make_url(url)
            backend = parsed.get_backend_name()
            if backend not in ("postgresql", "sqlite"):
                raise StorageError(
                    f"values are stored in PostgreSQL or SQLite, not {backend}"
                    f" ({locks.describe(parsed)})"
                )
            if backend == "sqlite" and parsed.database in (None, "", ":memory:"):
                raise StorageError(
                    "an in-memory SQLite database is seen by one process only: give a file"
                    " (sqlite:///path) or PostgreSQL for stored values"
                )
            connect_args = {"timeout": 30} if backend == "sqlite" else {}
            engine = sa.create_engine(url, connect_args=connect_args, pool_pre_ping=True)
            upgrade_to_head(engine)
            _ENGINES[url] = engine
        return engine


def _sqlite_lock(database: Path, name: str) -> AbstractContextManager[None]:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    return locked(database.parent / f"{database.name}.locks" / safe)


def _lock_factory(url: URL) -> Callable[[str], AbstractContextManager[None]]:
    if url.get_backend_name() == "postgresql":
        return lambda name: locks.exclusive(url, name, LOCK_WAIT_SECONDS)
    database = Path(str(url.database)).resolve()
    return lambda name: _sqlite_lock(database, name)


def database_backend(url: str, keyring: KeyRing, codec: Codec) -> DatabaseBackend:
    """The stored values in the database at ``url`` (migrated to the newest revision)."""
    engine = _engine(url)
    return DatabaseBackend(engine, keyring, codec, _lock_factory(engine.url))


def dispose_engines() -> None:
    """Close every cached engine (tests, before dropping a database they used)."""
    with _ENGINES_GUARD:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()
