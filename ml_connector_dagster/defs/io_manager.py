"""Stores each partition's value in its own encrypted file, so single-run backfills can persist.

Dagster's filesystem IO manager refuses an output that covers several partitions (a single-run
backfill), and it pickles values in clear. Our partitioned assets return
``{partition_key: value}``; this manager writes one file per partition and hands a downstream
step exactly the partitions its run covers.

What is written (``storage/sealed.py``): typed JSON (``storage/codec.py``: Decimal as text, ISO
dates, the snapshot's and journals' dataclasses and models by name), encrypted with the
credential store's key ring, in 0600 files under 0700 directories. The values hold every
worker's pay (snapshot, journals, workers with compensation), so there is no clear-text mode:
without ``ML_CONNECTOR_CREDENTIALS_KEY`` or a key file a run fails before writing anything,
naming those settings.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg

from ml_connector_dagster.config.settings import current_settings
from ml_connector_dagster.credentials.files import locked
from ml_connector_dagster.defs.workforce.assets import PlannedSync
from ml_connector_dagster.ledger.entries import JournalBuild
from ml_connector_dagster.payroll.runs_seen import RunsListRead
from ml_connector_dagster.payroll.snapshot import PeriodSnapshot, PeriodWorkforce
from ml_connector_dagster.posting.reference import ReferenceRead
from ml_connector_dagster.storage.codec import Codec
from ml_connector_dagster.storage.sealed import (
    SealedValues,
    StorageError,
    storage_keyring,
    values_root,
)

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
)
CODEC = Codec(STORED_ROOTS)


def default_root() -> Path:
    """``$DAGSTER_HOME/storage/ml_connector``, read now (``rotate-key`` re-encrypts it)."""
    return values_root(current_settings().dagster_home)


class PartitionFilesIOManager(dg.ConfigurableIOManager):
    base_dir: str = ""

    def _values(self) -> SealedValues:
        # Read when the run stores or loads (a resource field would freeze the path and the
        # key into the definitions); a missing key fails here, before anything is written.
        base = Path(self.base_dir) if self.base_dir else default_root()
        try:
            return SealedValues(base, storage_keyring(), CODEC)
        except StorageError as exc:
            raise dg.Failure(description=str(exc)) from None

    @staticmethod
    def _parts(asset_key: dg.AssetKey, partition_key: str | None) -> list[str]:
        if partition_key is None:
            return [*asset_key.path, "value"]
        safe = partition_key.replace("/", "_").replace("|", "__")
        return [*asset_key.path, safe]

    def load_previous(self, asset_key: dg.AssetKey) -> Any | None:
        """The last stored value of an unpartitioned asset, or None (an incremental read's base)."""
        values = self._values()
        path = values.path(*self._parts(asset_key, None))
        return self._read(values, path) if values.exists(path) else None

    def load_partitions(
        self, asset_key: dg.AssetKey, partition_keys: list[str]
    ) -> tuple[dict[str, Any], list[str]]:
        """The stored values of those partitions that have one, and the keys whose file could
        not be read (tampered with, or sealed with a key no longer in the ring): a caller
        that only looks back (the plausibility history) goes on without them and says so."""
        values = self._values()
        found: dict[str, Any] = {}
        unreadable: list[str] = []
        for key in partition_keys:
            path = values.path(*self._parts(asset_key, key))
            if not values.exists(path):
                continue
            try:
                found[key] = values.read(path)
            except StorageError:
                unreadable.append(key)
        return found, unreadable

    def load_value(self, asset_key: dg.AssetKey, partition_key: str | None) -> Any | None:
        """The stored value of one partition (None: the unpartitioned value), or None when
        there is none or it cannot be read: for a caller that can read the source again."""
        values = self._values()
        path = values.path(*self._parts(asset_key, partition_key))
        if not values.exists(path):
            return None
        try:
            return values.read(path)
        except StorageError:
            return None

    def store_value(self, asset_key: dg.AssetKey, partition_key: str | None, value: Any) -> None:
        """Store one partition's value (None: the unpartitioned value) outside an output."""
        values = self._values()
        self._write(values, values.path(*self._parts(asset_key, partition_key)), value)

    @contextmanager
    def exclusive(self, asset_key: dg.AssetKey) -> Iterator[None]:
        """One process (or thread) at a time for a read-the-source-then-store of ``asset_key``:
        a file lock beside its values, which the OS releases if the holder dies."""
        values = self._values()
        with locked(values.root.joinpath(*asset_key.path, ".exclusive")):
            yield

    @staticmethod
    def _read(values: SealedValues, path: Path) -> Any:
        try:
            return values.read(path)
        except StorageError as exc:
            raise dg.Failure(description=str(exc)) from None

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        values = self._values()
        if not context.has_asset_partitions:
            self._write(values, values.path(*self._parts(context.asset_key, None)), obj)
            return
        for key in context.asset_partition_keys:
            if key not in obj:
                raise KeyError(
                    f"{context.asset_key.to_user_string()}: no value for partition {key}"
                )
        for key in context.asset_partition_keys:
            self._write(values, values.path(*self._parts(context.asset_key, key)), obj[key])

    @staticmethod
    def _write(values: SealedValues, path: Path, value: Any) -> None:
        try:
            values.write(path, value)
        except StorageError as exc:
            raise dg.Failure(description=str(exc)) from None

    def load_input(self, context: dg.InputContext) -> Any:
        values = self._values()
        if not context.has_asset_partitions:
            return self._read(values, values.path(*self._parts(context.asset_key, None)))
        result = {}
        for key in context.asset_partition_keys:
            path = values.path(*self._parts(context.asset_key, key))
            try:
                result[key] = values.read(path)
            except FileNotFoundError:
                raise FileNotFoundError(
                    f"{context.asset_key.to_user_string()} has not been materialized for {key}"
                ) from None
            except StorageError as exc:
                raise dg.Failure(description=str(exc)) from None
        return result
