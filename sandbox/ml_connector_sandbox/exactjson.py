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


def _mark(value: Any) -> str:
    """``json.dumps``'s ``default``: called for what JSON cannot write itself, so the payload is
    not walked twice in Python (a large page spent ~40% of its time in such a walk)."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot write a non-finite amount ({value})")
        return f"{_MARK}{value:f}"
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumps(payload: Any) -> str:
    """JSON text in which every Decimal is a bare number with exactly its digits."""
    return _MARKED.sub(r"\1", json.dumps(payload, ensure_ascii=False, default=_mark))
