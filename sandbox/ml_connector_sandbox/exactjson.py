"""JSON whose Decimals are written as exact JSON numbers with their own digits (``10.50``).

The stand-ins send money as numbers the way the real services do, never through float; this is
the sandbox's own writer, so the sandbox imports nothing from the product it stands in for.
"""

import json
import re
from decimal import Decimal
from typing import Any

_MARK = "\u0000dec:"
_MARKED = re.compile(r'"\\u0000dec:(-?[0-9]+(?:\.[0-9]+)?)"')


def _mark(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot write a non-finite amount ({value})")
        return f"{_MARK}{value:f}"
    if isinstance(value, dict):
        return {k: _mark(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mark(v) for v in value]
    return value


def dumps(payload: Any) -> str:
    """JSON text in which every Decimal is a bare number with exactly its digits."""
    return _MARKED.sub(r"\1", json.dumps(_mark(payload), ensure_ascii=False))
