"""The month-end partitions: calendar month x legal entity (the F&O company).

Months are a time dimension (finance picks "2026-11" in the UI; a backfill covers a quarter),
from ``ML_CONNECTOR_FIRST_MONTH`` to the month in progress (``end_offset=1``: a reconciliation
mid-month shows where the close stands). The companies are the payroll flow's dynamic
partition: the same names, added as companies are first posted or reconciled.
"""

from dataclasses import dataclass

import dagster as dg

from ml_connector_dagster.config.settings import current_settings
from ml_connector_dagster.defs.payroll.partitions import legal_entities
from ml_connector_dagster.month_end.month import Month

months = dg.MonthlyPartitionsDefinition(
    start_date=current_settings().first_month, fmt="%Y-%m", end_offset=1
)
month_partitions = dg.MultiPartitionsDefinition({"month": months, "legal_entity": legal_entities})


@dataclass(frozen=True)
class MonthPartition:
    """One month x company, from Dagster's key ``USMF|2026-11``."""

    month: Month
    company: str

    @classmethod
    def parse(cls, key: str) -> "MonthPartition":
        company, sep, month = str(key).partition("|")
        if not sep or not company:
            raise ValueError(f"{key!r} is not a month-end partition: expected COMPANY|YYYY-MM")
        return cls(Month.parse(month), company.upper())

    def key(self) -> dg.MultiPartitionKey:
        return dg.MultiPartitionKey({"month": str(self.month), "legal_entity": self.company})

    def __str__(self) -> str:
        return str(self.key())
