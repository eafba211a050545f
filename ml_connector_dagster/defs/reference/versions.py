"""The data version of a reference asset: a hash of what it holds, not of when it was read.

Without one, Dagster gives every materialization a new version, so each daily refresh marks
every journal partition downstream stale although Rippling and F&O said the same thing as the
day before. The hash is of canonical JSON: keys sorted, and lists of rows (lists of objects)
sorted too, because an API may list the same rows in another order. A list of plain values
keeps its order: the ledger dimension format ``[MainAccount, BusinessUnit, Department]`` means
something else in another order. Nothing read-time-dependent belongs in the value hashed: the
reference assets keep read times (watermarks) in metadata only.
"""

import hashlib
import json
from typing import Any

import dagster as dg


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        items = [_canonical(v) for v in value]
        if items and all(isinstance(v, dict) for v in items):
            return sorted(items, key=_dumps)
        return items
    return value


def _dumps(value: Any) -> str:
    # default=str: Decimal and dates as their exact text, never as a float
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def content_version(value: Any) -> dg.DataVersion:
    """``DataVersion`` of ``value``: equal for equal content, whatever the order of its rows."""
    digest = hashlib.sha256(_dumps(_canonical(value)).encode()).hexdigest()
    return dg.DataVersion(digest)
