"""The encrypted credentials store: one file, a JSON envelope around a Fernet token.

File format (``ml-connector-credentials/1``)::

    {"format": "ml-connector-credentials/1", "token": "<Fernet token>"}

The token decrypts to UTF-8 JSON ``{"rippling": {...}, "dynamics": {...}, "alerts": {...},
"ca_bundle": ...}`` whose side objects hold any subset of the fields of
``RipplingCredentials`` / ``DynamicsCredentials`` / ``AlertCredentials`` (plus
``refresh_token_rotated_at``, ISO 8601, on the Rippling side), secrets in clear: that is the
point of encrypting. Nothing secret is outside the token; a Fernet token does carry its
creation time in clear.

Partial sides are allowed because the store is one of two sources: a deployment may keep URLs
in the environment and only secrets here. Completeness is checked when credentials are
resolved. Default location: ``$DAGSTER_HOME/ml-connector/credentials.enc`` (``DAGSTER_HOME``
defaulting to ``.dagster_home``, as ``ml-connector-dev`` does), or
``ML_CONNECTOR_CREDENTIALS_FILE``.
"""

import base64
import contextlib
import datetime as dt
import json
import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from cryptography.fernet import InvalidToken
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from ml_connector_dagster.credentials import envvars
from ml_connector_dagster.credentials.errors import CorruptStoreError, WrongKeyError
from ml_connector_dagster.credentials.files import locked, read_private_file, write_private_file
from ml_connector_dagster.credentials.keys import KeyRing, write_key_file

log = logging.getLogger(__name__)

STORE_FORMAT = "ml-connector-credentials/1"
DEFAULT_DAGSTER_HOME = Path(".dagster_home")
STORE_RELATIVE_PATH = Path("ml-connector") / "credentials.enc"

Side = Literal["rippling", "dynamics", "alerts"]

_PARTIAL = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


def store_path(env: Mapping[str, str]) -> Path:
    """``ML_CONNECTOR_CREDENTIALS_FILE``, else the instance directory's ``ml-connector/``.

    A connection of a connections file (``connections_file.py``) keeps its own store
    under ``ml-connector/connections/<name>/``: one store per connection, one key for all.
    """
    configured = envvars.env_value(env, envvars.STORE_FILE)
    if configured:
        return Path(configured).expanduser()
    home = envvars.env_value(env, envvars.DAGSTER_HOME)
    base = Path(home).expanduser() if home else DEFAULT_DAGSTER_HOME
    connection = envvars.env_value(env, "ML_CONNECTOR_CONNECTION")
    if envvars.env_value(env, "ML_CONNECTOR_CONNECTIONS") and connection:
        directory = STORE_RELATIVE_PATH.parent / "connections" / connection
        return base / directory / STORE_RELATIVE_PATH.name
    return base / STORE_RELATIVE_PATH


class _Partial(BaseModel):
    model_config = _PARTIAL

    def fields(self) -> dict[str, Any]:
        """The connection fields this side sets (bookkeeping like timestamps left out)."""
        return {
            name: value
            for name, value in self
            if value is not None and name != "refresh_token_rotated_at"
        }


class StoredRippling(_Partial):
    """Any subset of ``RipplingCredentials`` fields, and when the store's token was rotated."""

    base_url: str | None = None
    v1_base_url: str | None = None
    api_version: str | None = None
    api_token: SecretStr | None = None
    oauth_client_id: str | None = None
    oauth_client_secret: SecretStr | None = None
    oauth_refresh_token: SecretStr | None = None
    oauth_token_url: str | None = None
    # Set by write_rotated_refresh_token: from then on the stored refresh token is newer than
    # any in the environment (Rippling invalidated the old one), so it wins over it.
    refresh_token_rotated_at: dt.datetime | None = None


class StoredDynamics(_Partial):
    """Any subset of ``DynamicsCredentials`` fields."""

    environment_url: str | None = None
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    authority_host: str | None = None
    allow_any_host: bool | None = None


class StoredAlerts(_Partial):
    """Any subset of ``AlertCredentials`` fields."""

    teams_webhook_url: SecretStr | None = None
    smtp_password: SecretStr | None = None


SIDE_MODELS: dict[str, type[_Partial]] = {
    "rippling": StoredRippling,
    "dynamics": StoredDynamics,
    "alerts": StoredAlerts,
}


