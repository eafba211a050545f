"""What the month-end accrual is estimated from, read from Rippling for one company and month.

The company's settled runs (their periods and check dates) decide which days of the month are
unpaid (``ledger/month_end_accrual.py``); the basis runs' settlement journals, built fresh by
the same mapping, allocation and builder as their posting, give the accounts, dimensions and
amounts the accrual scales.
"""

from dataclasses import dataclass, field

from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.ledger.journal import JournalBuild, JournalType
from ml_connector_dagster.ledger.month_end_accrual import PaidPeriod, basis_runs, unpaid_span
from ml_connector_dagster.month_end.month import Month
from ml_connector_dagster.payroll.journals import journals_for
from ml_connector_dagster.payroll.selection import SETTLED_STATES, run_company
from ml_connector_dagster.payroll.snapshot import read_snapshots
from ml_connector_dagster.rippling.client import RipplingClient


@dataclass
class AccrualInputs:
    paid: list[PaidPeriod]
    # The basis runs' settlement journals (run id -> build), empty when nothing is unpaid.
    builds: dict[str, JournalBuild] = field(default_factory=dict)
    worker_ids: list[str] = field(default_factory=list)
    record_ids: list[str] = field(default_factory=list)


def read_accrual_inputs(
    client: RipplingClient, mapping: PayrollMapping, company: str, month: Month
) -> AccrualInputs:
    runs = list(client.payroll_runs())
    paid = [
        PaidPeriod(
            run_id=run.id,
            run_type=run.run_type or "",
            period_start=run.pay_period.start_date,
            period_end=run.pay_period.end_date,
            check_date=run.check_date,
        )
        for run in runs
        if (run.run_state or "") in SETTLED_STATES
        and run_company(run, mapping) == company
        and run.pay_period is not None
        and run.check_date is not None
    ]
    inputs = AccrualInputs(paid=paid)
    if unpaid_span(month.last_day, paid) is None:
        return inputs
    chosen, _fallback = basis_runs(month.last_day, paid)
    periods = sorted({p.period_end.isoformat() for p in chosen})
    wanted = {p.run_id for p in chosen}
    snapshots = read_snapshots(
        client, mapping, [(period, company) for period in periods], runs_list=lambda: runs
    )
    for snapshot in snapshots.values():
        for build in journals_for(snapshot, mapping):
            identity = build.journal.identity
            if identity.journal_type is JournalType.SETTLEMENT and identity.run_id in wanted:
                inputs.builds[identity.run_id] = build
                inputs.worker_ids.extend(build.journal.worker_ids)
                inputs.record_ids.extend(build.journal.source_record_ids)
    inputs.worker_ids = sorted(set(inputs.worker_ids))
    inputs.record_ids = sorted(set(inputs.record_ids))
    return inputs
