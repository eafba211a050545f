"""The journals' ``allocation`` metadata: which source placed each worker's cost on job codes.

One row per run, source and currency (``ledger/time_allocation.py``: time entries, time split,
job assignments, department) with the workers and records it placed and their expense
(earnings, employer taxes and contributions). Finance reads it to see how much of the cost
followed logged hours and how much was split equally or left on the department.

An amount is one person's pay when its row sums fewer than ``MIN_WORKERS_PER_ROW`` workers;
at the summary detail level every amount of the table is then withheld, not just that row's:
the partition's total debit minus the other rows would give it back. Counts always show.
"""

from collections.abc import Iterable

import dagster as dg

from ml_connector_dagster.defs import tables
from ml_connector_dagster.defs.payroll.checks import MIN_WORKERS_PER_ROW
from ml_connector_dagster.ledger.entries import JournalBuild

ALLOCATION_COLUMNS = (
    tables.text("run", "the Rippling payroll run"),
    tables.text(
        "source",
        "what placed the workers' cost: time_entries, time_split, job_assignments or"
        " department (the mapping's allocation.order)",
    ),
    tables.currency(),
    tables.count("workers"),
    tables.count("records"),
    tables.money("expense", "earnings, employer taxes and employer contributions"),
    tables.text("note"),
)
FEW_WORKERS = f"(a source with fewer than {MIN_WORKERS_PER_ROW} workers: amounts withheld)"


def allocation_rows(
    builds: Iterable[JournalBuild], worker_detail: bool, withheld: str = ""
) -> list[tuple]:
    """The table's rows; ``withheld`` is why the partition's totals are withheld ("" if not)."""
    summaries = [(b.journal.identity.run_id, s) for b in builds for s in b.allocation]
    few = any(0 < s.workers < MIN_WORKERS_PER_ROW for _, s in summaries)
    if not worker_detail and not withheld and few:
        withheld = FEW_WORKERS
    hide = bool(withheld) and not worker_detail
    return [
        (
            run_id,
            s.source,
            s.currency,
            s.workers,
            s.records,
            None if hide else s.amount,
            withheld if hide else "",
        )
        for run_id, s in summaries
    ]


def allocation_table(
    builds: Iterable[JournalBuild], worker_detail: bool, withheld: str = ""
) -> dg.TableMetadataValue:
    return tables.table(ALLOCATION_COLUMNS, allocation_rows(builds, worker_detail, withheld))
