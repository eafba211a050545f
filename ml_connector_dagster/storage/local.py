"""Stored values as files under one directory: the embedded default, for one machine.

``<root>/<asset path>/<partition>.sealed.json`` (``value.sealed.json`` for an unpartitioned
asset), written by ``sealed.py`` (0600, atomic rename, 0700 directories). ``exclusive`` is a
file lock beside the asset's values, which the OS releases if its holder dies. Every process
that shares the directory shares the values and the locks: the processes of one machine, not
the containers a Docker or Kubernetes run launcher starts (use ``database.py`` there).
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ml_connector_dagster.credentials.files import locked
from ml_connector_dagster.credentials.keys import KeyRing
from ml_connector_dagster.storage.backend import MissingValue
from ml_connector_dagster.storage.codec import Codec
from ml_connector_dagster.storage.sealed import SealedValues


def file_stem(partition: str | None) -> str:
    """A partition key as a file name (``|`` and ``/`` cannot be in one)."""
    if partition is None:
        return "value"
    return partition.replace("/", "_").replace("|", "__")


class LocalBackend:
    """Sealed files under ``root``."""

    def __init__(self, root: Path, keyring: KeyRing, codec: Codec) -> None:
        self.values = SealedValues(root, keyring, codec)

    @property
    def root(self) -> Path:
        return self.values.root

    def path(self, asset_path: Sequence[str], partition: str | None) -> Path:
        return self.values.path(*asset_path, file_stem(partition))

    def where(self, asset_path: Sequence[str], partition: str | None) -> str:
        return str(self.path(asset_path, partition))

    def exists(self, asset_path: Sequence[str], partition: str | None) -> bool:
        return self.values.exists(self.path(asset_path, partition))

    def load(self, asset_path: Sequence[str], partition: str | None) -> Any:
        try:
            return self.values.read(self.path(asset_path, partition))
        except FileNotFoundError as exc:
            raise MissingValue(*exc.args) from None

    def store(self, asset_path: Sequence[str], partition: str | None, value: Any) -> None:
        self.values.write(self.path(asset_path, partition), value)

    @contextmanager
    def exclusive(self, asset_path: Sequence[str]) -> Iterator[None]:
        with locked(self.root.joinpath(*asset_path, ".exclusive")):
            yield
