"""A worker's gross pay in earlier pay periods: the history the ``plausible`` check compares a
gross with (``ledger/plausibility.py``).

Read from the snapshots this deployment already stored (the IO manager's encrypted files), not
from Rippling again: no extra request, and a period reads only its own company's files. So the
history is what was materialized here: a new deployment, a backfill started from the newest
period, or storage on another host give less or none, and the rule then judges fewer workers
(it never blocks, it only warns).
"""

from dataclasses import dataclass, field
from decimal import Decimal

import dagster as dg

from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager
from ml_connector_dagster.defs.payroll.partitions import partition_key, pay_periods
from ml_connector_dagster.ledger.plausibility import HISTORY_PERIODS, gross_history
from ml_connector_dagster.payroll.snapshot import PeriodSnapshot


@dataclass(frozen=True)
class GrossHistory:
    by_worker: dict[str, list[Decimal]] = field(default_factory=dict)
    periods: tuple[str, ...] = ()  # the earlier pay periods read, oldest first
    unreadable: tuple[str, ...] = ()  # partitions whose stored snapshot could not be read


def earlier_gross(
    instance: dg.DagsterInstance,
    io_manager: PartitionFilesIOManager,
    snapshot_key: dg.AssetKey,
    pay_period: str,
    company: str,
    depth: int = HISTORY_PERIODS,
) -> GrossHistory:
    """The gross of each worker in the ``depth`` newest earlier pay periods of ``company``
    whose snapshot is stored, oldest first."""
    earlier = sorted(p for p in instance.get_dynamic_partitions(pay_periods.name) if p < pay_period)
    keys = {str(partition_key(period, company)): period for period in earlier}
    found, unreadable = io_manager.load_partitions(snapshot_key, list(keys))
    stored = sorted((keys[k], v) for k, v in found.items() if isinstance(v, PeriodSnapshot))
    used = stored[-depth:] if depth > 0 else []
    return GrossHistory(
        by_worker=gross_history(snapshot.all_records() for _, snapshot in used),
        periods=tuple(period for period, _ in used),
        unreadable=tuple(sorted(unreadable)),
    )
