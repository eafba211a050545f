"""The five blocking checks of accounting.md: nothing posts in a run where one fails.

They are evaluated inside the step of the asset they guard (``check_specs`` on the asset), on
exactly the partitions that step built: a separate check step would load every partition of
the upstream asset, not just this run's. Each check puts a table of what failed into its
metadata, so the reviewer sees the worker, the item and the amounts without opening code.
"""

import dagster as dg

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

SNAPSHOT_KEY = dg.AssetKey(["rippling", "payroll_cost_snapshot"])
JOURNALS_KEY = dg.AssetKey(["ledger", "labor_cost_journals"])

SNAPSHOT_CHECKS = [
    dg.AssetCheckSpec(
        "source_sane",
        asset=SNAPSHOT_KEY,
        blocking=True,
        description="Every record: gross = net + employee taxes + employee deductions +"
        " garnishments, and each summary equals its line items. Redactions are listed.",
    ),
]
JOURNAL_CHECKS = [
    dg.AssetCheckSpec(
        "balanced",
        asset=JOURNALS_KEY,
        blocking=True,
        description="Debits equal credits per journal and per voucher, to the cent.",
    ),
    dg.AssetCheckSpec(
        "reconciled",
        asset=JOURNALS_KEY,
        blocking=True,
        description="Journal totals per category equal Rippling's own reported totals.",
    ),
    dg.AssetCheckSpec(
        "fully_mapped",
        asset=JOURNALS_KEY,
        blocking=True,
        description="Every worker and pay item has an account and dimension values.",
    ),
    dg.AssetCheckSpec(
        "valid_in_dynamics",
        asset=JOURNALS_KEY,
        blocking=True,
        description="The mapping's format equals the active F&O ledger format and delimiter;"
        " accounts and known dimension values are usable (read before any write). Values F&O"
        " does not list are warnings: its atomic write is the backstop.",
    ),
]


def _result(
    asset: dg.AssetKey, name: str, findings: list[Finding], passed_text: str, **extra: object
) -> dg.AssetCheckResult:
    metadata = {
        "failures": len(findings),
        "details": dg.MetadataValue.md(findings_table(findings) if findings else passed_text),
        **extra,
    }
    return dg.AssetCheckResult(
        asset_key=asset,
        check_name=name,
        passed=not findings,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=metadata,
    )


def source_sane(snapshots: dict[str, PeriodSnapshot]) -> dg.AssetCheckResult:
    records = [r for s in snapshots.values() for r in s.all_records()]
    redacted = sorted({w for s in snapshots.values() for w in s.redacted})
    return _result(
        SNAPSHOT_KEY,
        "source_sane",
        check_source(records),
        f"{len(records)} records satisfy Rippling's identities",
        redacted_workers=dg.MetadataValue.json(redacted[:200]),
    )


def balanced(journals: dict[str, list[JournalBuild]]) -> dg.AssetCheckResult:
    findings = [f for bs in journals.values() for b in bs for f in check_balanced(b.journal)]
    return _result(JOURNALS_KEY, "balanced", findings, "every journal and voucher balances")


def reconciled(
    journals: dict[str, list[JournalBuild]], snapshots: dict[str, PeriodSnapshot]
) -> dg.AssetCheckResult:
    findings = []
    for key, builds in journals.items():
        for build in builds:
            records = snapshots[key].records.get(build.journal.identity.run_id, [])
            findings += check_reconciled(build.journal, records)
    return _result(JOURNALS_KEY, "reconciled", findings, "journal totals equal Rippling's totals")


def fully_mapped(journals: dict[str, list[JournalBuild]]) -> dg.AssetCheckResult:
    problems = [p for builds in journals.values() for b in builds for p in b.problems]
    findings = [
        Finding(f"worker {p.worker_id}", p.item, "mapped", p.missing, f"record {p.record_id}")
        for p in problems
    ]
    return _result(JOURNALS_KEY, "fully_mapped", findings, "every worker and item is mapped")


def valid_in_dynamics(
    connector: ConnectorResource, journals: dict[str, list[JournalBuild]]
) -> dg.AssetCheckResult:
    mapping = connector.mapping()
    built = [b.journal for builds in journals.values() for b in builds]
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
    for journal in built:
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
        JOURNALS_KEY,
        "valid_in_dynamics",
        findings,
        f"format {active.display} matches; accounts and values usable",
        active_format=active.display,
        warnings=dg.MetadataValue.md(findings_table(warnings) if warnings else "none"),
    )


def journal_checks(
    connector: ConnectorResource,
    journals: dict[str, list[JournalBuild]],
    snapshots: dict[str, PeriodSnapshot],
) -> list[dg.AssetCheckResult]:
    return [
        balanced(journals),
        reconciled(journals, snapshots),
        fully_mapped(journals),
        valid_in_dynamics(connector, journals),
    ]
