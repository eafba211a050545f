"""Which journals a pay period's snapshot yields: one per run and journal type.

A settled run (PAID, CLOSED) yields a settlement journal. An APPROVED run yields an accrual
journal (dated at period end, reversing the next day) when the mapping asks for accruals, either
with ``journal.accrual`` or with ``trigger_state: APPROVED``; once the run is paid its
settlement journal follows under its own identity.
"""

from ml_connector_dagster.ledger.journal import JournalBuild, JournalType, build_journal
from ml_connector_dagster.ledger.mapping import PayrollMapping
from ml_connector_dagster.payroll.selection import SETTLED_STATES
from ml_connector_dagster.payroll.snapshot import PeriodSnapshot


def accruals_enabled(mapping: PayrollMapping) -> bool:
    return mapping.journal.accrual or mapping.journal.trigger_state == "APPROVED"


def journals_for(snapshot: PeriodSnapshot, mapping: PayrollMapping) -> list[JournalBuild]:
    company = mapping.company(snapshot.company)
    if company is None:
        raise ValueError(f"legal entity {snapshot.company} is not in the mapping")
    builds = []
    for run in snapshot.runs:
        records = snapshot.records.get(run.id, [])
        if (run.run_state or "") in SETTLED_STATES:
            builds.append(build_journal(run, records, snapshot.workers, mapping, company))
        elif run.run_state == "APPROVED" and accruals_enabled(mapping):
            builds.append(
                build_journal(run, records, snapshot.workers, mapping, company, JournalType.ACCRUAL)
            )
    return builds
