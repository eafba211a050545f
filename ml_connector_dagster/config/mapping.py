"""The one way to find and load the finance mapping file of this connection.

Every reader (the Dagster resource, ``run``, ``workforce``, ``ping``, ``replay``) comes here, so
the file is found by one rule (an explicit path, else ``ML_CONNECTOR_MAPPING``), read by one
parser (``ledger.mapping``: errors by line and key) and checked against this code location's
connection by one test, with one error text for each failure.
"""

from pathlib import Path

from ml_connector_dagster.config.settings import ConnectorSettings
from ml_connector_dagster.ledger.mapping import MappingError, PayrollMapping, read_mapping_file


def mapping_path(settings: ConnectorSettings, path: Path | None = None) -> Path:
    """The mapping file to use: ``path`` if given, else ``ML_CONNECTOR_MAPPING``."""
    chosen = path or settings.mapping
    if chosen is None:
        raise MappingError("no mapping file: set ML_CONNECTOR_MAPPING or pass --mapping")
    return chosen


def load_mapping(settings: ConnectorSettings, path: Path | None = None) -> PayrollMapping:
    """The validated mapping, refused when it belongs to another connection.

    Dynamic partition names and pools carry ``ML_CONNECTOR_CONNECTION``; a mapping of another
    connection would post one connection's periods with another's accounts.
    """
    chosen = mapping_path(settings, path)
    mapping = read_mapping_file(chosen)
    if mapping.connection != settings.connection:
        raise MappingError(
            f"{chosen}: connection {mapping.connection!r} differs from ML_CONNECTOR_CONNECTION"
            f" {settings.connection!r}; the partitions of this code location belong to"
            f" {settings.connection!r}"
        )
    return mapping
