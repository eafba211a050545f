"""The company-wide Rippling workforce, read once and shared by a pay period's company runs.

Workers, job assignments and job codes are lists of the whole Rippling company (the v2 workers
list has no legal-entity filter), yet a payroll partition is one pay period x one F&O company.
Read per partition, a 12-company pay period read every list 12 times: 87% of its requests at
50,000 workers (issue 12). So the read is kept in ``rippling/workforce_snapshot``, one
partition per pay period, and every company run of the period takes it from there:

- under a file lock beside the stored values, so company runs running at the same time wait
  for one read instead of each making it (the OS releases the lock of a process that dies);
- only while it is fresh: read within ``ML_CONNECTOR_WORKFORCE_MAX_AGE_SECONDS`` (default one
  hour; 0 turns sharing off), and only if it knows every worker the run's records name, so a
  worker hired after the read (a correction run paying them) makes the run read again;
- a fresh read of another period (the newest read, kept apart) serves too: a backfill of four
  periods reads the workforce once, not four times. Rippling's workforce is "now" in any case
  (the lists have no as-of date), so an older period read today gets today's departments
  either way.

The run that reads records the read as a materialization of the period's partition, so the
asset's history shows when the departments and job codes a period was posted with were read,
and by which run. Materializing the asset itself (the UI, a backfill) always reads anew.
"""

import datetime as dt
from dataclasses import dataclass

import dagster as dg

from ml_connector_dagster import clock
from ml_connector_dagster.defs import naming
from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager
from ml_connector_dagster.defs.payroll.partitions import pay_periods
from ml_connector_dagster.defs.resources import ConnectorResource
from ml_connector_dagster.payroll.snapshot import PeriodWorkforce, read_workforce
from ml_connector_dagster.rippling.client import RipplingClient

WORKFORCE_KEY = naming.asset_key("rippling", "workforce_snapshot")
LATEST = None  # the newest read, whichever period made it: the unpartitioned value


@dataclass(frozen=True)
class WorkforceUse:
    """Where a run's workforce came from, in the words its metadata shows."""

    read_at: dt.datetime
    how: str  # "read": this run read Rippling; "stored": the period's; "shared": another's

    def describe(self, now: dt.datetime) -> str:
        minutes = max(0, int((now - self.read_at).total_seconds() // 60))
        when = f"read from Rippling at {self.read_at.isoformat(timespec='seconds')}"
        if self.how == "read":
            return f"{when} by this run"
        return f"{when} ({minutes} min before) by an earlier run, shared"


def _usable(value: object, needed: set[str], max_age: dt.timedelta, now: dt.datetime) -> bool:
    return (
        isinstance(value, PeriodWorkforce)
        and max_age > dt.timedelta(0)
        and dt.timedelta(0) <= now - value.read_at <= max_age
        and not value.missing(needed)
    )


def shared_workforce(
    io_manager: PartitionFilesIOManager,
    rippling: RipplingClient,
    pay_period: str,
    needed: set[str],
    max_age: dt.timedelta,
    concurrency: int = 1,
    time_splits: bool = True,
) -> tuple[PeriodWorkforce, WorkforceUse]:
    """The period's workforce: its stored read or the newest one if fresh and knowing every
    id in ``needed``, else a new read (stored for the period and as the newest)."""
    with io_manager.exclusive(WORKFORCE_KEY):
        now = clock.now()
        stored = io_manager.load_value(WORKFORCE_KEY, pay_period)
        if _usable(stored, needed, max_age, now):
            return stored, WorkforceUse(stored.read_at, "stored")
        newest = io_manager.load_value(WORKFORCE_KEY, LATEST)
        if _usable(newest, needed, max_age, now):
            io_manager.store_value(WORKFORCE_KEY, pay_period, newest)
            return newest, WorkforceUse(newest.read_at, "shared")
        fresh = read_workforce(rippling, concurrency, time_splits)
        io_manager.store_value(WORKFORCE_KEY, pay_period, fresh)
        io_manager.store_value(WORKFORCE_KEY, LATEST, fresh)
        return fresh, WorkforceUse(fresh.read_at, "read")


def workforce_metadata(workforce: PeriodWorkforce, use: WorkforceUse) -> dict:
    return {
        "workers": len(workforce.workers),
        "read_at": workforce.read_at.isoformat(timespec="seconds"),
        "redacted_workers": len(workforce.redacted),
        "source": use.how,
    }


@dg.asset(
    key=WORKFORCE_KEY,
    partitions_def=pay_periods,
    group_name=naming.name("payroll"),
    kinds={"rippling"},
    description="Every worker's department, job codes and redactions as Rippling listed them,"
    " read once for the company runs of a pay period (they record it here when they read it)."
    " Materializing it reads Rippling again.",
)
def workforce_snapshot(
    context: dg.AssetExecutionContext,
    connector: ConnectorResource,
    io_manager: dg.ResourceParam[PartitionFilesIOManager],
) -> dg.Output[dict]:
    pay_period = context.partition_key
    with io_manager.exclusive(WORKFORCE_KEY), connector.rippling() as rippling:
        fresh = read_workforce(
            rippling,
            connector.settings().rippling_concurrency,
            time_splits="time_split" in connector.mapping().allocation.order,
        )
        io_manager.store_value(WORKFORCE_KEY, LATEST, fresh)
    return dg.Output(
        {pay_period: fresh}, metadata=workforce_metadata(fresh, WorkforceUse(fresh.read_at, "read"))
    )
