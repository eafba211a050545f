"""Which journals a pay period's snapshot yields: one per run and journal type.

A settled run (PAID, CLOSED) yields a settlement journal. An APPROVED run yields an accrual
journal (dated at period end, reversing the next day) when the mapping asks for accruals, either
with ``journal.accrual`` or with ``trigger_state: APPROVED``; once the run is paid its
settlement journal follows under its own identity.

The snapshot's records are already the ledger's inputs; its runs are Rippling's and are turned
into ``PayRun`` here, the boundary between the two.
"""

from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.ledger.builder import LineWorkers
from ml_connector_dagster.ledger.journal import JournalBuild, JournalType, build_journal
from ml_connector_dagster.payroll.selection import SETTLED_STATES
from ml_connector_dagster.payroll.snapshot import PeriodSnapshot
from ml_connector_dagster.payroll.to_ledger import ledger_run


def accruals_enabled(mapping: PayrollMapping) -> bool:
    return mapping.journal.accrual or mapping.journal.trigger_state == "APPROVED"


def journals_for(
    snapshot: PeriodSnapshot,
    mapping: PayrollMapping,
    line_workers: dict[str, LineWorkers] | None = None,
) -> list[JournalBuild]:
    """One build per run that yields a journal; ``line_workers`` (when given) receives, per
    run id, the workers behind each line's place (``ledger.builder.LineWorkers``)."""
    company = mapping.company(snapshot.company)
    if company is None:
        raise ValueError(f"legal entity {snapshot.company} is not in the mapping")
    builds = []
    for run in snapshot.runs:
        records = snapshot.records.get(run.id, [])
        if (run.run_state or "") in SETTLED_STATES:
            journal_type = JournalType.SETTLEMENT
        elif run.run_state == "APPROVED" and accruals_enabled(mapping):
            journal_type = JournalType.ACCRUAL
        else:
            continue
        builds.append(
            build_journal(
                ledger_run(run),
                records,
                snapshot.workers,
                mapping,
                company,
                journal_type,
                None if line_workers is None else line_workers.setdefault(run.id, {}),
                # A snapshot stored before hours existed has none.
                getattr(snapshot, "hours", {}).get(run.id),
            )
        )
    return builds
