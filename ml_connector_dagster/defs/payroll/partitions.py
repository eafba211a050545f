"""The payroll partitions: pay period (its end date) x legal entity (the F&O company).

Both dimensions are dynamic: the sensor adds a pay period when a run reaches its trigger
state, and the companies come from the mapping. Dynamic partition names are global in an
instance, so they carry the connection name (``ML_CONNECTOR_CONNECTION``, ``pools.py``).
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import dagster as dg

from ml_connector_dagster.defs.pools import CONNECTION

pay_periods = dg.DynamicPartitionsDefinition(name=f"{CONNECTION}__pay_period")
legal_entities = dg.DynamicPartitionsDefinition(name=f"{CONNECTION}__legal_entity")
payroll_partitions = dg.MultiPartitionsDefinition(
    {"pay_period": pay_periods, "legal_entity": legal_entities}
)

_PAY_PERIOD = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COMPANY = re.compile(r"^[A-Z0-9_-]{1,20}$")


@dataclass(frozen=True)
class PayrollPartition:
    """One pay period x company: the value behind a partition key, never a string to split.

    Validated on creation: a dynamic key containing ``|`` or ``,`` would be dropped silently by
    Dagster, so a bad pay period or company is refused with a clear message instead.
    """

    pay_period: str  # the period's end date, 2026-11-15
    company: str  # the F&O dataAreaId, USMF

    def __post_init__(self) -> None:
        if not _PAY_PERIOD.match(self.pay_period):
            raise ValueError(f"pay period {self.pay_period!r} must be an end date like 2026-11-15")
        if not _COMPANY.match(self.company):
            raise ValueError(f"legal entity {self.company!r} must be a dataAreaId like USMF")

    def key(self) -> dg.MultiPartitionKey:
        return dg.MultiPartitionKey({"pay_period": self.pay_period, "legal_entity": self.company})

    def __str__(self) -> str:
        return str(self.key())  # Dagster's form, dimensions in name order: "USMF|2026-11-15"

    @classmethod
    def parse(cls, key: str) -> "PayrollPartition":
        """The partition of a key string as Dagster, the audit trail and the CLI write it."""
        company, sep, pay_period = key.partition("|")
        if not sep:
            raise ValueError(f"{key!r} is not a payroll partition: expected COMPANY|PAY_PERIOD")
        return cls(pay_period, company)


def partition_key(pay_period: str, company: str) -> dg.MultiPartitionKey:
    """The validated Dagster key of (pay period, company)."""
    return PayrollPartition(pay_period, company).key()


def split_key(key: str) -> tuple[str, str]:
    """(pay_period, company) of a multi-partition key string."""
    partition = PayrollPartition.parse(key)
    return partition.pay_period, partition.company


# How Dagster's backfill daemon tags a run of a ``BackfillPolicy.multi_run(1)`` asset backfill:
# a range of one key (start == end), not ``dagster/partition``.
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


class _PartitionedContext(Protocol):
    """What an asset's and an asset check's execution context both say about partitions."""

    @property
    def has_partition_key(self) -> bool: ...
    @property
    def partition_key(self) -> str: ...
    @property
    def has_partition_key_range(self) -> bool: ...
    @property
    def partition_key_range(self) -> dg.PartitionKeyRange: ...


def single_partition_key(context: _PartitionedContext) -> str | None:
    """The one partition a step runs for, or None (unpartitioned, or a range of several keys).

    Why not just ``context.partition_key``: a run the UI's backfill launches through the daemon
    (one run per partition, ``multi_run(1)``) carries a range of one key, and then
    ``has_partition_key`` is False although the run covers exactly one partition.
    """
    if context.has_partition_key:
        return str(context.partition_key)
    if context.has_partition_key_range:
        span = context.partition_key_range
        if span.start == span.end:
            return str(span.start)
    return None


def run_partition_key(tags: Mapping[str, str]) -> str | None:
    """The one partition a run covers, from its tags (``dagster/partition``, or a range of one
    key as a backfill's runs carry it); None otherwise."""
    if tags.get("dagster/partition"):
        return tags["dagster/partition"]
    start = tags.get(RANGE_START_TAG)
    if start and start == tags.get(RANGE_END_TAG):
        return start
    return None
