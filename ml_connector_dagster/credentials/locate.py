"""Open the configured store: its path and key ring from the environment, checks applied.

Kept apart from ``store`` and ``keys`` because it is policy, not mechanism: when a missing
key is an error, when a key may be created, where a new key goes.
"""

import logging
from collections.abc import Mapping
from pathlib import Path

from ml_connector_dagster.config.settings import ENVIRONMENT
from ml_connector_dagster.credentials import envvars
from ml_connector_dagster.credentials.errors import MissingKeyError
from ml_connector_dagster.credentials.keys import (
    KeyRing,
    check_key_placement,
    key_file_path,
    load_keyring,
    write_key_file,
)
from ml_connector_dagster.credentials.store import CredentialStore, store_path

log = logging.getLogger(__name__)


def open_store(env: Mapping[str, str] = ENVIRONMENT) -> CredentialStore:
    """The configured store with its key ring; a missing key is an error even with no file.

    This is what a writer needs (``write_rotated_refresh_token`` creates the store).
    """
    path = store_path(env)
    return CredentialStore(path, load_keyring(env, store_path=path))


def existing_store(env: Mapping[str, str] = ENVIRONMENT) -> CredentialStore | None:
    """The configured store if its file exists, else None (environment-only deployments).

    When the file exists its key must be available: an unreadable store is an error, never
    silently skipped, since it may hold the only valid Rippling refresh token.
    """
    path = store_path(env)
    if not path.is_file():
        return None
    return CredentialStore(path, load_keyring(env, store_path=path))


def open_or_create_store(
    env: Mapping[str, str] = ENVIRONMENT,
) -> tuple[CredentialStore, Path | None]:
    """The store, creating a key file first when there is no key and no store anywhere.

    Returns the store and the path of a key file it created (None when a key existed). A
    store without a key is not given a new key: that would only hide the real problem
    behind a "wrong key" error later.
    """
    path = store_path(env)
    try:
        return CredentialStore(path, load_keyring(env, store_path=path)), None
    except MissingKeyError:
        if path.exists():
            raise
    key_path = key_file_path(env)
    check_key_placement(key_path, path, env)
    ring = KeyRing.generate(source=f"key file {key_path}", path=key_path)
    write_key_file(ring, key_path)
    log.info("created a new credentials key file %s", key_path)
    return CredentialStore(path, ring), key_path


def describe_key_source(env: Mapping[str, str] = ENVIRONMENT) -> str:
    """Where the key would come from, without reading it (for ``credentials show``)."""
    if envvars.env_value(env, envvars.KEY) is not None:
        ignored = key_file_path(env)
        note = f" (key file {ignored} ignored)" if ignored.is_file() else ""
        return f"{envvars.KEY}{note}"
    path = key_file_path(env)
    return f"key file {path}" + ("" if path.is_file() else " (does not exist)")
