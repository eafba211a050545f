"""What every command needs first: the settings, the mapping, the audit store, the instance.

Each is loaded by the one function of its room (``config.settings``, ``config.mapping``) and a
failure becomes a ``click.ClickException`` with that room's text, so every command reports a
missing or invalid setting the same way.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from ml_connector_dagster.audit.owner import AuditOwnerError
from ml_connector_dagster.audit.store import AuditStore
from ml_connector_dagster.config.mapping import MappingError, PayrollMapping, load_mapping
from ml_connector_dagster.config.settings import (
    ConnectorSettings,
    SettingsError,
    current_settings,
    set_dagster_home,
)
from ml_connector_dagster.connections import Connection
from ml_connector_dagster.credentials.models import CredentialsError


def settings() -> ConnectorSettings:
    try:
        return current_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def mapping(path: Path | None = None) -> PayrollMapping:
    """The mapping of ``--mapping`` or ``ML_CONNECTOR_MAPPING``, checked for this connection."""
    try:
        return load_mapping(settings(), path)
    except MappingError as exc:
        raise click.ClickException(str(exc)) from None


def connection() -> Connection:
    try:
        return Connection.from_environment()
    except (CredentialsError, SettingsError) as exc:
        raise click.ClickException(str(exc)) from None


@contextmanager
def audit_store() -> Iterator[AuditStore]:
    current = settings()
    try:
        store = AuditStore(current.audit_database_url(), connection=current.connection)
    except AuditOwnerError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        yield store
    finally:
        store.dispose()


def dagster_instance():
    """The instance of DAGSTER_HOME (prepared with the chosen template if new)."""
    import dagster as dg

    from ml_connector_dagster.instance import prepare_dagster_home

    home = prepare_dagster_home(settings().dagster_home)
    set_dagster_home(home)
    return dg.DagsterInstance.get()
