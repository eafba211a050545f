"""Private files: written atomically with mode 0600, refused when others can read them.

Both the key file and the encrypted store go through here. An atomic write (temporary file in
the same directory, fsync, ``os.replace``) means a crash or a full disk leaves either the old
file or the new one, never half of each; for a store that holds a freshly rotated Rippling
refresh token, half a file would be a lost connection.
"""

import contextlib
import logging
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from ml_connector_dagster import clock
from ml_connector_dagster.credentials.errors import InsecureFileError

log = logging.getLogger(__name__)

# How often a writer waiting for the credentials lock tries again (writes take milliseconds).
_LOCK_POLL_SECONDS = 0.05

# Windows has no POSIX modes to check or set; there the user's profile ACLs are what protect.
POSIX = os.name == "posix"


def ensure_private_dir(directory: Path) -> None:
    """Create ``directory`` (and parents) if needed; one this call creates gets mode 0700."""
    if directory.is_dir():
        return
    directory.mkdir(parents=True, exist_ok=True)
    if POSIX:
        directory.chmod(0o700)
    log.debug("created private directory %s", directory)


def write_private_file(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically; the file is 0600 from its first byte."""
    ensure_private_dir(path.parent)
    # mkstemp creates the file 0600, so the content is never readable by others, not even
    # briefly before a chmod.
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    _fsync_directory(path.parent)
    log.debug("wrote %s (%d bytes, mode 0600)", path, len(data))


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable; best effort where directories cannot be opened."""
    if not POSIX:
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def check_private(path: Path, what: str) -> None:
    """Refuse ``path`` if group or others have any access to it, saying how to fix it."""
    if not POSIX:
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise InsecureFileError(
            f"{what} {path} is accessible by group or others (mode {mode:04o});"
            f" run `chmod 600 {path}` and try again"
        )


def read_private_file(path: Path, what: str) -> bytes:
    """Read ``path`` after checking its mode; ``what`` names it in errors (\"key file\")."""
    check_private(path, what)
    return path.read_bytes()


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<path>.lock`` for a read-modify-write of ``path``.

    Dagster runs may rotate the Rippling refresh token while an operator runs
    ``credentials set``; without the lock one write would silently undo the other. The lock
    excludes other processes and other threads of this one alike.

    ``filelock`` takes it: ``flock`` on POSIX, as before, and on Windows too now. The lock file
    is 0600 and kept after release, as before, so a connector of an earlier release still
    running during an upgrade (plain ``flock`` on that same file) is excluded too.

    Waiting is ours, not filelock's: its blocking wait polls with ``time.sleep``, which fails
    under libfaketime (the suite runs under it), so we poll with non-blocking attempts and the
    connector's ``clock.sleep``.
    """
    ensure_private_dir(path.parent)
    lock = FileLock(path.with_name(path.name + ".lock"), mode=0o600, preserve_lock_file=True)
    while True:
        try:
            lock.acquire(blocking=False)
            break
        except Timeout:
            clock.sleep(_LOCK_POLL_SECONDS)
    try:
        yield
    finally:
        lock.release()
