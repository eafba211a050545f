"""A run of one partition is recognised however Dagster tagged it: ``dagster/partition`` (the
sensor, ``ml-connector run``) or a range of one key (the backfill daemon's runs of a
``multi_run(1)`` backfill); a range of several keys is not one partition."""

from dataclasses import dataclass

import dagster as dg

from ml_connector_dagster.defs.payroll.partitions import (
    RANGE_END_TAG,
    RANGE_START_TAG,
    run_partition_key,
    single_partition_key,
)

ONE = "USMF|2026-11-14"
OTHER = "USMF|2026-11-28"


@dataclass
class _Context:
    """The partition facts of an asset's or a check's execution context."""

    key: str | None = None
    span: dg.PartitionKeyRange | None = None

    @property
    def has_partition_key(self) -> bool:
        return self.key is not None

    @property
    def partition_key(self) -> str:
        assert self.key is not None
        return self.key

    @property
    def has_partition_key_range(self) -> bool:
        return self.span is not None

    @property
    def partition_key_range(self) -> dg.PartitionKeyRange:
        assert self.span is not None
        return self.span


def test_a_range_of_one_key_is_that_partition() -> None:
    assert single_partition_key(_Context(key=ONE)) == ONE
    assert single_partition_key(_Context(span=dg.PartitionKeyRange(ONE, ONE))) == ONE
    assert single_partition_key(_Context(span=dg.PartitionKeyRange(ONE, OTHER))) is None
    assert single_partition_key(_Context()) is None


def test_a_runs_tags_name_its_one_partition() -> None:
    assert run_partition_key({"dagster/partition": ONE}) == ONE
    assert run_partition_key({RANGE_START_TAG: ONE, RANGE_END_TAG: ONE}) == ONE
    assert run_partition_key({RANGE_START_TAG: ONE, RANGE_END_TAG: OTHER}) is None
    assert run_partition_key({"dagster/backfill": "abc"}) is None
