"""Review tables as Dagster table metadata: typed columns, amounts as numbers, currency a column.

The UI sorts and filters a ``MetadataValue.table`` by column, which a Markdown table cannot
offer, and a number column lets a reviewer sort by amount. Dagster's ``TableRecord`` holds only
JSON scalars (str, int, float, bool), not ``Decimal``: an amount is converted with ``float()``
here, at the display boundary and nowhere else. A cent amount of a payroll (far below 10**13)
displays back as the same decimal, but a float is not exact and nothing decides on it: the
checks run on ``Decimal`` before a table is built, the audit trail stores exact text, and where
a reviewer or a command needs an amount to the cent the asset puts its exact text beside the
table (``totals_exact``, ``total_debit_exact``, ``differences_exact``, the corrections' ``rows``).
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from enum import Enum

import dagster as dg

LIMIT = 200  # rows shown; the asset's own counts say how many there are


def text(name: str, description: str = "") -> dg.TableColumn:
    return dg.TableColumn(name, type="string", description=description or None)


def count(name: str, description: str = "") -> dg.TableColumn:
    return dg.TableColumn(name, type="int", description=description or None)


def money(name: str, description: str = "") -> dg.TableColumn:
    """An amount column: a number for display (see the module docstring), never for decisions."""
    return dg.TableColumn(name, type="float", description=description or None)


def currency(description: str = "ISO 4217 code of the amounts in the row") -> dg.TableColumn:
    return text("currency", description)


def _cell(value: object) -> str | int | float | bool | None:
    # Dagster serializes only plain scalars: an enum (even a str or int one) becomes its value.
    if isinstance(value, Enum):
        value = value.value
    if value is None or isinstance(value, bool):
        return value if value is None else bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str.__str__(value)  # the text itself, whatever a subclass's __str__ says
    if isinstance(value, Decimal):
        return float(value)  # display only: see the module docstring
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def table(
    columns: Sequence[dg.TableColumn], rows: Iterable[Sequence[object]], limit: int = LIMIT
) -> dg.TableMetadataValue:
    """A table of ``rows`` (cells in column order), the first ``limit`` of them."""
    names = [column.name for column in columns]
    records = []
    for row in list(rows)[:limit]:
        if len(row) != len(names):
            raise ValueError(f"a row of {len(row)} cells for {len(names)} columns: {names}")
        records.append(dg.TableRecord({n: _cell(v) for n, v in zip(names, row, strict=True)}))
    return dg.MetadataValue.table(records=records, schema=dg.TableSchema(columns=list(columns)))


def cells(value: dg.TableMetadataValue) -> list[dict[str, object]]:
    """The records of a table as plain dicts (for commands and tests reading metadata)."""
    return [dict(record.data) for record in value.records]
