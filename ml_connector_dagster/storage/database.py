"""Stored values as rows of a SQL table: shared by every process and every container.

A Docker or Kubernetes run launcher starts each run in its own container, so values on one
container's disk are lost to the next step's run. The audit database (PostgreSQL in such a
deployment) is already shared by every run, sensor and command, backed up, and access
controlled, so the values go there: one row per asset path and partition, holding the same
sealed envelope a file holds (``envelope.py``: encrypted with the credentials key, never clear).

- Writes are one ``INSERT ... ON CONFLICT DO UPDATE`` in one transaction: replacing a value is
  an upsert, and a reader sees the old row or the new one, never half of one.
- ``exclusive`` is handed in by the opener (``audit/stored_values.py``): a PostgreSQL advisory
  lock, which the server drops if its holder dies, or a file lock beside a SQLite file.
- ``reencrypt`` (``rotate-key``) swaps each row's envelope only if it is still the one it read,
  so a value a run stored meanwhile is never overwritten by an older one.

The table is declared here (this module knows nothing of the audit store); the audit schema
carries a copy and migration 0007 creates it.
"""

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import InvalidToken
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from ml_connector_dagster import clock
from ml_connector_dagster.credentials.keys import KeyRing
from ml_connector_dagster.storage.backend import MissingValue
from ml_connector_dagster.storage.codec import Codec
from ml_connector_dagster.storage.envelope import envelope, seal, token_of, unseal
from ml_connector_dagster.storage.errors import StorageError

log = logging.getLogger(__name__)

UNPARTITIONED = ""  # the partition column of an unpartitioned value (no partition key is empty)

STORED_VALUES = sa.Table(
    "stored_values",
    sa.MetaData(),
    sa.Column("asset_path", sa.String(500), primary_key=True),
    sa.Column("partition_key", sa.String(300), primary_key=True),
    # The sealed envelope: format and version in clear, the value encrypted (Fernet token).
    sa.Column("envelope", sa.Text, nullable=False),
    sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
)

LockFactory = Callable[[str], AbstractContextManager[None]]


def asset_column(asset_path: Sequence[str]) -> str:
    return "/".join(asset_path)


def partition_column(partition: str | None) -> str:
    return UNPARTITIONED if partition is None else partition


def lock_name(asset_path: Sequence[str]) -> str:
    """The cross-process lock of an asset's read-then-store (the same in every process)."""
    return f"ml-connector stored values {asset_column(asset_path)}"


class DatabaseBackend:
    """Sealed values in the ``stored_values`` table of ``engine``'s database."""

    def __init__(self, engine: Engine, keyring: KeyRing, codec: Codec, lock: LockFactory) -> None:
        self.engine = engine
        self.keyring = keyring
        self.codec = codec
        self._lock = lock

    def __repr__(self) -> str:
        return f"DatabaseBackend({self._database()!r})"

    def _database(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def where(self, asset_path: Sequence[str], partition: str | None) -> str:
        shown = "" if partition is None else f" partition {partition}"
        return f"stored value {asset_column(asset_path)}{shown} in the database {self._database()}"

    @staticmethod
    def _row(asset_path: Sequence[str], partition: str | None) -> sa.ColumnElement[bool]:
        return sa.and_(
            STORED_VALUES.c.asset_path == asset_column(asset_path),
            STORED_VALUES.c.partition_key == partition_column(partition),
        )

    def _envelope(self, asset_path: Sequence[str], partition: str | None) -> str | None:
        query = sa.select(STORED_VALUES.c.envelope).where(self._row(asset_path, partition))
        with self.engine.connect() as db:
            return db.execute(query).scalar_one_or_none()

    def exists(self, asset_path: Sequence[str], partition: str | None) -> bool:
        query = sa.select(sa.literal(1)).where(self._row(asset_path, partition))
        with self.engine.connect() as db:
            return db.execute(query).first() is not None

    def load(self, asset_path: Sequence[str], partition: str | None) -> Any:
        where = self.where(asset_path, partition)
        raw = self._envelope(asset_path, partition)
        if raw is None:
            raise MissingValue(where)
        token = token_of(raw.encode("utf-8", errors="replace"), where)
        return unseal(token, self.keyring, self.codec, where)

    def store(self, asset_path: Sequence[str], partition: str | None, value: Any) -> None:
        sealed = seal(value, self.keyring, self.codec, self.where(asset_path, partition))
        with self.engine.begin() as db:
            db.execute(
                self._upsert(
                    asset_path=asset_column(asset_path),
                    partition_key=partition_column(partition),
                    envelope=sealed.decode("ascii"),
                    stored_at=clock.now(),
                )
            )

    def _upsert(self, **row: Any) -> sa.Executable:
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            insert: Any = postgresql.insert(STORED_VALUES)
        elif dialect == "sqlite":
            insert = sqlite.insert(STORED_VALUES)
        else:
            raise StorageError(f"values are stored in PostgreSQL or SQLite, not {dialect}")
        statement = insert.values(**row)
        return statement.on_conflict_do_update(
            index_elements=[STORED_VALUES.c.asset_path, STORED_VALUES.c.partition_key],
            set_={
                "envelope": statement.excluded.envelope,
                "stored_at": statement.excluded.stored_at,
            },
        )

    def exclusive(self, asset_path: Sequence[str]) -> AbstractContextManager[None]:
        return self._lock(lock_name(asset_path))

    def reencrypt(self, keyring: KeyRing) -> tuple[int, list[str]]:
        """Re-encrypt every row under ``keyring``'s primary key (it must hold the old keys).

        Returns how many rows were re-encrypted and the rows left as they were (another
        format, or a key the ring lacks), reported by name, never deleted.
        """
        done, skipped = 0, []
        query = sa.select(
            STORED_VALUES.c.asset_path, STORED_VALUES.c.partition_key, STORED_VALUES.c.envelope
        ).order_by(STORED_VALUES.c.asset_path, STORED_VALUES.c.partition_key)
        with self.engine.connect() as db:
            rows = db.execute(query).all()
        for asset_path, partition_key, old in rows:
            name = f"{asset_path} [{partition_key or 'value'}]"
            try:
                token = keyring.rotate(token_of(old.encode("utf-8", errors="replace"), name))
            except (StorageError, InvalidToken, ValueError) as exc:
                log.warning("left %s as it was: %s", name, exc)
                skipped.append(name)
                continue
            with self.engine.begin() as db:
                db.execute(
                    STORED_VALUES.update()
                    .where(
                        STORED_VALUES.c.asset_path == asset_path,
                        STORED_VALUES.c.partition_key == partition_key,
                        STORED_VALUES.c.envelope == old,  # unchanged since read: else newer
                    )
                    .values(envelope=envelope(token).decode("ascii"))
                )
            done += 1
        log.debug("re-encrypted %d stored value(s) in %s", done, self._database())
        return done, skipped
