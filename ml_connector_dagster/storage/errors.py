"""Why a stored value cannot be written or read (every backend raises these)."""


class StorageError(ValueError):
    """A stored value cannot be written or read; the message names where it is and the fix."""


class StorageKeyError(StorageError):
    """No key to encrypt with, or none of the configured keys opens a value."""


class UnknownFormatError(StorageError):
    """The value is of a format or version this release does not read."""
