"""The IO manager on each storage backend, for tests that must hold on all of them.

``stored_on(kind, ...)`` points the connector's environment at one backend: ``local`` (sealed
files under a directory: the embedded default), ``sqlite`` (the ``stored_values`` table of a
SQLite file) or ``postgres`` (the same table on a new PostgreSQL database, dropped after). It
gives the manager a run would build and the raw stored bytes, so a test can look at what is at
rest or tamper with it the way an attacker with the disk or the database would.
"""

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from ml_connector_dagster.audit.stored_values import dispose_engines
from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager
from ml_connector_dagster.storage.database import (
    STORED_VALUES,
    asset_column,
    partition_column,
)
from ml_connector_dagster.storage.local import file_stem
from ml_connector_dagster.storage.sealed import SUFFIX

BACKENDS = ["local", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
SHARED = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@dataclass
class Stored:
    kind: str
    base_dir: str  # local: the directory; databases: "" (the setting decides)
    url: str | None  # databases: where the values are

    def manager(self) -> PartitionFilesIOManager:
        return PartitionFilesIOManager(base_dir=self.base_dir)

    def _file(self, asset_path: Sequence[str], partition: str | None) -> Path:
        return Path(self.base_dir).joinpath(*asset_path, file_stem(partition) + SUFFIX)

    def _where(self, asset_path: Sequence[str], partition: str | None) -> sa.ColumnElement:
        return sa.and_(
            STORED_VALUES.c.asset_path == asset_column(asset_path),
            STORED_VALUES.c.partition_key == partition_column(partition),
        )

    def raw(self, asset_path: Sequence[str], partition: str | None) -> bytes:
        """Exactly what is at rest for that value, as an attacker reading the storage sees."""
        if self.url is None:
            return self._file(asset_path, partition).read_bytes()
        engine = sa.create_engine(self.url)
        try:
            with engine.connect() as db:
                query = sa.select(STORED_VALUES.c.envelope).where(
                    self._where(asset_path, partition)
                )
                return db.execute(query).scalar_one().encode()
        finally:
            engine.dispose()

    def overwrite(self, asset_path: Sequence[str], partition: str | None, raw: bytes) -> None:
        """Replace what is at rest behind the connector's back (tampering)."""
        if self.url is None:
            path = self._file(asset_path, partition)
            path.write_bytes(raw)
            path.chmod(0o600)
            return
        engine = sa.create_engine(self.url)
        try:
            with engine.begin() as db:
                db.execute(
                    STORED_VALUES.update()
                    .where(self._where(asset_path, partition))
                    .values(envelope=raw.decode())
                )
        finally:
            engine.dispose()

    def count(self) -> int:
        """How many values are at rest."""
        if self.url is None:
            root = Path(self.base_dir)
            return len(list(root.rglob("*" + SUFFIX))) if root.is_dir() else 0
        engine = sa.create_engine(self.url)
        try:
            with engine.connect() as db:
                if "stored_values" not in sa.inspect(db).get_table_names():
                    return 0
                return db.execute(sa.select(sa.func.count()).select_from(STORED_VALUES)).scalar()
        finally:
            engine.dispose()


@contextmanager
def stored_on(
    kind: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    empty_database: Callable[[str], AbstractContextManager[str]],
) -> Iterator[Stored]:
    """The connector's environment (this process's, and so its subprocesses') on ``kind``."""
    if not os.environ.get("ML_CONNECTOR_CREDENTIALS_KEY"):
        monkeypatch.setenv("ML_CONNECTOR_CREDENTIALS_KEY", Fernet.generate_key().decode())
    if kind == "local":
        monkeypatch.delenv("ML_CONNECTOR_STORAGE_URL", raising=False)
        yield Stored(kind, str(tmp_path / "storage"), None)
        return
    with empty_database(kind) as url:
        monkeypatch.setenv("ML_CONNECTOR_STORAGE_URL", url)
        try:
            yield Stored(kind, "", url)
        finally:
            dispose_engines()  # the database is dropped next: no connection may stay
