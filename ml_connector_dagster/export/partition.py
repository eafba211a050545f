"""Where a partition's journal preview lives, and writing it there from the journals' step.

``<connection directory>/exports/<pay_period>/<COMPANY>.xlsx`` (``$DAGSTER_HOME/ml-connector/``
with one connection), beside the audit store's default SQLite file: the labor-cost journals
step writes it after its checks pass and puts the path in the materialization's metadata
(``MetadataValue.path``), so the UI says where the file finance opens is. Each materialization
replaces the file (atomically); the directories are 0700 and the file 0600, like the stored
values (it holds the same journal, in clear: Excel cannot open a sealed value). A step that
blocks removes the file (``remove_partition_export``), so what sits there is always the
journal of the partition's latest materialization.
"""

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.export.journal import NO_NAMES, Names, journal_export
from ml_connector_dagster.export.writers import write_xlsx
from ml_connector_dagster.ledger.journal import JournalBuild
from ml_connector_dagster.payroll.snapshot import PeriodSnapshot
from ml_connector_dagster.storage.sealed import private_dirs

# Under the connection's directory (``ConnectorSettings.connection_directory``).
EXPORTS_DIR = ("exports",)
_COMPANY = re.compile(r"^[A-Z0-9_-]{1,20}$")  # a dataAreaId: never a path of its own


def exports_root(connection_dir: Path) -> Path:
    return connection_dir.joinpath(*EXPORTS_DIR)


def split_partition_key(partition_key: str) -> tuple[str, str]:
    """(pay period, company) of ``COMPANY|PAY_PERIOD``, Dagster's form of the payroll key."""
    company, sep, pay_period = str(partition_key).partition("|")
    try:
        dt.date.fromisoformat(pay_period)
    except ValueError:
        sep = ""
    if not sep or not _COMPANY.match(company.upper()):
        raise ValueError(
            f"{partition_key!r} is not a payroll partition: expected COMPANY|YYYY-MM-DD"
        )
    return pay_period, company.upper()


def partition_export_path(connection_dir: Path, pay_period: str, company: str) -> Path:
    """The workbook of one pay period x company under ``connection_dir``."""
    pay_period, company = split_partition_key(f"{company}|{pay_period}")
    return exports_root(connection_dir) / pay_period / f"{company}.xlsx"


def write_partition_export(
    connection_dir: Path,
    partition_key: str,
    builds: Sequence[JournalBuild],
    snapshot: PeriodSnapshot,
    mapping: PayrollMapping,
    names: Names = NO_NAMES,
    batch_numbers: Mapping[str, Sequence[str]] | None = None,
) -> Path:
    """Write the partition's workbook (``partition_export_path``) and return its path."""
    pay_period, company = split_partition_key(partition_key)
    path = partition_export_path(connection_dir, pay_period, company)
    private_dirs(exports_root(connection_dir), path.parent)
    export = journal_export(pay_period, company, builds, snapshot, mapping, names, batch_numbers)
    return write_xlsx(export, path)


def remove_partition_export(connection_dir: Path, partition_key: str) -> bool:
    """Delete the partition's workbook, if any (True when there was one): for a journals step
    that blocks, so no earlier preview sits there looking current."""
    pay_period, company = split_partition_key(partition_key)
    try:
        partition_export_path(connection_dir, pay_period, company).unlink()
    except FileNotFoundError:
        return False
    return True
