"""Rippling's payroll register for one company and month, placed on the ledger.

The register of a month is every pay run of the company that Rippling settled (PAID, CLOSED)
and whose settlement is dated in the month: its check date, the date the connector posts it on
(``ledger.builder.journal_dates``). Each run is placed on accounts and dimensions by the same
mapping and builder the posting uses, read fresh from Rippling, so the reconciliation compares
what Rippling says today with what F&O holds, not the connector's memory of it.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.ledger.reconciliation import Place, RegisterLine
from ml_connector_dagster.ledger.vocabulary import DEBIT_ROLES, JournalType
from ml_connector_dagster.month_end.month import Month
from ml_connector_dagster.month_end.reconciled import RegisterRun
from ml_connector_dagster.payroll.journals import journals_for
from ml_connector_dagster.payroll.selection import SETTLED_STATES, run_company, run_period
from ml_connector_dagster.payroll.snapshot import read_snapshots
from ml_connector_dagster.rippling.client import RipplingClient
from ml_connector_dagster.rippling.models import PayrollRun


@dataclass
class MonthRegister:
    company: str
    month: str
    lines: list[RegisterLine] = field(default_factory=list)
    runs: list[RegisterRun] = field(default_factory=list)
    # Mapping problems of the month's runs (an unmapped earning code, a department without a
    # dimension): the register lacks those amounts, so the reconciliation cannot be trusted.
    problems: list[str] = field(default_factory=list)


def reconciled_accounts(mapping: PayrollMapping) -> tuple[str, ...]:
    """The main accounts a reconciliation covers: every labor-cost (expense) account of the
    mapping; with ``reconciliation.liability_accounts``, the payables and clearing accounts too
    (off by default: payments from the bank clear those, so they always hold other entries);
    plus ``reconciliation.extra_accounts``."""
    accounts = mapping.accounts
    earnings = accounts.earnings
    chosen = {
        *earnings.by_code.values(),
        *earnings.by_category.values(),
        *([earnings.default] if earnings.default else []),
        accounts.employer_taxes,
        accounts.employer_benefits,
        *mapping.reconciliation.extra_accounts,
    }
    if mapping.reconciliation.liability_accounts:
        chosen |= {
            accounts.taxes_payable,
            accounts.deductions_payable,
            accounts.garnishments_payable,
            accounts.net_pay_clearing,
        }
    return tuple(sorted(a for a in chosen if a))


def _month_runs(
    runs: Iterable[PayrollRun], mapping: PayrollMapping, company: str, month: Month
) -> list[PayrollRun]:
    return [
        run
        for run in runs
        if (run.run_state or "") in SETTLED_STATES
        and run_company(run, mapping) == company
        and run.check_date in month
        and run_period(run) is not None
    ]


def month_register(
    client: RipplingClient, mapping: PayrollMapping, company: str, month: Month
) -> MonthRegister:
    """The month's settled runs of ``company``, placed line by line (debit positive)."""
    register = MonthRegister(company=company, month=str(month))
    all_runs = list(client.payroll_runs())
    chosen = {run.id: run for run in _month_runs(all_runs, mapping, company, month)}
    periods = sorted({str(run_period(run)) for run in chosen.values()})
    snapshots = read_snapshots(
        client, mapping, [(period, company) for period in periods], runs_list=lambda: all_runs
    )
    expense_only = not mapping.reconciliation.liability_accounts
    for snapshot in snapshots.values():
        for build in journals_for(snapshot, mapping):
            journal = build.journal
            run_id = journal.identity.run_id
            if journal.identity.journal_type is not JournalType.SETTLEMENT or run_id not in chosen:
                continue
            register.problems.extend(
                f"run {run_id}, worker {p.worker_id}, {p.item}: {p.cause or p.missing}"
                for p in build.problems
            )
            kept = [
                line
                for line in journal.lines
                if not (expense_only and line.role not in DEBIT_ROLES)
            ]
            register.lines.extend(
                RegisterLine(
                    place=Place(
                        account=line.account,
                        dimensions=tuple((n, v) for n, v in line.dimensions if v),
                        currency=line.currency,
                    ),
                    amount=line.debit - line.credit,
                    run_id=run_id,
                )
                for line in kept
            )
            run = chosen[run_id]
            register.runs.append(
                RegisterRun(
                    run_id=run_id,
                    pay_period=str(run_period(run)),
                    check_date=str(run.check_date),
                    state=run.run_state or "",
                    lines=len(kept),
                )
            )
    register.runs.sort(key=lambda r: (r.check_date, r.run_id))
    return register
