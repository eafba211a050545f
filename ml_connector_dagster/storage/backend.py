"""Where stored values live: the one interface the IO manager talks to.

A value is addressed by its asset's path and its partition key (None: the asset's single,
unpartitioned value). Every backend keeps the same sealed bytes (``envelope.py``), so what is
at rest is encrypted with the credentials key whatever the backend, and every backend offers:

- ``load``: the value, ``MissingValue`` when none is stored, ``StorageError`` when one is
  stored but cannot be read (tampered with, another key, another format), naming where it is;
- ``store``: replace the value atomically: a reader sees the old value or the new one, never
  half of one, and never an error in between;
- ``exclusive``: one holder at a time for a read-the-source-then-store of an asset, across the
  processes that share the backend; released by the server or the OS if the holder dies.

Backends: ``local.py`` (files under DAGSTER_HOME: one machine) and ``database.py`` (a table of
the audit database or another SQL database: every process, every container).
"""

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol


class MissingValue(FileNotFoundError):
    """Nothing is stored for that asset and partition (a FileNotFoundError, as it always was)."""


class ValueBackend(Protocol):
    def where(self, asset_path: Sequence[str], partition: str | None) -> str:
        """Where the value is kept, for messages (never a password)."""
        ...

    def exists(self, asset_path: Sequence[str], partition: str | None) -> bool:
        """Whether a value is stored there (a file left by an earlier release is not one)."""
        ...

    def load(self, asset_path: Sequence[str], partition: str | None) -> Any: ...

    def store(self, asset_path: Sequence[str], partition: str | None, value: Any) -> None: ...

    def exclusive(self, asset_path: Sequence[str]) -> AbstractContextManager[None]: ...
