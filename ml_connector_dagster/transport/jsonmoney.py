"""JSON with ``Decimal`` kept exact both ways.

Reading: every JSON number with a fraction becomes a ``Decimal`` (``parse_float``). Writing: a
``Decimal`` is emitted as a bare JSON number with exactly its digits, which F&O reads as
``Edm.Decimal``; the standard encoder would either refuse it or round-trip through float.
"""

import json
import re
from decimal import Decimal
from typing import Any

_MARK = "\u0000dec:"
_MARKED = re.compile(r'"\\u0000dec:(-?[0-9]+(?:\.[0-9]+)?)"')


def _mark(value: Any, allow_float: bool = False) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send a non-finite amount ({value})")
        return f"{_MARK}{value:f}"
    if isinstance(value, str) and value.startswith(_MARK):
        raise ValueError("text may not start with a NUL byte")
    if isinstance(value, float) and not allow_float:
        raise TypeError("floats are not money: pass a Decimal")
    if isinstance(value, dict):
        return {k: _mark(v, allow_float) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mark(v, allow_float) for v in value]
    return value


def dumps(payload: Any, *, allow_float: bool = False) -> str:
    """JSON text in which every Decimal is a plain number with its exact digits.

    ``allow_float`` lets non-money floats (rates, coordinates) through unchanged.
    """
    return _MARKED.sub(r"\1", json.dumps(_mark(payload, allow_float), ensure_ascii=False))


def loads(text: str | bytes) -> Any:
    return json.loads(text, parse_float=Decimal)
