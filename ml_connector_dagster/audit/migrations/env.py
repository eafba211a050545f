"""Alembic's environment for the audit database, driven from ``audit/migrate.py``.

The store hands over its connection (``config.attributes["connection"]``) already inside a
transaction that holds the cross-process schema lock, so this runs in that transaction and
never commits itself. Developer commands may instead give a URL (``sqlalchemy.url``).
"""

import sqlalchemy as sa
from alembic import context
from sqlalchemy.engine import Connection

from ml_connector_dagster.audit.migrate import VERSION_TABLE, include_name
from ml_connector_dagster.audit.schema import metadata

config = context.config


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        include_name=include_name,
        compare_type=True,
        **kwargs,
    )


def _run_on(connection: Connection) -> None:
    # SQLite cannot ALTER most things in place: autogenerate writes batch operations for it.
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    if context.is_offline_mode():
        _configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.begin() as own:
            _run_on(own)
    finally:
        engine.dispose()


run_migrations()
