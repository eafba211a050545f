"""Which Rippling payroll runs belong to a pay period x company: one rule, used everywhere.

The pay-run sensor (which partitions to request), the snapshot (which runs a partition posts)
and the CLI's date check all ask this module, so "the runs of (period, company)" exists once.
A run belongs to the company whose mapping lists its ``company_entity_id`` (the mapping refuses
an id listed for two companies) and to the period its pay period ends on.
"""

from collections import defaultdict
from collections.abc import Iterable

from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.rippling.models import PayrollRun

SETTLED_STATES = frozenset({"PAID", "CLOSED"})


def trigger_states(mapping: PayrollMapping) -> frozenset[str]:
    """Run states that produce a journal: PAID (settlement), plus APPROVED for accruals."""
    states = set(SETTLED_STATES)
    if mapping.journal.trigger_state == "APPROVED" or mapping.journal.accrual:
        states.add("APPROVED")
    return frozenset(states)


def run_period(run: PayrollRun) -> str | None:
    """The pay period a run belongs to: its end date (the partition's key), if it has one."""
    return run.pay_period.end_date.isoformat() if run.pay_period is not None else None


def run_company(run: PayrollRun, mapping: PayrollMapping) -> str | None:
    """The F&O company of a run, or None when the mapping does not list its entity."""
    entity = mapping.company_for_company_entity(run.company_entity_id)
    return entity.company if entity is not None else None


def _in_order(runs: Iterable[PayrollRun]) -> list[PayrollRun]:
    return sorted(runs, key=lambda run: (run.check_date or run.pay_period.end_date, run.id))


def period_runs(
    runs: Iterable[PayrollRun], mapping: PayrollMapping, pay_period: str, company: str
) -> list[PayrollRun]:
    """Every run ending on ``pay_period`` for ``company``, whatever its state, in check order."""
    return _in_order(
        run
        for run in runs
        if run_period(run) == pay_period and run_company(run, mapping) == company
    )


def runs_for(
    runs: Iterable[PayrollRun], mapping: PayrollMapping, pay_period: str, company: str
) -> list[PayrollRun]:
    """Runs ending on ``pay_period`` for ``company`` that reached a trigger state."""
    wanted = trigger_states(mapping)
    return [
        run
        for run in period_runs(runs, mapping, pay_period, company)
        if (run.run_state or "") in wanted
    ]


def trigger_groups(
    runs: Iterable[PayrollRun], mapping: PayrollMapping, *, since: str
) -> dict[tuple[str, str], list[PayrollRun]]:
    """(pay period, company) -> its runs in a trigger state, for periods ending on or after
    ``since``: exactly ``runs_for`` of each such partition."""
    wanted = trigger_states(mapping)
    groups: dict[tuple[str, str], list[PayrollRun]] = defaultdict(list)
    for run in runs:
        period, company = run_period(run), run_company(run, mapping)
        if period is None or company is None or period < since:
            continue
        if (run.run_state or "") in wanted:
            groups[(period, company)].append(run)
    return {key: _in_order(group) for key, group in sorted(groups.items())}
