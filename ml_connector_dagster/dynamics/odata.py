"""OData URL pieces: literals, keys, filters, as F&O parses them.

String literals double their apostrophes (``O''Brien``), keys name every key field, and enum
literals are qualified (``Microsoft.Dynamics.DataEntities.NoYes'Yes'``). The resulting path is
percent-encoded by the caller's URL builder, so only OData's own quoting happens here.
"""

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from urllib.parse import quote

ENUM_NAMESPACE = "Microsoft.Dynamics.DataEntities"
_KEY_SAFE = "=',:.-_()"


class Enum:
    """An enum value for a filter or key: ``Enum("NoYes", "Yes")``."""

    def __init__(self, enum_type: str, value: str) -> None:
        self.enum_type = enum_type
        self.value = value

    def __repr__(self) -> str:
        return f"Enum({self.enum_type!r}, {self.value!r})"


Literal = str | int | Decimal | bool | dt.date | dt.datetime | Enum | None


def literal(value: Literal) -> str:
    """One value written as an OData URL literal."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return f"{ENUM_NAMESPACE}.{value.enum_type}'{value.value}'"
    if isinstance(value, dt.datetime):
        stamp = value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return f"{value.isoformat()}T00:00:00Z"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        raise TypeError("floats are not accepted in OData literals: use Decimal")
    return "'" + str(value).replace("'", "''") + "'"


def key_segment(entity_set: str, key: Mapping[str, Literal]) -> str:
    """``VendorsV2(dataAreaId='usmf',VendorAccountNumber='V-1001')``, percent-encoded.

    A value cannot leave its literal (its quotes are doubled by ``literal``) nor the segment
    (``/``, ``?``, ``#`` and ``%`` are encoded), whatever Rippling sent; the entity set and key
    names are the product's own constants. ``tests/rippling/test_path_escaping.py`` checks it.
    """
    if not key:
        raise ValueError(f"{entity_set}: a keyed URL needs every key field")
    inner = ",".join(f"{name}={literal(value)}" for name, value in key.items())
    # Keep OData's punctuation readable; encode everything else (spaces, #, ?, /, %).
    return f"{entity_set}({quote(inner, safe=_KEY_SAFE)})"


def eq(field: str, value: Literal) -> str:
    return f"{field} eq {literal(value)}"


def all_of(*clauses: str) -> str:
    """Clauses joined by ``and`` (F&O has no ``in``: callers OR equalities instead)."""
    return " and ".join(f"({c})" if " or " in c else c for c in clauses if c)


def any_of(field: str, values: list[Literal]) -> str:
    """``field eq a or field eq b``: F&O rejects the ``in`` operator."""
    return " or ".join(eq(field, v) for v in values)
