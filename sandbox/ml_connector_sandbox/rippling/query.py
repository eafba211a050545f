"""Parsing the v2 list parameters: ``filter``, ``order_by``, ``expand``, ``limit``, ``cursor``.

Strict on purpose, like Rippling: an unsupported field or operator, a quoted date, a sort field
the endpoint does not offer or an unknown relation is a 400 with a message, so a connector that
sends something the real API would refuse fails here first.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from ml_connector_sandbox.company.ids import format_timestamp
from ml_connector_sandbox.rippling.resources import Resource

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_EXPANDS = 10


class QueryError(ValueError):
    """A request parameter the API refuses (answered with 400 and this message)."""


@dataclass(frozen=True)
class Condition:
    """One SQL condition with its parameters."""

    sql: str
    params: tuple[Any, ...]


_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<open>\()|(?P<close>\))|(?P<comma>,)"
    r"|(?P<word>[^\s(),']+))"
)
_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?"
    r"(Z|[+-]\d{2}:\d{2})?$"
)
_COMPARE = {"eq": "=", "ne": "!=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise QueryError(f"Invalid filter near {text[pos : pos + 20]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def _unquote(token: str) -> str:
    return token[1:-1].replace("''", "'")


def _normalize_datetime(raw: str, field: str) -> str:
    if not _DATETIME.match(raw):
        raise QueryError(
            f"Invalid datetime value {raw!r} for {field}: expected an unquoted "
            f"ISO 8601 datetime such as 2026-10-01T00:00:00"
        )
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError as exc:
        raise QueryError(f"Invalid datetime value {raw!r} for {field}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return format_timestamp(moment)


def parse_filter(text: str | None, resource: Resource) -> list[Condition]:
    """Turn ``a eq 'x' and b ge 2026-01-01T00:00:00`` into SQL conditions on the resource."""
    if text is None or not text.strip():
        return []
    if not resource.filters:
        raise QueryError(f"Filtering is not supported on {resource.path}")
    tokens = _tokens(text)
    conditions: list[Condition] = []
    i = 0
    while True:
        if i + 2 > len(tokens):
            raise QueryError(f"Incomplete filter expression: {text!r}")
        field_kind, field = tokens[i]
        if field_kind != "word":
            raise QueryError(f"Expected a field name in filter, got {field!r}")
        if field not in resource.filters:
            raise QueryError(
                f"Filtering on {field!r} is not supported on {resource.path}; "
                f"supported: {sorted(resource.filters)}"
            )
        column, field_type = resource.filters[field]
        op = tokens[i + 1][1].lower() if i + 1 < len(tokens) else ""
        i += 2
        if op == "in":
            if field_type != "string":
                raise QueryError(f"Operator 'in' is not supported for {field}")
            values, i = _parse_list(tokens, i, field)
            marks = ",".join("?" * len(values))
            conditions.append(Condition(f"{column} IN ({marks})", tuple(values)))
        elif op in _COMPARE:
            if i >= len(tokens):
                raise QueryError(f"Missing value for {field} {op}")
            kind, raw = tokens[i]
            i += 1
            conditions.append(_compare(column, field, field_type, op, kind, raw))
        else:
            raise QueryError(
                f"Unsupported operator {op!r} for {field}; supported: {sorted([*_COMPARE, 'in'])}"
            )
        if i >= len(tokens):
            return conditions
        joiner = tokens[i][1].lower()
        if joiner != "and":
            raise QueryError(
                f"Unsupported filter conjunction {tokens[i][1]!r}: only 'and' is supported"
            )
        i += 1
        if i >= len(tokens):
            raise QueryError("Filter ends with 'and'")


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _compare(column: str, field: str, field_type: str, op: str, kind: str, raw: str) -> Condition:
    if field_type == "date":
        # Like datetimes (docs: "dates unquoted"): a bare YYYY-MM-DD, compared as text.
        if kind != "word" or not _ISO_DATE.match(raw):
            raise QueryError(f"Invalid value for {field}: expected an unquoted date YYYY-MM-DD")
        try:
            dt.date.fromisoformat(raw)
        except ValueError as exc:
            raise QueryError(f"Invalid date {raw!r} for {field}") from exc
        return Condition(f"{column} {_COMPARE[op]} ?", (raw,))
    if field_type == "boolean":
        if op not in ("eq", "ne") or kind != "word" or raw not in ("true", "false"):
            raise QueryError(f"Invalid filter on {field}: expected eq/ne true or false, unquoted")
        # json_extract gives SQLite 1/0 for JSON true/false.
        return Condition(f"{column} {_COMPARE[op]} ?", (1 if raw == "true" else 0,))
    if field_type == "datetime":
        if kind == "str":
            raise QueryError(f"Invalid value for {field}: datetimes must not be quoted (got {raw})")
        if kind != "word":
            raise QueryError(f"Invalid value for {field}")
        return Condition(f"{column} {_COMPARE[op]} ?", (_normalize_datetime(raw, field),))
    if op not in ("eq", "ne"):
        raise QueryError(f"Operator {op!r} is not supported for {field}")
    if kind != "str":
        raise QueryError(f"Invalid value for {field}: strings must be single-quoted (got {raw})")
    return Condition(f"{column} {_COMPARE[op]} ?", (_unquote(raw),))


def _parse_list(tokens: list[tuple[str, str]], i: int, field: str) -> tuple[list[str], int]:
    if i >= len(tokens) or tokens[i][0] != "open":
        raise QueryError(f"Expected a parenthesised list after {field} in")
    i += 1
    values: list[str] = []
    while i < len(tokens):
        kind, raw = tokens[i]
        if kind != "str":
            raise QueryError(f"Values in the list for {field} must be single-quoted strings")
        values.append(_unquote(raw))
        i += 1
        if i < len(tokens) and tokens[i][0] == "comma":
            i += 1
            continue
        if i < len(tokens) and tokens[i][0] == "close":
            return values, i + 1
        break
    raise QueryError(f"Unterminated list for {field} in")


@dataclass(frozen=True)
class Order:
    """Sort of a list: ``field`` None means the natural (insertion) order."""

    field: str | None
    descending: bool

    @property
    def columns(self) -> tuple[str, ...]:
        return ("seq",) if self.field is None else (self.field, "id")


def parse_order(text: str | None, resource: Resource) -> Order:
    if text is None or not text.strip():
        return Order(None, False)
    parts = text.split()
    if len(parts) > 2 or (len(parts) == 2 and parts[1].lower() not in ("asc", "desc")):
        raise QueryError(f"Invalid order_by {text!r}: expected '<field>' or '<field> asc|desc'")
    field = parts[0]
    if field not in resource.order_fields:
        supported = sorted(resource.order_fields) or "none"
        raise QueryError(
            f"Ordering by {field!r} is not supported on {resource.path}; supported: {supported}"
        )
    return Order(field, len(parts) == 2 and parts[1].lower() == "desc")


def parse_limit(text: str | None) -> int:
    if text is None or text == "":
        return DEFAULT_LIMIT
    try:
        limit = int(text)
    except ValueError as exc:
        raise QueryError(f"Invalid limit {text!r}: expected an integer") from exc
    if limit < 1 or limit > MAX_LIMIT:
        raise QueryError(f"Invalid limit {limit}: must be between 1 and {MAX_LIMIT}")
    return limit


def parse_expand(
    text: str | None, resource: Resource, lookup: dict[str, Resource]
) -> list[list[str]]:
    """``user,manager.level`` -> [["user"], ["manager", "level"]], each step checked."""
    if text is None or not text.strip():
        return []
    paths = [p.strip() for p in text.split(",") if p.strip()]
    if len(paths) > MAX_EXPANDS:
        raise QueryError(f"At most {MAX_EXPANDS} relations can be expanded")
    out: list[list[str]] = []
    for path in paths:
        steps = path.split(".")
        if len(steps) > 2:
            raise QueryError(f"Invalid expand {path!r}: at most two levels")
        current = resource
        for step in steps:
            relation = current.relations.get(step)
            if relation is None:
                raise QueryError(
                    f"Invalid expand {step!r} on {current.path}; expandable: "
                    f"{sorted(current.relations)}"
                )
            current = lookup[relation.target]
        out.append(steps)
    return out


def encode_cursor(values: tuple[Any, ...]) -> str:
    raw = json.dumps(list(values), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str, width: int) -> tuple[Any, ...]:
    try:
        padded = text + "=" * (-len(text) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError) as exc:
        raise QueryError("Invalid cursor") from exc
    if not isinstance(values, list) or len(values) != width:
        raise QueryError("Invalid cursor (it does not belong to this ordering)")
    return tuple(values)
