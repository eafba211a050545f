"""Running a parsed ``$batch``: every operation goes through the same ``execute`` as a lone
request; a change set is all or nothing inside one store transaction.

The multipart wire format (parsing, counting, serialising) lives in ``batch.py``; this module
only decides what runs, in which transaction, and which answers go back.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote, urlsplit

from ml_connector_sandbox.dynamics import batch as batch_wire
from ml_connector_sandbox.dynamics.errors import bad_query
from ml_connector_sandbox.dynamics.response import ODataResponse
from ml_connector_sandbox.dynamics.store import Store

Execute = Callable[[str, str, str, dict[str, str] | None, bytes], ODataResponse]


class _Abort(Exception):
    """Raised inside a change set's transaction to roll it back after a failed operation."""


class BatchRunner:
    """``POST /data/$batch``; ``execute`` runs one operation (path relative to ``/data/``)."""

    def __init__(self, store: Store, execute: Execute, max_operations: int) -> None:
        self.store = store
        self.execute = execute
        self.max_operations = max_operations

    def run(self, body: bytes, content_type: str) -> ODataResponse:
        items = batch_wire.parse_batch(body, content_type)
        n = batch_wire.count_operations(items)
        if n > self.max_operations:
            raise bad_query(
                f"The batch holds {n} operations; at most "
                f"{self.max_operations} are allowed in one $batch request."
            )
        results: list[batch_wire.PartResponse | list[batch_wire.PartResponse]] = []
        for item in items:
            if isinstance(item, batch_wire.ChangeSet):
                results.append(self._run_changeset(item))
            else:
                resp = self._run_operation(item)
                results.append(
                    batch_wire.PartResponse(resp.status, resp.headers, resp.body, item.content_id)
                )
        out, ctype = batch_wire.serialize_batch_response(results)
        return ODataResponse(200, {"Content-Type": ctype}, out)

    def _run_operation(self, op: batch_wire.Operation) -> ODataResponse:
        path, query = operation_target(op.url)
        return self.execute(op.method, path, query, op.headers, op.body)

    def _run_changeset(
        self, changeset: batch_wire.ChangeSet
    ) -> batch_wire.PartResponse | list[batch_wire.PartResponse]:
        """All or nothing: one transaction; the first failure rolls it back and answers the
        whole change set with that one error, carrying the failing operation's Content-ID."""
        done: list[batch_wire.PartResponse] = []
        failure: batch_wire.PartResponse | None = None
        try:
            with self.store.transaction():
                for op in changeset.operations:
                    resp = self._run_operation(op)
                    if resp.status >= 400:
                        failure = batch_wire.PartResponse(
                            resp.status, resp.headers, resp.body, op.content_id
                        )
                        raise _Abort
                    done.append(
                        batch_wire.PartResponse(resp.status, resp.headers, resp.body, op.content_id)
                    )
        except _Abort:
            assert failure is not None
            return failure
        return done


def operation_target(url: str) -> tuple[str, str]:
    """An operation's URL (absolute, ``/data/...`` or relative) as (path under /data/, query)."""
    parts = urlsplit(url)
    path = parts.path
    if parts.scheme or path.startswith("/"):
        if not path.startswith("/data/"):
            raise bad_query(f"The $batch operation URL '{url}' is not under /data/.")
        path = path[len("/data/") :]
    return unquote(path), parts.query
