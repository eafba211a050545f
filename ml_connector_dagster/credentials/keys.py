"""The encryption keys: where they come from, and a key ring that never shows them.

A key ring is one or more Fernet keys; the first encrypts, all decrypt (``MultiFernet``).
That is what lets ``rotate-key`` re-encrypt the store with a new key while a copy encrypted
with the previous key (a backup, another host) stays readable until the old key is dropped.

Keys come from ``ML_CONNECTOR_CREDENTIALS_KEY`` (comma-separated) when it is set, otherwise
from a key file (``ML_CONNECTOR_CREDENTIALS_KEY_FILE``, default
``~/.config/ml-connector/credentials.key``; one key per line, ``#`` comments allowed). The
variable wins so a container can inject its key without a file; a key file present at the
same time is then ignored (``credentials show`` says which one is in use).
"""

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from cryptography.fernet import Fernet, MultiFernet

from ml_connector_dagster.credentials import envvars
from ml_connector_dagster.credentials.errors import (
    InvalidKeyError,
    KeyBesideStoreError,
    MissingKeyError,
)
from ml_connector_dagster.credentials.files import read_private_file, write_private_file

log = logging.getLogger(__name__)

DEFAULT_KEY_FILE = Path("~/.config/ml-connector/credentials.key")


class KeyRing:
    """Fernet keys, primary first, with a repr that shows only how many and from where.

    ``source`` is the environment variable name or ``key file <path>``; ``path`` is the key
    file when the keys came from one (``rotate-key`` writes it back).
    """

    __slots__ = ("_fernet", "_keys", "path", "source")

    def __init__(self, keys: Sequence[bytes], *, source: str, path: Path | None = None) -> None:
        if not keys:
            raise MissingKeyError(f"{source} holds no key")
        fernets = []
        for number, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key))
            except (ValueError, TypeError):
                # The key itself stays out of the message: it is the secret.
                raise InvalidKeyError(
                    f"key {number} of {source} is not a Fernet key (32 url-safe base64-encoded"
                    " bytes, as `ml-connector credentials rotate-key` generates)"
                ) from None
        self._keys = tuple(keys)
        self._fernet = MultiFernet(fernets)
        self.source = source
        self.path = path

    @classmethod
    def generate(cls, *, source: str, path: Path | None = None) -> "KeyRing":
        return cls([Fernet.generate_key()], source=source, path=path)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"KeyRing({len(self._keys)} key(s) from {self.source})"

    __str__ = __repr__

    def encrypt(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def decrypt(self, token: bytes) -> bytes:
        """Plain bytes; raises ``cryptography.fernet.InvalidToken`` when no key fits."""
        return self._fernet.decrypt(token)

    def rotate(self, token: bytes) -> bytes:
        """``token`` re-encrypted with the primary key (it may be under any key of the ring)."""
        return self._fernet.rotate(token)

    def with_new_primary(self) -> "KeyRing":
        """A fresh key followed by every key of this ring.

        The whole old ring stays so ``rotate`` can re-encrypt whatever this ring could read;
        what is kept afterwards is ``trimmed`` (the key file keeps new + previous).
        """
        return KeyRing([Fernet.generate_key(), *self._keys], source=self.source, path=self.path)

    def trimmed(self, count: int) -> "KeyRing":
        """The first ``count`` keys: rotation keeps the new key and the previous primary.

        Keeping exactly one previous key bounds how long a retired key stays useful: a copy of
        the store encrypted two rotations ago is no longer readable, by design.
        """
        return KeyRing(self._keys[:count], source=self.source, path=self.path)

    def reveal(self) -> list[str]:
        """The keys as text, primary first: only for writing the key file or ``--print-new-key``."""
        return [key.decode("ascii") for key in self._keys]


def key_file_path(env: Mapping[str, str]) -> Path:
    configured = envvars.env_value(env, envvars.KEY_FILE)
    return Path(configured or DEFAULT_KEY_FILE).expanduser()


def parse_key_text(text: str) -> list[bytes]:
    """Keys from a key file or the variable: one per line or comma; blanks, ``#`` skipped."""
    keys = []
    for line in text.splitlines():
        if line.strip().startswith("#"):
            continue
        for part in line.split(","):
            if part.strip():
                keys.append(part.strip().encode("ascii", errors="replace"))
    return keys


def check_key_placement(key_path: Path, store_path: Path, env: Mapping[str, str]) -> None:
    """Refuse a key file in the store's directory unless explicitly allowed.

    Encryption at rest is only worth something if the key does not travel with the data: a
    backup or a copied instance directory would otherwise carry both.
    """
    if key_path.resolve().parent != store_path.resolve().parent:
        return
    if envvars.env_bool(env, envvars.ALLOW_KEY_BESIDE_STORE):
        log.warning("key file %s is beside the store %s (allowed by %s)",
                    key_path, store_path, envvars.ALLOW_KEY_BESIDE_STORE)  # fmt: skip
        return
    raise KeyBesideStoreError(
        f"the key file {key_path} is in the same directory as the credentials store"
        f" {store_path}; anyone with a copy of that directory could decrypt it. Move the key"
        f" elsewhere and point {envvars.KEY_FILE} at it, or set"
        f" {envvars.ALLOW_KEY_BESIDE_STORE}=true if this is really intended"
    )


def load_keyring(env: Mapping[str, str], store_path: Path | None = None) -> KeyRing:
    """The configured key ring: the variable if set, else the key file; never a default key.

    ``store_path`` enables the key-beside-store check for a key file.
    """
    text = envvars.env_value(env, envvars.KEY)
    if text is not None:
        return KeyRing(parse_key_text(text), source=envvars.KEY)
    path = key_file_path(env)
    if not path.is_file():
        raise MissingKeyError(
            f"no credentials key: set {envvars.KEY}, or {envvars.KEY_FILE} to a key file"
            f" (default {DEFAULT_KEY_FILE}, not found at {path}); `ml-connector credentials set`"
            " creates one when there is neither a key nor a store yet"
        )
    if store_path is not None:
        check_key_placement(path, store_path, env)
    keys = parse_key_text(read_private_file(path, "key file").decode("utf-8", errors="replace"))
    ring = KeyRing(keys, source=f"key file {path}", path=path)
    log.debug("loaded %r", ring)
    return ring


def write_key_file(ring: KeyRing, path: Path) -> None:
    """Write ``ring`` to ``path`` (0600, atomically), primary key first."""
    body = (
        "# ml-connector credentials key ring: the first key encrypts, all decrypt.\n"
        "# Keep this file out of backups of the credentials store.\n"
    )
    body += "".join(f"{key}\n" for key in ring.reveal())
    write_private_file(path, body.encode("ascii"))
    log.debug("wrote key file %s with %d key(s)", path, len(ring))
