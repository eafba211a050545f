"""Which handler answers an OData request: the path under ``/data/`` and the method decide.

Parses the resource path (``Set``, ``Set(key)``, ``Set/$count``, ``$metadata``, ``$batch``) and
the query options F&O accepts, then hands over to reads, writes or the ``$batch`` runner.
Every ``ODataError`` becomes its JSON error answer here, so ``$batch`` operations that go
through ``execute`` are answered exactly as lone requests.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from ml_connector_sandbox.dynamics.batch_runner import BatchRunner
from ml_connector_sandbox.dynamics.errors import ODataError, bad_query, not_found
from ml_connector_sandbox.dynamics.metadata import metadata_xml, service_document
from ml_connector_sandbox.dynamics.odata_filter import parse_key_predicate
from ml_connector_sandbox.dynamics.reads import Reads
from ml_connector_sandbox.dynamics.response import ODataResponse, error_response, json_response
from ml_connector_sandbox.dynamics.schema import READ_ONLY_SETS, EntitySchema, Schema
from ml_connector_sandbox.dynamics.writes import Writes

SYSTEM_OPTIONS = {"$filter", "$select", "$top", "$skip", "$orderby", "$count", "$format"}


class Router:
    """Runs one OData request against ``reads``/``writes``; owns the ``$batch`` runner."""

    def __init__(
        self, schema: Schema, reads: Reads, writes: Writes, max_batch_operations: int
    ) -> None:
        self.schema = schema
        self.reads = reads
        self.writes = writes
        self.batch = BatchRunner(reads.store, self.execute, max_batch_operations)

    def execute(
        self,
        method: str,
        path: str,
        query: str = "",
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> ODataResponse:
        """Run one OData request; ``path`` is relative to ``/data/`` (already percent-decoded)."""
        headers = {k.lower(): v for k, v in (headers or {}).items()}
        try:
            return self._dispatch(method.upper(), path, query, headers, body)
        except ODataError as err:
            return error_response(err)

    def _dispatch(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> ODataResponse:
        path = path.lstrip("/")
        options = parse_query(query)
        if path in ("", "/"):
            _only(method, "GET")
            return json_response(200, service_document(self.schema, self.reads.environment_url))
        if path == "$metadata":
            _only(method, "GET")
            return ODataResponse(
                200, {"Content-Type": "application/xml"}, metadata_xml(self.schema).encode()
            )
        if path == "$batch":
            _only(method, "POST")
            return self.batch.run(body, headers.get("content-type", ""))
        entity, key_text, rest = split_resource(path, self.schema)
        cross = options.pop("cross-company", "false").lower() == "true"
        if method != "GET" and entity.name in READ_ONLY_SETS:
            raise read_only_set(entity, method)
        if key_text is None:
            if rest == "/$count":
                _only(method, "GET")
                return self.reads.count(entity, options, cross)
            if rest:
                raise not_found(f"Resource not found for the segment '{rest.strip('/')}'.")
            if method == "GET":
                return self.reads.collection(entity, options, cross, query)
            if method == "POST":
                return self.writes.create(entity, body)
            raise ODataError(405, f"The HTTP method '{method}' is not allowed on an entity set.")
        if rest:
            raise bad_query(f"Navigation '{rest}' after a key is not supported by this service.")
        key = parse_key_predicate(key_text, entity)
        if method == "GET":
            return self.reads.single(entity, key, options, cross)
        if method in ("PATCH", "PUT"):
            return self.writes.update(entity, key, cross, body)
        if method == "DELETE":
            return self.writes.delete(entity, key, cross)
        raise ODataError(405, f"The HTTP method '{method}' is not allowed on an entity.")


def read_only_set(entity: EntitySchema, method: str) -> ODataError:
    """A write to one of F&O's read-only BI entities. ASSUMPTION: Microsoft does not document
    the status F&O answers there; the sandbox answers 400 with the text in the innererror, like
    every other refused write, so a client's ordinary error handling shows it."""
    return ODataError(
        400,
        f"The HTTP method '{method}' is not allowed: entity set '{entity.name}' "
        f"({entity.entity_type}) is read-only.",
    )


def _only(method: str, allowed: str) -> None:
    if method != allowed:
        raise ODataError(405, f"The HTTP method '{method}' is not allowed here.")


def parse_query(query: str) -> dict[str, str]:
    """Query options by name; unknown or repeated ``$`` options are 400s, others pass."""
    options: dict[str, str] = {}
    for k, v in parse_qsl(query, keep_blank_values=True):
        if k.startswith("$"):
            if k not in SYSTEM_OPTIONS:
                raise bad_query(f"The query parameter '{k}' is not supported by this service.")
            if k in options:
                raise bad_query(f"The query parameter '{k}' is specified more than once.")
        options[k] = v
    return options


def split_resource(path: str, schema: Schema) -> tuple[EntitySchema, str | None, str]:
    """``Set``, ``Set(key...)`` or ``Set(key...)/rest`` -> (entity, key text, rest)."""
    name_end = 0
    while name_end < len(path) and (path[name_end].isalnum() or path[name_end] == "_"):
        name_end += 1
    name = path[:name_end]
    entity = schema.entity(name)
    if entity is None:
        raise not_found(f"Resource not found for the segment '{path.split('/')[0]}'.")
    rest = path[name_end:]
    if not rest.startswith("("):
        if rest and not rest.startswith("/"):
            raise not_found(f"Resource not found for the segment '{path.split('/')[0]}'.")
        return entity, None, rest
    in_quote = False
    for i, ch in enumerate(rest):
        if ch == "'":
            in_quote = not in_quote
        elif ch == ")" and not in_quote:
            return entity, rest[1:i], rest[i + 1 :]
    raise bad_query(f"Unbalanced parentheses in '{path}'.")
