"""The F&O OData stand-in: one object owning state, seeding, request execution and ``$batch``.

``DynamicsService.execute`` runs one OData request (path relative to ``/data/``) and returns
status, headers and body; the Starlette app (``app.py``) and ``$batch`` both go through it, so a
request inside a change set behaves exactly like the same request on its own, but inside the
change set's single SQLite transaction.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from starlette.applications import Starlette

from ml_connector_sandbox.clock import SandboxClock, company_clock
from ml_connector_sandbox.dynamics import batch as batch_wire
from ml_connector_sandbox.dynamics.edm import EdmError, dumps, loads, to_storage, to_wire
from ml_connector_sandbox.dynamics.errors import ODataError, bad_query, not_found, write_failed
from ml_connector_sandbox.dynamics.metadata import metadata_xml, service_document
from ml_connector_sandbox.dynamics.odata_filter import filter_sql, parse_key_predicate
from ml_connector_sandbox.dynamics.odata_filter import quote as quote_literal
from ml_connector_sandbox.dynamics.schema import (
    NAMESPACE,
    EntitySchema,
    Schema,
    load_schema,
    without_properties,
)
from ml_connector_sandbox.dynamics.store import DuplicateKey, Store, q
from ml_connector_sandbox.dynamics.validation import Rules

JSON_TYPE = "application/json; odata.metadata=minimal; odata.streaming=true"
_SYSTEM_OPTIONS = {"$filter", "$select", "$top", "$skip", "$orderby", "$count", "$format"}


class SeedError(ValueError):
    """A seed row that does not fit the schema; the message names entity, row and property."""


@dataclass
class ODataResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        return loads(self.body)


def _json_response(
    status: int, payload: Any, headers: dict[str, str] | None = None
) -> ODataResponse:
    return ODataResponse(status, {"Content-Type": JSON_TYPE, **(headers or {})}, dumps(payload))


def error_response(err: ODataError) -> ODataResponse:
    return _json_response(err.status, err.body())


class DynamicsService:
    """Strict local F&O, after Microsoft Learn's "Open Data Protocol (OData)" and "Batch
    requests" pages for finance and operations apps; admin routes are documented in ``app.py``.
    """

    def __init__(
        self,
        data_dir: pathlib.Path,
        company: dict,
        environment_url: str,
        token_validator: Callable[[str], bool],
        *,
        page_size: int = 10_000,
        default_company: str = "usmf",
        max_batch_operations: int = 5_000,
        clock: SandboxClock | None = None,
        missing_properties: Sequence[str] = (),
    ) -> None:
        self.clock = clock or company_clock(company)
        self.environment_url = environment_url.rstrip("/")
        self.token_validator = token_validator
        self.page_size = page_size
        self.default_company = default_company.lower()
        self.max_batch_operations = max_batch_operations
        self.schema: Schema = without_properties(load_schema(), missing_properties)
        self.store = Store(pathlib.Path(data_dir) / "dynamics.sqlite", self.schema)
        self.rules = Rules(self.store, self.schema, self.clock)
        self._app: Starlette | None = None
        seed = company.get("dynamics", {})
        if self.store.get_meta("seed_sha256") != _seed_hash(seed):
            self.reset(company)

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def app(self) -> Starlette:
        if self._app is None:
            from ml_connector_sandbox.dynamics.app import build_app

            self._app = build_app(self)
        return self._app

    def reset(self, company: dict) -> None:
        """Forget every write and seed again from ``company["dynamics"]``."""
        seed = company.get("dynamics", {})
        rows_by_entity = self._validate_seed(seed)
        with self.store.lock:
            self.store.wipe()
            with self.store.transaction():
                for entity, rows in rows_by_entity:
                    try:
                        self.store.insert_many(entity, rows)
                    except DuplicateKey as exc:
                        raise SeedError(f"seed {entity.name}: duplicate key ({exc})") from exc
                self.rules.refresh_worker_status()
                self.store.set_meta("seed_sha256", _seed_hash(seed))

    def _validate_seed(self, seed: dict) -> list[tuple[EntitySchema, list[dict]]]:
        out = []
        employment_no = 0
        for name, rows in seed.items():
            entity = self.schema.entity(name)
            if entity is None:
                raise SeedError(f"seed: unknown entity set '{name}'")
            converted = []
            for i, row in enumerate(rows):
                if not isinstance(row, dict):
                    raise SeedError(f"seed {name} row {i}: not an object")
                values: dict[str, Any] = {}
                for prop_name, value in row.items():
                    prop = entity.properties.get(prop_name)
                    if prop is None:
                        raise SeedError(f"seed {name} row {i}: unknown property '{prop_name}'")
                    try:
                        values[prop_name] = to_storage(prop, value)
                    except EdmError as exc:
                        raise SeedError(
                            f"seed {name} row {i} property '{prop_name}': {exc}"
                        ) from exc
                if "dataAreaId" in values:
                    values["dataAreaId"] = values["dataAreaId"].lower()
                if entity.table == "EmploymentsV2" and not values.get("EmploymentId"):
                    employment_no += 1
                    values["EmploymentId"] = f"SEED-{employment_no:06d}"
                    values.setdefault("EmploymentEndDate", "2154-12-31T23:59:59Z")
                for key in entity.keys:
                    if key not in values:
                        raise SeedError(f"seed {name} row {i}: key property '{key}' is missing")
                converted.append(values)
            out.append((entity, converted))
        return out

    # --- request execution ----------------------------------------------------------------------

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
        options = _parse_query(query)
        if path in ("", "/"):
            self._only(method, "GET")
            return _json_response(200, service_document(self.schema, self.environment_url))
        if path == "$metadata":
            self._only(method, "GET")
            return ODataResponse(
                200, {"Content-Type": "application/xml"}, metadata_xml(self.schema).encode()
            )
        if path == "$batch":
            self._only(method, "POST")
            return self.execute_batch(body, headers.get("content-type", ""))
        entity, key_text, rest = _split_resource(path, self.schema)
        cross = options.pop("cross-company", "false").lower() == "true"
        if key_text is None:
            if rest == "/$count":
                self._only(method, "GET")
                where, params = self._where(entity, options, cross)
                return ODataResponse(
                    200,
                    {"Content-Type": "text/plain"},
                    str(self.store.count(entity, where, params)).encode(),
                )
            if rest:
                raise not_found(f"Resource not found for the segment '{rest.strip('/')}'.")
            if method == "GET":
                return self._get_collection(entity, options, cross, query)
            if method == "POST":
                return self._create(entity, body)
            raise ODataError(405, f"The HTTP method '{method}' is not allowed on an entity set.")
        if rest:
            raise bad_query(f"Navigation '{rest}' after a key is not supported by this service.")
        key = parse_key_predicate(key_text, entity)
        if method == "GET":
            row = self._find(entity, key, cross)
            select = self._select(entity, options)
            payload = {"@odata.context": self._context(entity, select, single=True)}
            payload.update(self._wire(entity, row, select))
            return _json_response(200, payload)
        if method in ("PATCH", "PUT"):
            return self._update(entity, key, cross, body)
        if method == "DELETE":
            return self._delete(entity, key, cross)
        raise ODataError(405, f"The HTTP method '{method}' is not allowed on an entity.")

    @staticmethod
    def _only(method: str, allowed: str) -> None:
        if method != allowed:
            raise ODataError(405, f"The HTTP method '{method}' is not allowed here.")

    # --- reads ----------------------------------------------------------------------------------

    def _where(
        self, entity: EntitySchema, options: dict[str, str], cross: bool
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if entity.company_bound and not cross:
            clauses.append('"dataAreaId" = ?')
            params.append(self.default_company)
        if "$filter" in options:
            sql, fparams = filter_sql(options["$filter"], entity)
            clauses.append(sql)
            params += fparams
        return " AND ".join(clauses), params

    def _select(self, entity: EntitySchema, options: dict[str, str]) -> list[str] | None:
        text = options.get("$select")
        if text is None or text.strip() == "*":
            return None
        names = [n.strip() for n in text.split(",")]
        for n in names:
            if n not in entity.properties:
                raise bad_query(
                    f"Could not find a property named '{n}' on type "
                    f"'{NAMESPACE}.{entity.entity_type}'."
                )
        return names

    def _order(self, entity: EntitySchema, options: dict[str, str]) -> str:
        items: list[str] = []
        seen: set[str] = set()
        for item in (options.get("$orderby") or "").split(","):
            if not item.strip():
                if options.get("$orderby") is not None:
                    raise bad_query(f"Invalid $orderby '{options['$orderby']}'.")
                continue
            words = item.split()
            if len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
                raise bad_query(f"Invalid $orderby item '{item.strip()}'.")
            if words[0] not in entity.properties:
                raise bad_query(
                    f"Could not find a property named '{words[0]}' on type "
                    f"'{NAMESPACE}.{entity.entity_type}'."
                )
            items.append(f"{q(words[0])} {'DESC' if words[-1] == 'desc' else 'ASC'}")
            seen.add(words[0])
        items += [q(k) for k in entity.keys if k not in seen]
        return ", ".join(items)

    def _get_collection(
        self, entity: EntitySchema, options: dict[str, str], cross: bool, raw_query: str
    ) -> ODataResponse:
        where, params = self._where(entity, options, cross)
        select = self._select(entity, options)
        order = self._order(entity, options)
        top = _non_negative(options, "$top")
        skip = _non_negative(options, "$skip") or 0
        count = options.get("$count")
        if count not in (None, "true", "false"):
            raise bad_query(f"Invalid $count '{count}': use true or false.")
        if options.get("$format") not in (None, "json", "application/json"):
            raise bad_query(f"Unsupported $format '{options['$format']}'.")
        page = self.page_size if top is None else min(top, self.page_size)
        rows = self.store.select(entity, where, params, order, limit=page + 1, offset=skip)
        more = len(rows) > page and (top is None or top > page)
        rows = rows[:page]
        payload: dict[str, Any] = {"@odata.context": self._context(entity, select)}
        if count == "true":
            payload["@odata.count"] = self.store.count(entity, where, params)
        payload["value"] = [self._wire(entity, r, select) for r in rows]
        if more:
            payload["@odata.nextLink"] = self._next_link(
                entity, raw_query, skip + page, None if top is None else top - page
            )
        return _json_response(200, payload)

    def _next_link(self, entity: EntitySchema, raw_query: str, skip: int, top: int | None) -> str:
        pairs = [
            (k, v)
            for k, v in parse_qsl(raw_query, keep_blank_values=True)
            if k not in ("$skip", "$top")
        ]
        if top is not None:
            pairs.append(("$top", str(top)))
        pairs.append(("$skip", str(skip)))
        query = urlencode(pairs, quote_via=quote, safe="$',()*:")
        return f"{self.environment_url}/data/{entity.name}?{query}"

    def _context(self, entity: EntitySchema, select: list[str] | None, single: bool = False) -> str:
        ctx = f"{self.environment_url}/data/$metadata#{entity.name}"
        if select:
            ctx += "(" + ",".join(select) + ")"
        return ctx + ("/$entity" if single else "")

    @staticmethod
    def _wire(
        entity: EntitySchema, row: dict[str, Any], select: list[str] | None = None
    ) -> dict[str, Any]:
        names = select or list(entity.properties)
        return {n: to_wire(entity.properties[n], row[n]) for n in names}

    def _find(self, entity: EntitySchema, key: dict[str, Any], cross: bool) -> dict[str, Any]:
        row = self.store.get(entity, key)
        if row is None or (
            entity.company_bound and not cross and row["dataAreaId"].lower() != self.default_company
        ):
            raise not_found(
                f"No {entity.name} entity was found for key "
                f"({', '.join(f'{k}={v}' for k, v in key.items())})."
            )
        return row

    # --- writes ---------------------------------------------------------------------------------

    def _body(self, entity: EntitySchema, body: bytes) -> dict[str, Any]:
        try:
            data = loads(body or b"")
        except EdmError as exc:
            raise bad_query(str(exc)) from exc
        if not isinstance(data, dict):
            raise bad_query("The request body must be a JSON object.")
        values: dict[str, Any] = {}
        for name, value in data.items():
            if name.startswith("@odata."):
                continue
            prop = entity.properties.get(name)
            if prop is None:
                raise bad_query(
                    f"The property '{name}' does not exist on type "
                    f"'{NAMESPACE}.{entity.entity_type}'. Make sure to only use property names "
                    "that are defined by the type."
                )
            try:
                values[name] = to_storage(prop, value)
            except EdmError as exc:
                raise bad_query(f"Property '{name}': {exc}") from exc
        return values

    def _location(self, entity: EntitySchema, row: dict[str, Any]) -> str:
        parts = []
        for k in entity.keys:
            prop = entity.properties[k]
            v = row[k]
            lit = quote_literal(v) if prop.is_string else str(v)
            parts.append(f"{k}={lit}")
        inner = ",".join(parts) if len(parts) > 1 else parts[0].split("=", 1)[1]
        return f"{self.environment_url}/data/{entity.name}({quote(inner, safe=chr(39) + '=,:')})"

    def _create(self, entity: EntitySchema, body: bytes) -> ODataResponse:
        values = self._body(entity, body)
        with self.store.transaction():
            hidden = self.rules.create(entity, values)
            try:
                self.store.insert(entity, values, hidden)
            except DuplicateKey as exc:
                keys = ", ".join(f"{k}: {values.get(k)}" for k in entity.keys)
                raise write_failed(
                    entity.entity_type,
                    f"Cannot create a record in {entity.entity_type} ({entity.table}). {keys}. "
                    "The record already exists.",
                    "Error",
                ) from exc
            key = {k: values[k] for k in entity.keys}
            row = self.store.get(entity, key)
            assert row is not None
            self.rules.after(entity, None, row)
            self.store.count_write(entity.name, "create")
            row = self.store.get(entity, key)
            assert row is not None
        payload = {"@odata.context": self._context(entity, None, single=True)}
        payload.update(self._wire(entity, row))
        return _json_response(201, payload, {"Location": self._location(entity, row)})

    def _update(
        self, entity: EntitySchema, key: dict[str, Any], cross: bool, body: bytes
    ) -> ODataResponse:
        changes = self._body(entity, body)
        with self.store.transaction():
            old = self._find(entity, key, cross)
            for k in entity.keys:
                if k in changes and str(changes[k]).lower() != str(old[k]).lower():
                    raise write_failed(
                        entity.entity_type, f"Key field '{k}' cannot be changed.", "Error"
                    )
            merged = {**old, **changes}
            hidden = self.rules.update(entity, old, changes, merged)
            self.store.update(
                entity,
                {k: old[k] for k in entity.keys},
                {**{k: v for k, v in changes.items() if k not in entity.keys}, **hidden},
            )
            new = self.store.get(entity, {k: old[k] for k in entity.keys})
            self.rules.after(entity, old, new)
            self.store.count_write(entity.name, "update")
        return ODataResponse(204)

    def _delete(self, entity: EntitySchema, key: dict[str, Any], cross: bool) -> ODataResponse:
        with self.store.transaction():
            old = self._find(entity, key, cross)
            self.rules.delete(entity, old)
            self.store.delete(entity, {k: old[k] for k in entity.keys})
            self.rules.after(entity, old, None)
            self.store.count_write(entity.name, "delete")
        return ODataResponse(204)

    # --- $batch -------------------------------------------------------------------------------

    def execute_batch(self, body: bytes, content_type: str) -> ODataResponse:
        items = batch_wire.parse_batch(body, content_type)
        n = batch_wire.count_operations(items)
        if n > self.max_batch_operations:
            raise bad_query(
                f"The batch holds {n} operations; at most "
                f"{self.max_batch_operations} are allowed in one $batch request."
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
        path, query = self._operation_target(op.url)
        return self.execute(op.method, path, query, op.headers, op.body)

    def _operation_target(self, url: str) -> tuple[str, str]:
        parts = urlsplit(url)
        path = parts.path
        if parts.scheme or path.startswith("/"):
            if not path.startswith("/data/"):
                raise bad_query(f"The $batch operation URL '{url}' is not under /data/.")
            path = path[len("/data/") :]
        return unquote(path), parts.query

    def _run_changeset(
        self, changeset: batch_wire.ChangeSet
    ) -> batch_wire.PartResponse | list[batch_wire.PartResponse]:
        """All or nothing: one transaction; the first failure rolls it back and answers the
        whole change set with that one error, carrying the failing operation's Content-ID."""
        done: list[batch_wire.PartResponse] = []

        class _Abort(Exception):
            pass

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

    # --- admin (used by app.py) -------------------------------------------------------------

    def post_journal(self, company: str, batch_number: str) -> dict[str, Any]:
        entity = self.schema.entities["LedgerJournalHeaders"]
        key = {"dataAreaId": company, "JournalBatchNumber": batch_number}
        with self.store.transaction():
            if self.store.get(entity, key) is None:
                raise not_found(f"Journal {batch_number} does not exist in company {company}.")
            self.store.update(entity, key, {"IsPosted": "Yes"})
            row = self.store.get(entity, key)
        assert row is not None
        return self._wire(entity, row)

    def journal_lines_applied(self, company: str, batch_number: str) -> list[dict[str, Any]]:
        entity = self.schema.entities["LedgerJournalLines"]
        rows = self.store.select(
            entity,
            '"dataAreaId" = ? AND "JournalBatchNumber" = ?',
            [company, batch_number],
            order='"LineNumber"',
        )
        return [
            {
                "LineNumber": Decimal(r["LineNumber"]),
                "AccountDisplayValue": r["AccountDisplayValue"],
                "applied": json.loads(r["_applied_dims"]),
            }
            for r in rows
        ]

    def admin_write(
        self, method: str, entity_set: str, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Bypass F&O's rules (not its types) to craft seed data for negative tests."""
        entity = self.schema.entity(entity_set)
        if entity is None:
            raise not_found(f"Unknown entity set '{entity_set}'.")
        values = self._body(entity, dumps(payload.get("values", {})))
        if "dataAreaId" in values:
            values["dataAreaId"] = values["dataAreaId"].lower()
        with self.store.transaction():
            if method == "POST":
                try:
                    self.store.insert(entity, values)
                except DuplicateKey as exc:
                    raise bad_query(f"Duplicate key: {exc}") from exc
                key = {k: values.get(k) for k in entity.keys}
            else:
                key = self._body(entity, dumps(payload.get("key", {})))
                if sorted(key) != sorted(entity.keys):
                    raise bad_query(f"'key' must name exactly {', '.join(entity.keys)}.")
                if self.store.get(entity, key) is None:
                    raise not_found(f"No {entity_set} row with key {payload.get('key')}.")
                if method == "DELETE":
                    self.store.delete(entity, key)
                    return None
                self.store.update(entity, key, values)
                key = {k: values.get(k, v) for k, v in key.items()}
            if entity.table == "EmploymentsV2":
                self.rules.refresh_worker_status()
            row = self.store.get(entity, key)
        return None if row is None else self._wire(entity, row)

    def stats(self) -> dict[str, Any]:
        return self.store.stats()


def _seed_hash(seed: Any) -> str:
    canonical = json.dumps(seed, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _parse_query(query: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for k, v in parse_qsl(query, keep_blank_values=True):
        if k.startswith("$"):
            if k not in _SYSTEM_OPTIONS:
                raise bad_query(f"The query parameter '{k}' is not supported by this service.")
            if k in options:
                raise bad_query(f"The query parameter '{k}' is specified more than once.")
        options[k] = v
    return options


def _non_negative(options: dict[str, str], name: str) -> int | None:
    text = options.get(name)
    if text is None:
        return None
    if not text.isdigit():
        raise bad_query(f"Invalid value '{text}' for {name}: a non-negative integer is required.")
    return int(text)


def _split_resource(path: str, schema: Schema) -> tuple[EntitySchema, str | None, str]:
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
