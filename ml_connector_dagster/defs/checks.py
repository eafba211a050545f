"""The five blocking checks of accounting.md: nothing posts in a run where one fails.

Each check puts a table of what failed into its metadata, so the reviewer sees the worker, the
item and the amounts without opening code.
"""

import dagster as dg

from ml_connector_dagster.defs.payroll import labor_cost_journals, payroll_cost_snapshot
from ml_connector_dagster.defs.resources import ConnectorResource
from ml_connector_dagster.dynamics import readers
from ml_connector_dagster.ledger.checks import (
    DynamicsReference,
    Finding,
    check_balanced,
    check_dynamics_values,
    check_format,
    check_reconciled,
    check_source,
)
from ml_connector_dagster.ledger.journal import JournalBuild
from ml_connector_dagster.payroll.snapshot import PeriodSnapshot
from ml_connector_dagster.payroll.summary import findings_table


def _result(findings: list[Finding], passed_text: str, **extra) -> dg.AssetCheckResult:
    metadata = {
        "failures": len(findings),
        "details": dg.MetadataValue.md(findings_table(findings) if findings else passed_text),
        **extra,
    }
    return dg.AssetCheckResult(
        passed=not findings, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata
    )


@dg.asset_check(
    asset=payroll_cost_snapshot,
    blocking=True,
    name="source_sane",
    description="Every record: gross = net + employee taxes + employee deductions +"
    " garnishments, and each summary equals its line items. Redactions are listed.",
)
def source_sane(payroll_cost_snapshot: dict[str, PeriodSnapshot]) -> dg.AssetCheckResult:
    records = [r for s in payroll_cost_snapshot.values() for r in s.all_records()]
    redacted = sorted({w for s in payroll_cost_snapshot.values() for w in s.redacted})
    return _result(
        check_source(records),
        f"{len(records)} records satisfy Rippling's identities",
        redacted_workers=dg.MetadataValue.json(redacted[:200]),
    )


@dg.asset_check(
    asset=labor_cost_journals,
    blocking=True,
    name="balanced",
    description="Debits equal credits per journal and per voucher, to the cent.",
)
def balanced(labor_cost_journals: dict[str, list[JournalBuild]]) -> dg.AssetCheckResult:
    findings = [
        f
        for builds in labor_cost_journals.values()
        for b in builds
        for f in check_balanced(b.journal)
    ]
    return _result(findings, "every journal and voucher balances")


@dg.asset_check(
    asset=labor_cost_journals,
    blocking=True,
    name="reconciled",
    additional_ins={"snapshots": dg.AssetIn(key=payroll_cost_snapshot.key)},
    description="Journal totals per category equal Rippling's own reported totals for the run.",
)
def reconciled(
    labor_cost_journals: dict[str, list[JournalBuild]], snapshots: dict[str, PeriodSnapshot]
) -> dg.AssetCheckResult:
    findings = []
    for key, builds in labor_cost_journals.items():
        snapshot = snapshots[key]
        for build in builds:
            records = snapshot.records.get(build.journal.identity.run_id, [])
            findings += check_reconciled(build.journal, records)
    return _result(findings, "journal totals equal Rippling's totals per category")


@dg.asset_check(
    asset=labor_cost_journals,
    blocking=True,
    name="fully_mapped",
    description="Every worker and pay item has an account and dimension values.",
)
def fully_mapped(labor_cost_journals: dict[str, list[JournalBuild]]) -> dg.AssetCheckResult:
    problems = [p for builds in labor_cost_journals.values() for b in builds for p in b.problems]
    findings = [
        Finding(f"worker {p.worker_id}", p.item, "mapped", p.missing, f"record {p.record_id}")
        for p in problems
    ]
    return _result(findings, "every worker and item is mapped")


@dg.asset_check(
    asset=labor_cost_journals,
    blocking=True,
    name="valid_in_dynamics",
    description="The mapping's format equals the active F&O ledger format and"
    " delimiter; accounts and known dimension values are usable (read before any"
    " write). Values F&O does not list are warnings: its atomic write is the backstop.",
)
def valid_in_dynamics(
    connector: ConnectorResource, labor_cost_journals: dict[str, list[JournalBuild]]
) -> dg.AssetCheckResult:
    mapping = connector.mapping()
    journals = [b.journal for builds in labor_cost_journals.values() for b in builds]
    with connector.dynamics() as dynamics:
        active = readers.active_format(dynamics)
        charts = {
            str(row.get("ChartOfAccounts"))
            for row in readers.ledgers(dynamics)
            if str(row.get("LegalEntityId", "")).upper() in mapping.companies
        }
        accounts = {str(r["MainAccountId"]): r for r in readers.main_accounts(dynamics, charts)}
        values = {
            (str(r["FinancialDimension"]), str(r["DimensionValue"])): r
            for r in readers.financial_dimension_values(
                dynamics, mapping.dimension_format.financial_dimensions
            )
        }
        names = readers.journal_names(dynamics, mapping.companies)
    findings = check_format(
        mapping.dimension_format,
        DynamicsReference(active.dimensions, active.delimiter, {}, {}, frozenset()),
    )
    warnings: list[Finding] = []
    for journal in journals:
        reference = DynamicsReference(
            ledger_format=active.dimensions,
            delimiter=active.delimiter,
            main_accounts=accounts,
            dimension_values=values,
            journal_names=frozenset(
                str(n["Name"])
                for n in names
                if str(n.get("dataAreaId", "")).upper() == journal.company
            ),
        )
        blocking, warned = check_dynamics_values(journal, reference)
        findings += blocking
        warnings += warned
    return _result(
        findings,
        f"format {active.display} matches; accounts and values usable",
        active_format=active.display,
        warnings=dg.MetadataValue.md(findings_table(warnings) if warnings else "none"),
    )


PAYROLL_CHECKS = [source_sane, balanced, reconciled, fully_mapped, valid_in_dynamics]
