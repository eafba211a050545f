"""Which backend keeps the asset values: the one place ``ML_CONNECTOR_STORAGE_URL`` is read.

- unset: sealed files under ``$DAGSTER_HOME/storage/ml_connector`` (``storage/local.py``),
  the embedded default; every process of one machine shares them.
- ``audit`` or a database URL: the ``stored_values`` table (``storage/database.py``), which
  every container of a Docker or Kubernetes deployment reaches.

The IO manager's ``base_dir``, when set, is an explicit directory and wins (tests, tools).
Read when a run stores or loads, never frozen into the definitions: the URL may carry a
password, which a resource field would show in the UI.
"""

from pathlib import Path

import dagster as dg

from ml_connector_dagster.audit.stored_values import database_backend
from ml_connector_dagster.config.settings import current_settings
from ml_connector_dagster.credentials.keys import KeyRing
from ml_connector_dagster.storage.backend import ValueBackend
from ml_connector_dagster.storage.codec import Codec
from ml_connector_dagster.storage.errors import StorageError
from ml_connector_dagster.storage.local import LocalBackend
from ml_connector_dagster.storage.sealed import storage_keyring, values_root


def value_backend(codec: Codec, base_dir: str = "") -> ValueBackend:
    """The configured backend; a missing key or an unusable database fails as a ``Failure``
    naming the setting, before anything is written."""
    try:
        keyring = storage_keyring()
        if base_dir:
            return LocalBackend(Path(base_dir), keyring, codec)
        settings = current_settings()
        url = settings.storage_database_url()
        if url is None:
            return LocalBackend(values_root(settings.dagster_home), keyring, codec)
        return database_backend(url, keyring, codec)
    except StorageError as exc:
        raise dg.Failure(description=str(exc)) from None


def reencrypt_database_values(codec: Codec, keyring: KeyRing) -> tuple[int, list[str]] | None:
    """``rotate-key``'s second half when values live in a database: re-encrypt every row
    under ``keyring`` (the grown ring: new key first). None when values are files (the
    command re-encrypts the directory with ``sealed.reencrypt_tree`` as before)."""
    url = current_settings().storage_database_url()
    if url is None:
        return None
    return database_backend(url, keyring, codec).reencrypt(keyring)