class StoredCredentials(BaseModel):
    """What the store holds: either side may be absent, and a side may be partial."""

    model_config = _PARTIAL

    rippling: StoredRippling | None = None
    dynamics: StoredDynamics | None = None
    alerts: StoredAlerts | None = None
    ca_bundle: str | None = None

    def side(self, side: Side) -> dict[str, Any]:
        """The fields stored for ``side`` (empty when the side is absent)."""
        part = getattr(self, side)
        return part.fields() if part is not None else {}

    def merged(self, side: Side, changes: Mapping[str, Any]) -> "StoredCredentials":
        """A copy with ``changes`` (None values ignored) laid over ``side``'s stored fields.

        A new Rippling refresh token given here comes from the operator, not from a rotation,
        so the rotation mark is cleared and the usual environment-first order applies again.
        """
        current = getattr(self, side)
        values = dict(current) if current is not None else {}
        given = {name: value for name, value in changes.items() if value is not None}
        values.update(given)
        if side == "rippling" and "oauth_refresh_token" in given:
            values["refresh_token_rotated_at"] = None
        return self.model_copy(update={side: SIDE_MODELS[side](**values)})

    def without(self, side: Side) -> "StoredCredentials":
        return self.model_copy(update={side: None})

    def reveal(self) -> dict[str, Any]:
        """The JSON payload with secrets in clear: only ever passed to the encryption."""
        payload: dict[str, Any] = {}
        for side in SIDE_MODELS:
            part = getattr(self, side)
            if part is not None:
                payload[side] = {name: _plain(value) for name, value in part if value is not None}
        if self.ca_bundle is not None:
            payload["ca_bundle"] = self.ca_bundle
        return payload


