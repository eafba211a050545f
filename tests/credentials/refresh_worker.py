"""One process of ``test_refresh_across_processes``: build Rippling auth, meet the peer, refresh.

Run as ``python refresh_worker.py NAME PEER BARRIER_DIR coordinated|uncoordinated`` with the
connector's environment (sandbox URLs, OAuth client, credentials key, audit database URL).

Every step that must happen before or after the peer's is gated on marker files in
BARRIER_DIR, never on a timer (the suite may run under libfaketime):

- ``NAME.ready``: the auth is built, so the refresh token it starts from has been read. A worker
  refreshes only once the peer is ready too: both start from the same token.
- ``NAME.waiting``: the cross-process lock was busy and this worker waits for it (seen through
  the lock's own log record).
- coordinated mode: the worker that got the lock first holds its token request until the peer
  is provably waiting for the lock (``PEER.waiting``), so the two refreshes really overlap.
- ``NAME.adopted``: the refresh switched to a token another process had stored.
- ``NAME.done``: this worker's refresh is over, however it ended.

Prints one JSON line: ``{"name", "ok", "error", "waited", "adopted"}``; ``error`` is the
connector's own message, which never holds a secret (the test checks the output for them).
"""

import json
import logging
import os
import sys
import threading
import time
from pathlib import Path

import httpx

from ml_connector_dagster.connections import Connection, refresh_token_writer
from ml_connector_dagster.rippling.auth import RipplingAuth, auth_from_credentials
from ml_connector_dagster.rippling.errors import RipplingAuthError
from ml_connector_dagster.transport.tls import build_ssl_context

BARRIER_TIMEOUT_SECONDS = 60.0
POLL_SECONDS = 0.02


class Barrier:
    """Marker files shared by the two workers."""

    def __init__(self, directory: Path, name: str, peer: str) -> None:
        self.directory, self.name, self.peer = directory, name, peer

    def mark(self, what: str) -> None:
        (self.directory / f"{self.name}.{what}").touch()

    def marked(self, who: str, what: str) -> bool:
        return (self.directory / f"{who}.{what}").exists()

    def wait_for_peer(self, *whats: str) -> None:
        """Until the peer has marked any of ``whats``; a bounded wait, polled without sleep()."""
        deadline = time.monotonic() + BARRIER_TIMEOUT_SECONDS
        while not any(self.marked(self.peer, what) for what in whats):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: peer {self.peer} never marked {whats}")
            threading.Event().wait(POLL_SECONDS)


class MarkOnLog(logging.Handler):
    """Turns the lock's "waiting" record and the auth's "adopted" record into marker files."""

    def __init__(self, barrier: Barrier) -> None:
        super().__init__(logging.INFO)
        self.barrier = barrier

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "ml_connector_dagster.audit.locks" and record.msg.startswith("waiting"):
            self.barrier.mark("waiting")
        if record.name == "ml_connector_dagster.rippling.auth" and "changed" in record.msg:
            self.barrier.mark("adopted")


def build_auth(connection: Connection, mode: str) -> RipplingAuth:
    """Coordinated: what ``Connection.rippling`` uses. Uncoordinated: the behaviour before it."""
    if mode == "coordinated":
        return connection.rippling_auth()
    return auth_from_credentials(
        connection.credentials.rippling, on_refresh_token=refresh_token_writer(connection.env)
    )


def token_request_gate(barrier: Barrier, token_url: str):
    """An httpx request hook: the first token request waits until the peer waits for the lock.

    The second one (the peer already done, or it waited itself) goes straight on.
    """

    def hook(request: httpx.Request) -> None:
        if str(request.url) != token_url:
            return
        barrier.mark("posting")
        barrier.wait_for_peer("waiting", "done")

    return hook


def refresh(auth: RipplingAuth, connection: Connection, hooks: list) -> str | None:
    """Force one refresh; the connector's error message on failure, else None."""
    verify = build_ssl_context(connection.credentials.ca_bundle)
    with httpx.Client(verify=verify, event_hooks={"request": hooks}) as http:
        try:
            auth.token(http)
        except RipplingAuthError as exc:
            return str(exc)
    return None


def main(argv: list[str]) -> int:
    name, peer, directory, mode = argv
    barrier = Barrier(Path(directory), name, peer)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    product = logging.getLogger("ml_connector_dagster")
    product.setLevel(logging.DEBUG)  # everything the connector says, checked for secrets
    product.addHandler(MarkOnLog(barrier))

    connection = Connection.from_environment(dict(os.environ))
    auth = build_auth(connection, mode)
    barrier.mark("ready")
    barrier.wait_for_peer("ready")
    token_url = connection.credentials.rippling.oauth_token_url
    hooks = [token_request_gate(barrier, token_url)] if mode == "coordinated" else []
    try:
        error = refresh(auth, connection, hooks)
    finally:
        barrier.mark("done")
    result = {
        "name": name,
        "ok": error is None,
        "error": error,
        "waited": barrier.marked(name, "waiting"),
        "adopted": barrier.marked(name, "adopted"),
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
