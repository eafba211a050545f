"""Stores each partition's value in its own encrypted file, so single-run backfills can persist.

Dagster's filesystem IO manager refuses an output that covers several partitions (a single-run
backfill), and it pickles values in clear. Our partitioned assets return
``{partition_key: value}``; this manager writes one file per partition and hands a downstream
step exactly the partitions its run covers.

What is written (``storage/envelope.py``): typed JSON (``storage/codec.py``: Decimal as text,
ISO dates, the snapshot's and journals' dataclasses and models by name), encrypted with the
credential store's key ring; kept where ``ML_CONNECTOR_STORAGE_URL`` says
(``defs/value_storage.py``): 0600 files under 0700 directories by default, or rows of the audit
(or another) database that every container of a scaled-out deployment reaches. The values hold every
worker's pay (snapshot, journals, workers with compensation), so there is no clear-text mode:
without ``ML_CONNECTOR_CREDENTIALS_KEY`` or a key file a run fails before writing anything,
naming those settings.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg

from ml_connector_dagster.config.settings import current_settings
from ml_connector_dagster.defs.value_storage import value_backend
from ml_connector_dagster.defs.workforce.assets import PlannedSync
from ml_connector_dagster.ledger.entries import JournalBuild
from ml_connector_dagster.month_end.reconciled import ReconciledMonth
from ml_connector_dagster.payroll.runs_seen import RunsListRead
from ml_connector_dagster.payroll.snapshot import PeriodSnapshot, PeriodWorkforce
from ml_connector_dagster.posting.reference import ReferenceRead
from ml_connector_dagster.storage.backend import MissingValue, ValueBackend
from ml_connector_dagster.storage.codec import Codec
from ml_connector_dagster.storage.sealed import StorageError, values_root

# The classes a stored value may be built from: these and every dataclass, model and enum
# their field annotations reach (the codec's allowlist). Reference assets store plain JSON
# data (``model_dump(mode="json")``), which needs no class.
STORED_ROOTS: tuple[type, ...] = (
    PeriodSnapshot,
    PeriodWorkforce,
    RunsListRead,
    ReferenceRead,
    JournalBuild,
    PlannedSync,
    ReconciledMonth,
)
CODEC = Codec(STORED_ROOTS)


def default_root() -> Path:
    """``$DAGSTER_HOME/storage/ml_connector``, read now (``rotate-key`` re-encrypts it)."""
    return values_root(current_settings().dagster_home)


class PartitionFilesIOManager(dg.ConfigurableIOManager):
    """One stored value per partition, in the backend ``ML_CONNECTOR_STORAGE_URL`` selects
    (files by default; ``base_dir`` forces files in that directory). The name is kept from
    when values were files only: definitions and code locations refer to it."""

    base_dir: str = ""

    def _values(self) -> ValueBackend:
        # Chosen when the run stores or loads (a resource field would freeze the backend, the
        # key and a database password into the definitions); a missing key fails here.
        return value_backend(CODEC, self.base_dir)

    @staticmethod
    def _path(asset_key: dg.AssetKey) -> Sequence[str]:
        return tuple(asset_key.path)

    def load_previous(self, asset_key: dg.AssetKey) -> Any | None:
        """The last stored value of an unpartitioned asset, or None (an incremental read's base)."""
        values = self._values()
        path = self._path(asset_key)
        if not values.exists(path, None):
            return None
        try:
            return values.load(path, None)
        except MissingValue:
            return None
        except StorageError as exc:
            raise dg.Failure(description=str(exc)) from None

    def load_partitions(
        self, asset_key: dg.AssetKey, partition_keys: list[str]
    ) -> tuple[dict[str, Any], list[str]]:
        """The stored values of those partitions that have one, and the keys whose value could
        not be read (tampered with, or sealed with a key no longer in the ring): a caller
        that only looks back (the plausibility history) goes on without them and says so."""
        values = self._values()
        found: dict[str, Any] = {}
        unreadable: list[str] = []
        path = self._path(asset_key)
        for key in partition_keys:
            if not values.exists(path, key):
                continue
            try:
                found[key] = values.load(path, key)
            except MissingValue:
                continue
            except StorageError:
                unreadable.append(key)
        return found, unreadable

    def load_value(self, asset_key: dg.AssetKey, partition_key: str | None) -> Any | None:
        """The stored value of one partition (None: the unpartitioned value), or None when
        there is none or it cannot be read: for a caller that can read the source again."""
        values = self._values()
        path = self._path(asset_key)
        if not values.exists(path, partition_key):
            return None
        try:
            return values.load(path, partition_key)
        except (MissingValue, StorageError):
            return None

    def store_value(self, asset_key: dg.AssetKey, partition_key: str | None, value: Any) -> None:
        """Store one partition's value (None: the unpartitioned value) outside an output."""
        self._write(self._values(), asset_key, partition_key, value)

    @contextmanager
    def exclusive(self, asset_key: dg.AssetKey) -> Iterator[None]:
        """One process (or thread) at a time for a read-the-source-then-store of ``asset_key``,
        across every process sharing the backend; released if the holder dies (a file lock
        on local files, an advisory lock on PostgreSQL)."""
        with self._values().exclusive(self._path(asset_key)):
            yield

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        values = self._values()
        if not context.has_asset_partitions:
            self._write(values, context.asset_key, None, obj)
            return
        for key in context.asset_partition_keys:
            if key not in obj:
                raise KeyError(
                    f"{context.asset_key.to_user_string()}: no value for partition {key}"
                )
        for key in context.asset_partition_keys:
            self._write(values, context.asset_key, key, obj[key])

    def _write(
        self, values: ValueBackend, asset_key: dg.AssetKey, partition: str | None, value: Any
    ) -> None:
        try:
            values.store(self._path(asset_key), partition, value)
        except StorageError as exc:
            raise dg.Failure(description=str(exc)) from None

    def load_input(self, context: dg.InputContext) -> Any:
        values = self._values()
        path = self._path(context.asset_key)
        try:
            if not context.has_asset_partitions:
                return values.load(path, None)
            result = {}
            for key in context.asset_partition_keys:
                try:
                    result[key] = values.load(path, key)
                except MissingValue:
                    raise FileNotFoundError(
                        f"{context.asset_key.to_user_string()} has not been materialized for {key}"
                    ) from None
            return result
        except StorageError as exc:
            raise dg.Failure(description=str(exc)) from None
