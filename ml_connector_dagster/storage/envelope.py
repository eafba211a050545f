"""A stored value's sealed form, the same wherever it is kept (a file, a database row).

``{"format": "ml-connector-stored-value", "version": 1, "token": "<Fernet token>"}``: the
token decrypts to the ``codec`` JSON. The format and version are in clear so a value this
release cannot read is refused by name before any key is needed. Every backend stores exactly
these bytes, so a value moves between backends (and ``rotate-key`` re-encrypts it) unchanged.
"""

import json
from typing import Any

from cryptography.fernet import InvalidToken

from ml_connector_dagster.credentials.keys import KeyRing
from ml_connector_dagster.storage.codec import Codec, CodecError
from ml_connector_dagster.storage.errors import StorageError, StorageKeyError, UnknownFormatError

FORMAT = "ml-connector-stored-value"
VERSION = 1
REMATERIALIZE = "re-materialize the asset (launch it again in the UI or with `ml-connector run`)"


def envelope(token: bytes) -> bytes:
    """The sealed bytes of an encrypted token."""
    body = {"format": FORMAT, "version": VERSION, "token": token.decode("ascii")}
    return (json.dumps(body) + "\n").encode("ascii")


def seal(value: Any, keyring: KeyRing, codec: Codec, where: str) -> bytes:
    """``value`` as typed JSON, encrypted under the ring's primary key, in its envelope."""
    try:
        plain = codec.dumps(value)
    except CodecError as exc:
        raise StorageError(f"cannot store {where}: {exc}") from None
    return envelope(keyring.encrypt(plain))


def token_of(raw: bytes, where: str) -> bytes:
    """The Fernet token of sealed bytes, after checking their format and version."""
    try:
        body = json.loads(raw)
        fmt, version, token = body["format"], body["version"], body["token"]
    except (ValueError, KeyError, TypeError):
        raise UnknownFormatError(
            f"{where} is not a stored value of the format {FORMAT}; {REMATERIALIZE}"
        ) from None
    if fmt != FORMAT or version != VERSION:
        raise UnknownFormatError(
            f"{where} is stored in format {fmt!r} version {version!r}; this release reads"
            f" {FORMAT!r} version {VERSION} only. {REMATERIALIZE}"
        )
    return str(token).encode("ascii", errors="replace")


def unseal(token: bytes, keyring: KeyRing, codec: Codec, where: str) -> Any:
    """The value of a token; ``StorageError`` naming ``where`` and what to do otherwise."""
    try:
        plain = keyring.decrypt(token)
    except InvalidToken:
        raise StorageKeyError(
            f"cannot decrypt {where} with the {len(keyring)} key(s) from"
            f" {keyring.source}: it was written under another key (one retired by two"
            f" rotations, or another installation's); {REMATERIALIZE}"
        ) from None
    try:
        return codec.loads(plain)
    except CodecError as exc:
        raise UnknownFormatError(
            f"{where} does not read with this release ({exc}); {REMATERIALIZE}"
        ) from None
