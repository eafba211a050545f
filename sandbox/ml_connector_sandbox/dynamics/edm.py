"""Edm values: strict checking of what a client sends, storage form, wire form, JSON with Decimal.

Money is ``Decimal`` end to end: request bodies are parsed with ``parse_float=Decimal``, decimals
are stored as canonical text and compared with a Decimal collation, and responses emit them as
JSON numbers written from the Decimal itself (never through float).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ml_connector_sandbox.dynamics.schema import NAMESPACE, Property

DEFAULT_DATETIME = "1900-01-01T00:00:00Z"
OPEN_END = "2154-12-31T23:59:59Z"
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
_INT_RANGES = {"Edm.Int32": (-(2**31), 2**31 - 1), "Edm.Int64": (-(2**63), 2**63 - 1)}
_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?(Z|[+-]\d{2}:\d{2})$"
)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class EdmError(ValueError):
    """A value of the wrong type or form for its property."""


def canonical_decimal(value: Decimal) -> str:
    """Fixed-point text without exponent or trailing zeros; ``0`` for any zero."""
    if not value.is_finite():
        raise EdmError(f"'{value}' is not a finite decimal")
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def parse_datetime(text: str) -> str:
    """Canonical UTC ``YYYY-MM-DDTHH:MM:SSZ`` for an OData DateTimeOffset; sub-seconds dropped."""
    m = _DATETIME.match(text)
    if not m:
        raise EdmError(
            f"'{text}' is not a valid Edm.DateTimeOffset (expected e.g. 2026-11-15T00:00:00Z)"
        )
    iso = text.replace("Z", "+00:00")
    if m.group(7):
        iso = iso.replace("." + m.group(7), "")
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError as exc:
        raise EdmError(f"'{text}' is not a valid Edm.DateTimeOffset") from exc
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sql_column_type(prop: Property) -> str:
    """Column declaration: strings compare case-insensitively as on F&O's SQL Server collation."""
    t = prop.type
    if t == "Edm.Decimal":
        return "TEXT NOT NULL COLLATE DECIMAL"
    if t in ("Edm.Int32", "Edm.Int64", "Edm.Boolean"):
        return "INTEGER NOT NULL"
    if t == "Edm.Double":
        return "REAL NOT NULL"
    if t in ("Edm.String", "Edm.Guid"):
        return "TEXT NOT NULL COLLATE NOCASE"
    return "TEXT NOT NULL"


def default_for(prop: Property) -> Any:
    """What F&O stores for a property left out: F&O has no NULLs, only empty values."""
    t = prop.type
    if t == "Edm.Decimal":
        return "0"
    if t in ("Edm.Int32", "Edm.Int64", "Edm.Boolean"):
        return 0
    if t == "Edm.Double":
        return 0.0
    if t == "Edm.DateTimeOffset":
        return DEFAULT_DATETIME
    if t == "Edm.Guid":
        return EMPTY_GUID
    if prop.enum is not None:
        return prop.members[0] if prop.members else ""
    return ""


def _cannot(value: Any, edm_type: str) -> str:
    return f"Cannot convert the literal '{value}' to the expected type '{edm_type}'."


def to_storage(prop: Property, value: Any) -> Any:
    """Check a JSON value against the property's type and return its storage form."""
    t = prop.type
    if value is None:
        if not prop.nullable:
            raise EdmError(
                f"A null value was found for the property named '{prop.name}', "
                f"which has the expected type '{t}[Nullable=False]'."
            )
        return default_for(prop)
    if t == "Edm.Decimal":
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise EdmError(_cannot(value, t))
        return canonical_decimal(Decimal(value))
    if t in _INT_RANGES:
        if isinstance(value, bool) or not isinstance(value, int):
            raise EdmError(_cannot(value, t))
        low, high = _INT_RANGES[t]
        if not low <= value <= high:
            raise EdmError(f"The value '{value}' is out of range for '{t}'.")
        return value
    if t == "Edm.Boolean":
        if not isinstance(value, bool):
            raise EdmError(_cannot(value, t))
        return int(value)
    if t == "Edm.Double":
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise EdmError(_cannot(value, t))
        return float(value)
    if not isinstance(value, str):
        raise EdmError(_cannot(value, t))
    if t == "Edm.DateTimeOffset":
        return parse_datetime(value)
    if t == "Edm.Guid":
        if not _GUID.match(value):
            raise EdmError(_cannot(value, t))
        return value.lower()
    if prop.enum is not None:
        return enum_member(prop, value)
    return value


def enum_member(prop: Property, value: str) -> str:
    """The member as declared; unknown members are refused like F&O's OData layer does."""
    if prop.members is None:
        return value
    for member in prop.members:
        if member == value:
            return member
    raise EdmError(
        f"The value '{value}' is not a valid enumerated type value for "
        f"'{NAMESPACE}.{prop.enum}' (property '{prop.name}')."
    )


def to_wire(prop: Property, stored: Any) -> Any:
    """Storage form back to the JSON value F&O would send."""
    t = prop.type
    if t == "Edm.Decimal":
        return Decimal(stored)
    if t == "Edm.Boolean":
        return bool(stored)
    return stored


_MARK = "\x00dec\x00"
_MARK_RE = re.compile(r'"\\u0000dec\\u0000([-0-9.]+)"')


def _replace_decimals(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return _MARK + canonical_decimal(obj)
    if isinstance(obj, dict):
        return {k: _replace_decimals(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_replace_decimals(v) for v in obj]
    return obj


def dumps(obj: Any) -> bytes:
    """JSON with every Decimal written as an exact JSON number (``0.3`` stays ``0.3``)."""
    text = json.dumps(_replace_decimals(obj), ensure_ascii=False, separators=(",", ":"))
    return _MARK_RE.sub(r"\1", text).encode("utf-8")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON number")


def loads(data: bytes | str) -> Any:
    """JSON with every non-integer number as Decimal, never float."""
    try:
        return json.loads(data, parse_float=Decimal, parse_constant=_no_constant)
    except (ValueError, InvalidOperation) as exc:
        raise EdmError(f"The request body is not valid JSON: {exc}") from exc
