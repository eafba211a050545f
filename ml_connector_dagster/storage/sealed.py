"""Asset values at rest: encrypted with the credential store's key ring, readable by the owner only.

Every value the connector stores between steps (payroll snapshots with each worker's pay, the
journals, the workers with their compensation) goes through here. One file per value::

    {"format": "ml-connector-stored-value", "version": 1, "token": "<Fernet token>"}

The token decrypts to the ``codec`` JSON. Files are 0600 and written atomically; directories
are 0700. The key is the one the credentials store uses (``ML_CONNECTOR_CREDENTIALS_KEY`` or
the key file), through the same ``KeyRing``: a ``MultiFernet``, so a value written under the
previous key still reads after ``ml-connector credentials rotate-key``, which also re-encrypts
every stored value under the new key (``reencrypt_tree``).

Without a key nothing is stored: there is no clear-text fallback, since a deployment that
forgot its key would otherwise silently write everyone's pay in clear.

A value's format version is in clear, so a file this release cannot read is refused by name
before any key is needed; a pickle left by an earlier release is refused, never unpickled.
"""

import logging
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from cryptography.fernet import InvalidToken

from ml_connector_dagster.config.settings import ENVIRONMENT
from ml_connector_dagster.credentials import envvars
from ml_connector_dagster.credentials.errors import MissingKeyError
from ml_connector_dagster.credentials.files import (
    POSIX,
    locked,
    read_private_file,
    write_private_file,
)
from ml_connector_dagster.credentials.keys import KeyRing, load_keyring
from ml_connector_dagster.storage.codec import Codec
from ml_connector_dagster.storage.envelope import (
    FORMAT,
    REMATERIALIZE,
    VERSION,
    envelope,
    seal,
    token_of,
    unseal,
)
from ml_connector_dagster.storage.errors import StorageError, StorageKeyError, UnknownFormatError

__all__ = [
    "FORMAT",
    "VERSION",
    "SealedValues",
    "StorageError",
    "StorageKeyError",
    "UnknownFormatError",
    "legacy_files",
    "read_token",
    "reencrypt_tree",
    "storage_keyring",
    "value_files",
    "values_root",
]

log = logging.getLogger(__name__)

SUFFIX = ".sealed.json"
LEGACY_SUFFIX = ".pickle"
LOCK_NAME = ".values"  # <root>/.values.lock: writers and rotate-key take it
VALUES_DIR = Path("storage") / "ml_connector"  # under DAGSTER_HOME


def values_root(dagster_home: Path) -> Path:
    """Where the IO manager keeps values by default (and ``rotate-key`` re-encrypts them)."""
    return dagster_home / VALUES_DIR


def storage_keyring(env: Mapping[str, str] = ENVIRONMENT) -> KeyRing:
    """The credential store's key ring, or a ``StorageKeyError`` naming the settings."""
    try:
        return load_keyring(env)
    except MissingKeyError as exc:
        raise StorageKeyError(
            "asset values hold workers' pay and are only stored encrypted, and no key is"
            f" configured: set {envvars.KEY} (a Fernet key) or {envvars.KEY_FILE} (a key"
            " file, mode 0600), the same key as the credentials store. Details: "
            f"{exc}"
        ) from None


def private_dirs(root: Path, directory: Path) -> None:
    """Create ``directory`` under ``root``, every level from ``root`` down mode 0700.

    Levels that exist are tightened too: a storage tree an earlier release left 0755 is made
    owner-only the first time a value is written into it. Above ``root`` nothing is touched
    (``$DAGSTER_HOME/storage`` is Dagster's).
    """
    relative = directory.relative_to(root)
    levels = [root, *(root.joinpath(*relative.parts[: n + 1]) for n in range(len(relative.parts)))]
    root.parent.mkdir(parents=True, exist_ok=True)
    for level in levels:
        level.mkdir(mode=0o700, exist_ok=True)
        if POSIX and stat.S_IMODE(level.stat().st_mode) != 0o700:
            level.chmod(0o700)


class SealedValues:
    """Stored values under ``root``, encrypted with ``keyring`` and typed by ``codec``."""

    def __init__(self, root: Path, keyring: KeyRing, codec: Codec) -> None:
        self.root = root
        self.keyring = keyring
        self.codec = codec

    def path(self, *parts: str) -> Path:
        """The file of a value: ``parts`` are directories, the last one the file's stem."""
        *dirs, stem = parts
        return self.root.joinpath(*dirs, stem + SUFFIX)

    def write(self, path: Path, value: Any) -> None:
        """Encrypt and write ``value`` (0600, atomically); drop a pickle it replaces."""
        sealed = seal(value, self.keyring, self.codec, str(path))
        private_dirs(self.root, path.parent)
        with locked(self.root / LOCK_NAME):
            write_private_file(path, sealed)
        legacy = path.with_name(path.name.removesuffix(SUFFIX) + LEGACY_SUFFIX)
        if legacy.exists():
            legacy.unlink()  # it held the same value in clear
            log.info("removed %s, replaced by its encrypted successor", legacy)

    def exists(self, path: Path) -> bool:
        return path.is_file()

    def read(self, path: Path) -> Any:
        """The value in ``path``; ``StorageError`` naming the file and what to do otherwise."""
        return unseal(read_token(path), self.keyring, self.codec, str(path))


def read_token(path: Path) -> bytes:
    """The Fernet token of a value file, after checking its mode, format and version."""
    if not path.exists():
        legacy = path.with_name(path.name.removesuffix(SUFFIX) + LEGACY_SUFFIX)
        if legacy.exists():
            raise UnknownFormatError(
                f"{legacy} was written by an earlier release as a pickle, which this release"
                f" does not read (it held pay in clear: delete it); {REMATERIALIZE}"
            )
        raise FileNotFoundError(path)
    return token_of(read_private_file(path, "stored asset value"), str(path))


def value_files(root: Path) -> Iterator[Path]:
    """Every stored value file under ``root`` (none when it does not exist)."""
    if root.is_dir():
        yield from sorted(root.rglob("*" + SUFFIX))


def reencrypt_tree(root: Path, keyring: KeyRing) -> tuple[int, list[Path]]:
    """Re-encrypt every value under ``root`` with ``keyring``'s primary key.

    ``keyring`` must still hold the keys the files are under (``rotate-key`` hands the grown
    ring: new key first, then every key it had). Returns how many files were re-encrypted and
    the files left as they were (another format, or a key the ring lacks): those are reported,
    never deleted. Holds the values lock, so a run writing a value meanwhile waits instead of
    having its fresh value overwritten by an older one.
    """
    done, skipped = 0, []
    if not root.is_dir():
        return done, skipped
    with locked(root / LOCK_NAME):
        for path in value_files(root):
            try:
                token = keyring.rotate(read_token(path))
            except (StorageError, InvalidToken, ValueError, OSError) as exc:
                log.warning("left %s as it was: %s", path, exc)
                skipped.append(path)
                continue
            write_private_file(path, envelope(token))
            done += 1
    log.debug("re-encrypted %d stored value(s) under %s", done, root)
    return done, skipped


def legacy_files(root: Path) -> list[Path]:
    """Pickles left by an earlier release (clear text: the Security section says delete)."""
    return sorted(root.rglob("*" + LEGACY_SUFFIX)) if root.is_dir() else []
