"""The ways reading or resolving credentials fails, each naming what to set or fix.

All are ``CredentialsError`` (a ``ValueError``), so a caller that only wants "the credentials
are not usable" catches one class; the CLI turns them into a one-line message. None of them
ever carries a secret or a key: messages name settings, paths and counts, never values.
"""

from ml_connector_dagster.credentials.models import CredentialsError


class MissingKeyError(CredentialsError):
    """No encryption key anywhere (environment variable or key file)."""


class InvalidKeyError(CredentialsError):
    """A configured key is not a Fernet key (32 url-safe base64 bytes)."""


class WrongKeyError(CredentialsError):
    """The store exists but none of the configured keys decrypts it.

    Either another key encrypted it or its token was altered: Fernet fails the same way for
    both and the store records no key fingerprint, so the message names both causes.
    """


class CorruptStoreError(CredentialsError):
    """The store file is not a credentials envelope this version understands, or the token in
    it is not shaped like a Fernet token (damaged: no key could open it)."""


class InsecureFileError(CredentialsError):
    """A key file or store is accessible to group or others; refused like ssh does."""


class KeyBesideStoreError(CredentialsError):
    """The key file is in the store's directory: one copied backup would hold both."""


class MissingCredentialsError(CredentialsError):
    """Required settings are in neither the environment nor the store.

    ``missing`` holds the environment variable names, so callers can report them precisely.
    """

    def __init__(self, missing: list[str], hint: str = "") -> None:
        self.missing = tuple(missing)
        message = "missing credential settings: " + ", ".join(self.missing)
        super().__init__(message + (f"; {hint}" if hint else ""))
