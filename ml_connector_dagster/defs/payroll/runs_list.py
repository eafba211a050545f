"""Rippling's payroll runs list, shared by the runs the pay-run sensor asks for in one tick.

A 12-company pay period's runs each read the company-wide runs list to find their own runs.
A run the sensor asked for takes the newest stored read instead when that read shows exactly
the runs and states the sensor saw for its partition and is at most a few minutes old
(``payroll/runs_seen.py`` says why that loses no pay run); otherwise it reads the list and
stores it for the next. Kept beside the stored values under a file lock, like the workforce.
"""

from ml_connector_dagster import clock
from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.defs import naming
from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager
from ml_connector_dagster.payroll.runs_seen import RunsListRead, RunsSeen
from ml_connector_dagster.rippling.client import RipplingClient

# Where the read is kept among the stored values (a storage key, not an asset of the graph).
RUNS_LIST_KEY = naming.asset_key("rippling", "payroll_runs_list")


def shared_runs_list(
    io_manager: PartitionFilesIOManager,
    rippling: RipplingClient,
    mapping: PayrollMapping,
    pay_period: str,
    company: str,
    seen: RunsSeen | None,
) -> tuple[RunsListRead, str]:
    """The runs list for the run of (``pay_period``, ``company``) and how it came: "shared"
    (a stored read that shows what the sensor saw) or "read" (read from Rippling now)."""
    with io_manager.exclusive(RUNS_LIST_KEY):
        if seen is not None:
            stored = io_manager.load_value(RUNS_LIST_KEY, None)
            if isinstance(stored, RunsListRead) and stored.shows(
                seen, mapping, pay_period, company, clock.now()
            ):
                return stored, "shared"
        fresh = RunsListRead(clock.now(), list(rippling.payroll_runs()))
        io_manager.store_value(RUNS_LIST_KEY, None, fresh)
        return fresh, "read"
