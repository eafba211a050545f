"""Load the finance mapping and the worker-sync settings of its ``workforce:`` section."""

from pathlib import Path

from ml_connector_dagster.ledger.mapping import PayrollMapping, load_mapping
from ml_connector_dagster.workforce.settings import WorkforceSettings, workforce_settings


def load_mapping_and_settings(path: Path) -> tuple[PayrollMapping, WorkforceSettings]:
    mapping = load_mapping(path)
    return mapping, workforce_settings(mapping.workforce or None)
