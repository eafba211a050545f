"""The payroll partitions: pay period (its end date) x legal entity (the F&O company).

Both dimensions are dynamic: the sensor adds a pay period when a run reaches its trigger
state, and the companies come from the mapping. Dynamic partition names are global in an
instance, so they carry the connection name (``ML_CONNECTOR_CONNECTION``).
"""

import os
import re

import dagster as dg

CONNECTION = os.environ.get("ML_CONNECTOR_CONNECTION", "default")
# One writer per Dynamics environment: every step that writes to F&O takes a slot of this pool
# (dagster.yaml limits pools to 1 slot).
DYNAMICS_POOL = f"dynamics__{CONNECTION}"

pay_periods = dg.DynamicPartitionsDefinition(name=f"{CONNECTION}__pay_period")
legal_entities = dg.DynamicPartitionsDefinition(name=f"{CONNECTION}__legal_entity")
payroll_partitions = dg.MultiPartitionsDefinition(
    {"pay_period": pay_periods, "legal_entity": legal_entities}
)

_PAY_PERIOD = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COMPANY = re.compile(r"^[A-Z0-9_-]{1,20}$")


def partition_key(pay_period: str, company: str) -> dg.MultiPartitionKey:
    """A validated key: a dynamic key containing '|' or ',' would be dropped silently."""
    if not _PAY_PERIOD.match(pay_period):
        raise ValueError(f"pay period {pay_period!r} must be an end date like 2026-11-15")
    if not _COMPANY.match(company):
        raise ValueError(f"legal entity {company!r} must be a dataAreaId like USMF")
    return dg.MultiPartitionKey({"pay_period": pay_period, "legal_entity": company})


def split_key(key: str) -> tuple[str, str]:
    """(pay_period, company) of a multi-partition key string."""
    dims = payroll_partitions.get_partition_key_from_str(key).keys_by_dimension
    return dims["pay_period"], dims["legal_entity"]
