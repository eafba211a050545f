"""OData reads of the F&O stand-in: collections, ``$count``, one entity by key.

Holds the query options that shape a read (``$filter $select $orderby $top $skip $count``,
``cross-company``), server-driven paging with ``@odata.nextLink``, and the company scoping every
company-bound lookup shares; writes reuse ``find``, ``context`` and ``wire`` so a row reads the
same whichever route returns it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from ml_connector_sandbox.dynamics.edm import to_wire
from ml_connector_sandbox.dynamics.errors import bad_query, not_found
from ml_connector_sandbox.dynamics.odata_filter import filter_sql
from ml_connector_sandbox.dynamics.response import ODataResponse, json_response
from ml_connector_sandbox.dynamics.schema import NAMESPACE, EntitySchema
from ml_connector_sandbox.dynamics.store import Store, q


def wire(
    entity: EntitySchema, row: dict[str, Any], select: list[str] | None = None
) -> dict[str, Any]:
    """A stored row as F&O's JSON shows it (only the ``select``ed properties, if any)."""
    names = select or list(entity.properties)
    return {n: to_wire(entity.properties[n], row[n]) for n in names}


def select_names(entity: EntitySchema, options: dict[str, str]) -> list[str] | None:
    text = options.get("$select")
    if text is None or text.strip() == "*":
        return None
    names = [n.strip() for n in text.split(",")]
    for n in names:
        if n not in entity.properties:
            raise bad_query(
                f"Could not find a property named '{n}' on type '{NAMESPACE}.{entity.entity_type}'."
            )
    return names


def order_by(entity: EntitySchema, options: dict[str, str]) -> str:
    """``$orderby`` as SQL, always ending in the keys (and the stored row key, where the keys
    are not unique) so that paging is stable."""
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
    for k in (*entity.keys, *entity.storage_keys):
        if k not in seen:
            items.append(q(k))
            seen.add(k)
    return ", ".join(items)


def non_negative(options: dict[str, str], name: str) -> int | None:
    text = options.get(name)
    if text is None:
        return None
    if not text.isdigit():
        raise bad_query(f"Invalid value '{text}' for {name}: a non-negative integer is required.")
    return int(text)


class Reads:
    """The read side over one store, scoped to ``default_company`` unless ``cross-company``."""

    def __init__(
        self, store: Store, environment_url: str, default_company: str, page_size: int
    ) -> None:
        self.store = store
        self.environment_url = environment_url
        self.default_company = default_company
        self.page_size = page_size

    def where(
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

    def count(self, entity: EntitySchema, options: dict[str, str], cross: bool) -> ODataResponse:
        """``GET /data/{Set}/$count``: the number as plain text."""
        where, params = self.where(entity, options, cross)
        return ODataResponse(
            200,
            {"Content-Type": "text/plain"},
            str(self.store.count(entity, where, params)).encode(),
        )

    def collection(
        self, entity: EntitySchema, options: dict[str, str], cross: bool, raw_query: str
    ) -> ODataResponse:
        where, params = self.where(entity, options, cross)
        select = select_names(entity, options)
        order = order_by(entity, options)
        top = non_negative(options, "$top")
        skip = non_negative(options, "$skip") or 0
        count = options.get("$count")
        if count not in (None, "true", "false"):
            raise bad_query(f"Invalid $count '{count}': use true or false.")
        if options.get("$format") not in (None, "json", "application/json"):
            raise bad_query(f"Unsupported $format '{options['$format']}'.")
        page = self.page_size if top is None else min(top, self.page_size)
        rows = self.store.select(entity, where, params, order, limit=page + 1, offset=skip)
        more = len(rows) > page and (top is None or top > page)
        rows = rows[:page]
        payload: dict[str, Any] = {"@odata.context": self.context(entity, select)}
        if count == "true":
            payload["@odata.count"] = self.store.count(entity, where, params)
        payload["value"] = [wire(entity, r, select) for r in rows]
        if more:
            payload["@odata.nextLink"] = self.next_link(
                entity, raw_query, skip + page, None if top is None else top - page
            )
        return json_response(200, payload)

    def single(
        self, entity: EntitySchema, key: dict[str, Any], options: dict[str, str], cross: bool
    ) -> ODataResponse:
        """``GET /data/{Set}({key})``."""
        row = self.find(entity, key, cross)
        select = select_names(entity, options)
        payload = {"@odata.context": self.context(entity, select, single=True)}
        payload.update(wire(entity, row, select))
        return json_response(200, payload)

    def next_link(self, entity: EntitySchema, raw_query: str, skip: int, top: int | None) -> str:
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

    def context(self, entity: EntitySchema, select: list[str] | None, single: bool = False) -> str:
        ctx = f"{self.environment_url}/data/$metadata#{entity.name}"
        if select:
            ctx += "(" + ",".join(select) + ")"
        return ctx + ("/$entity" if single else "")

    def find(self, entity: EntitySchema, key: dict[str, Any], cross: bool) -> dict[str, Any]:
        """The row with ``key`` visible in the default company (any company if ``cross``)."""
        row = self.store.get(entity, key)
        if row is None or (
            entity.company_bound and not cross and row["dataAreaId"].lower() != self.default_company
        ):
            raise not_found(
                f"No {entity.name} entity was found for key "
                f"({', '.join(f'{k}={v}' for k, v in key.items())})."
            )
        return row