def _plain(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def remove_store_file(path: Path) -> None:
    """Delete the store file (and its lock file); needs no key, so a lost key can be undone."""
    with locked(path):
        path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        path.with_name(path.name + ".lock").unlink(missing_ok=True)
    log.debug("deleted credentials store %s", path)


# A Fernet token: version 0x80, 8-byte timestamp, 16-byte IV, AES-CBC blocks, 32-byte HMAC.
_FERNET_VERSION = 0x80
_FERNET_OVERHEAD = 1 + 8 + 16 + 32
_URLSAFE_BASE64 = re.compile(rb"[A-Za-z0-9_-]+=*")


def fernet_shape_problem(token: bytes) -> str | None:
    """What makes ``token`` no Fernet token at all (so no key could ever open it), else None.

    Says nothing about the key: a well-shaped token may still be tampered with.
    """
    if not _URLSAFE_BASE64.fullmatch(token):
        return "its token is not url-safe base64"
    try:
        raw = base64.urlsafe_b64decode(token)
    except ValueError:
        return "its token is not url-safe base64"
    if not raw or raw[0] != _FERNET_VERSION:
        return "its token does not start like a Fernet token"
    body = len(raw) - _FERNET_OVERHEAD
    if body < 16 or body % 16:
        return f"its token is {len(raw)} bytes long, not a whole Fernet token"
    return None


class CredentialStore:
    """The encrypted file at ``path``, read and written with ``keyring``."""

    def __init__(self, path: Path, keyring: KeyRing) -> None:
        self.path = path
        self.keyring = keyring

    def __repr__(self) -> str:
        return f"CredentialStore({str(self.path)!r}, {self.keyring!r})"

    def exists(self) -> bool:
        return self.path.is_file()

    # --- reading ---------------------------------------------------------------------------
    def _read_token(self) -> bytes:
        raw = read_private_file(self.path, "credentials store")
        try:
            envelope = json.loads(raw)
            fmt, token = envelope["format"], envelope["token"]
        except (ValueError, KeyError, TypeError):
            raise CorruptStoreError(
                f"{self.path} is not an ml-connector credentials store"
                f" (expected a JSON envelope of format {STORE_FORMAT})"
            ) from None
        if fmt != STORE_FORMAT:
            raise CorruptStoreError(
                f"{self.path} has format {fmt!r}; this version reads {STORE_FORMAT!r}"
            )
        return str(token).encode("ascii", errors="replace")

    def _decrypt(self, token: bytes) -> bytes:
        """The plain payload, or an error that says only what is known.

        Fernet answers ``InvalidToken`` alike for a token under another key and for a token
        whose bytes were changed (the HMAC fails either way), and the envelope records no key
        fingerprint to tell them apart. Only a token that is not even shaped like a Fernet
        token is known to be damaged; anything else is "tampered or another key".
        """
        try:
            return self.keyring.decrypt(token)
        except InvalidToken:
            pass
        recover = (
            "restore it from a backup, or remove it (`ml-connector credentials delete all`)"
            " and store the credentials again with `ml-connector credentials set`"
        )
        damage = fernet_shape_problem(token)
        if damage is not None:
            raise CorruptStoreError(
                f"the credentials store {self.path} is damaged ({damage}): {recover}"
            ) from None
        raise WrongKeyError(
            f"cannot decrypt the credentials store {self.path} with the"
            f" {len(self.keyring)} key(s) from {self.keyring.source}: it was tampered with or"
            " encrypted with another key (the file cannot tell which). If another key"
            f" encrypted it, set {envvars.KEY} or {envvars.KEY_FILE} to that key (after"
            f" rotate-key the key file keeps the previous key second); otherwise {recover}"
        ) from None

    def load(self) -> StoredCredentials:
        """The stored credentials; empty when the file does not exist yet."""
        if not self.exists():
            log.debug("no credentials store at %s", self.path)
            return StoredCredentials()
        plain = self._decrypt(self._read_token())
        try:
            stored = StoredCredentials.model_validate(json.loads(plain))
        except ValidationError as exc:
            where = "; ".join(
                ".".join(str(part) for part in error["loc"]) + ": " + error["msg"]
                for error in exc.errors(include_input=False, include_url=False)
            )
            raise CorruptStoreError(f"{self.path} decrypts but is not valid: {where}") from None
        except ValueError:
            raise CorruptStoreError(f"{self.path} decrypts but is not JSON") from None
        log.debug(
            "loaded credentials store %s: rippling fields %s, dynamics fields %s",
            self.path,
            sorted(stored.side("rippling")),
            sorted(stored.side("dynamics")),
        )
        return stored

    # --- writing ---------------------------------------------------------------------------
    def _write_token(self, token: bytes) -> None:
        envelope = {"format": STORE_FORMAT, "token": token.decode("ascii")}
        write_private_file(self.path, (json.dumps(envelope) + "\n").encode("ascii"))

    def save(self, stored: StoredCredentials) -> None:
        """Encrypt and write ``stored`` in place of the whole store (atomically, 0600)."""
        plain = json.dumps(stored.reveal(), separators=(",", ":")).encode("utf-8")
        self._write_token(self.keyring.encrypt(plain))
        log.debug("saved credentials store %s", self.path)

    def update(self, change: Callable[[StoredCredentials], StoredCredentials]) -> StoredCredentials:
        """Load, apply ``change`` and save under a lock, so concurrent writers do not race."""
        with locked(self.path):
            stored = change(self.load())
            self.save(stored)
        return stored

    def delete(self, side: Side | Literal["all"]) -> None:
        """Forget one side, or remove the store file (``all``: no key needed for that)."""
        if side == "all":
            remove_store_file(self.path)
            return
        self.update(lambda stored: stored.without(side))
        log.debug("deleted the %s side of %s", side, self.path)

    def write_rotated_refresh_token(
        self, token: SecretStr, *, at: dt.datetime | None = None
    ) -> None:
        """Record the refresh token Rippling just issued (the previous one is now invalid).

        Marks the time so resolution prefers this token over ``RIPPLING_OAUTH_REFRESH_TOKEN``,
        which still holds the invalidated one. Creates the store if there is none yet.
        """
        if not isinstance(token, SecretStr):
            raise TypeError("write_rotated_refresh_token takes a SecretStr")
        when = at or dt.datetime.now(dt.UTC)

        def change(stored: StoredCredentials) -> StoredCredentials:
            current = dict(stored.rippling) if stored.rippling is not None else {}
            current.update(oauth_refresh_token=token, refresh_token_rotated_at=when)
            return stored.model_copy(update={"rippling": StoredRippling(**current)})

        self.update(change)
        log.debug("stored a rotated Rippling refresh token in %s", self.path)

    def rotate_key(
        self,
        publish: Callable[[KeyRing], None] | None = None,
        reencrypt: Callable[[KeyRing], object] | None = None,
    ) -> "CredentialStore":
        """Re-encrypt the store under a new key; write the key file when keys come from one.

        Order matters for crash safety: the new ring (new key first, previous second) is
        written to the key file, or handed to ``publish`` when the keys come from the
        environment, before the store is re-encrypted, so at every moment a key the operator
        holds opens the store.

        ``reencrypt`` re-encrypts whatever else is sealed with these keys (the stored asset
        values, ``storage/sealed.py``): it is handed the grown ring (new key first, then every
        key this ring had) after the new keys are published, so a crash part-way leaves each
        file under the new key or the previous one, both of which the kept ring opens.
        """
        grown = self.keyring.with_new_primary()
        kept = grown.trimmed(2)
        with locked(self.path):
            token = self._read_token() if self.exists() else None
            if token is not None:
                self._decrypt(token)  # a wrong key fails here, before any file changes
            if kept.path is not None:
                write_key_file(kept, kept.path)
            if publish is not None:
                publish(kept)
            if reencrypt is not None:
                reencrypt(grown)
            if token is not None:
                self._write_token(grown.rotate(token))
        log.debug("rotated the credentials key: %r", kept)
        return CredentialStore(self.path, kept)
