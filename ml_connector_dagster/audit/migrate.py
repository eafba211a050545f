"""The audit database's schema comes from Alembic migrations, applied when a store opens.

Migrations (``audit/migrations``) rather than ``metadata.create_all`` because the audit trail
outlives releases: a later column or index must reach databases that already hold years of
postings, which ``create_all`` (it only creates what is missing) never does. The Alembic
configuration is built here in code, so nothing but the package is needed at runtime.

Opening a store upgrades its database to the newest revision, however many processes start on
it at once: on PostgreSQL under a transaction-scoped advisory lock, on SQLite inside a
``BEGIN IMMEDIATE`` transaction (SQLite's own write lock on the database file); the others wait
their turn and find nothing left to do. A failure that persists after a few tries is raised.

A database that ``create_all`` made before migrations existed (our tables, no version table)
is adopted: revision 0001 is written with ``IF NOT EXISTS`` and idempotent triggers, so on such
a database it keeps every table and row, adds only what an older release lacked
(``journal_claims`` came later than the rest), and the version table then records 0001, the
same as ``alembic stamp 0001`` after filling the gaps.

The version table is ``ml_connector_alembic_version``, not Alembic's default: the audit store
may share its PostgreSQL database with Dagster's storage, which keeps its own
``alembic_version``. For the same reason autogenerate only ever looks at our own tables.

A new revision, for developers (against a scratch database already at head)::

    from alembic import command
    from ml_connector_dagster.audit.migrate import alembic_config

    config = alembic_config(url="sqlite:///scratch.sqlite")
    command.upgrade(config, "head")
    command.revision(config, message="what changes", autogenerate=True, rev_id="0002")
"""

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from ml_connector_dagster.audit.schema import metadata

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "ml_connector_alembic_version"
INITIAL_REVISION = "0001"

# Any constant shared by every process migrating this schema: a PostgreSQL advisory lock key.
_SCHEMA_LOCK = 0x6D6C_6301

# Alembic's ``context`` and ``op`` are module globals: two threads of one process migrating at
# once, even different databases, would run each other's migrations. One at a time per process.
_IN_PROCESS = threading.Lock()


def alembic_config(connection: Connection | None = None, *, url: str | None = None) -> Config:
    """Alembic's configuration, without an ini file.

    ``connection``: run on it, inside the caller's transaction (how the store migrates).
    ``url``: let ``env.py`` connect itself (developer commands, ``--sql`` output).
    """
    config = Config()
    # ConfigParser interpolates "%": a directory name holding one must not break the path.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Autogenerate's filter: our tables only (Dagster's may share the database)."""
    if type_ == "table":
        return name in metadata.tables
    return True


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at; None before its first migration."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def upgrade_to_head(engine: Engine, attempts: int = 3) -> None:
    """Bring the database behind ``engine`` to the newest revision (see the module docstring)."""
    for attempt in range(attempts):
        try:
            with _IN_PROCESS, _schema_lock(engine) as connection:
                _upgrade(connection)
            return
        except sa.exc.DBAPIError:
            if attempt + 1 == attempts:
                raise
            log.info("audit schema upgrade collided with another process; trying again")


def _upgrade(connection: Connection) -> None:
    config = alembic_config(connection)
    current = current_revision(connection)
    if current is not None and current == ScriptDirectory.from_config(config).get_current_head():
        return  # the usual case: nothing to do, and nothing to log
    if current is None:
        existing = set(sa.inspect(connection).get_table_names()) & set(metadata.tables)
        if existing:
            log.info(
                "adopting an audit database created before migrations (%s): revision %s"
                " keeps its tables and rows",
                ", ".join(sorted(existing)),
                INITIAL_REVISION,
            )
    command.upgrade(config, "head")


@contextmanager
def _schema_lock(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that only one process at a time holds."""
    url = engine.url
    if url.get_backend_name() == "postgresql":
        with engine.begin() as connection:
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
            yield connection
        return
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        # An in-memory SQLite database lives in this process alone: nobody to wait for.
        with engine.begin() as connection:
            yield connection
        return
    # pysqlite opens transactions lazily and never before DDL; a driver left in autocommit and
    # an explicit BEGIN IMMEDIATE make the whole upgrade one transaction holding the write lock.
    locked = sa.create_engine(
        url, connect_args={"timeout": 30, "isolation_level": None}, poolclass=NullPool
    )
    sa.event.listen(locked, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    try:
        with locked.begin() as connection:
            yield connection
    finally:
        locked.dispose()
