"""The five blocking checks (README, "The payroll pipeline"): nothing posts where one fails;
and one warning, ``plausible``, that finance sees but that blocks nothing.

They are evaluated inside the step of the asset they guard (``check_specs`` on the asset), on
exactly the partitions that step built: a separate check step would load every partition of
the upstream asset, not just this run's. Each check puts a table of what failed into its
metadata (``details``) and one line of what it found into ``summary``, so the reviewer sees the
worker, the item and the amounts without opening code.

The amounts of one person are shown only with the mapping's ``journal.detail_level: worker``
(finance's opt-in to per-person lines). At the summary level a finding about one record or
worker still names the record, the worker and the field, with its amounts withheld
(``ledger.checks.withhold_amounts``); so are the run totals of a run of fewer than
``MIN_WORKERS_PER_ROW`` workers (balanced, reconciled, matches_rippling), which are that
person's pay.
"""

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import replace

import dagster as dg

from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.defs import naming, tables
from ml_connector_dagster.defs.payroll.history import GrossHistory
from ml_connector_dagster.defs.payroll.partitions import payroll_partitions
from ml_connector_dagster.dynamics.client import DynamicsClient
from ml_connector_dagster.ledger.causes import (
    KNOCK_ON_FULLY_MAPPED,
    Cause,
    amounts_text,
    cause_of,
    group_causes,
    labor_cost,
)
from ml_connector_dagster.ledger.checks import (
    DynamicsReference,
    Finding,
    check_format,
    check_source,
    withhold_amounts,
)
from ml_connector_dagster.ledger.inputs import PayrollRecord
from ml_connector_dagster.ledger.journal import JournalBuild
from ml_connector_dagster.ledger.plausibility import plausibility_findings
from ml_connector_dagster.payroll.snapshot import PeriodSnapshot
from ml_connector_dagster.posting.gate import dynamics_verdict, pure_verdict
from ml_connector_dagster.posting.lines import Difference
from ml_connector_dagster.posting.reference import ReferenceSource, remembered_reads

SNAPSHOT_KEY = naming.asset_key("rippling", "payroll_cost_snapshot")
# At the summary detail level no amount shown sums fewer workers than this: below it, a row or
# a total would be one person's pay.
MIN_WORKERS_PER_ROW = 2
ONE_WORKER = "(one worker: amounts withheld)"
SUMMARY = "summary"
WORKER = "worker"
JOURNALS_KEY = naming.asset_key("ledger", "labor_cost_journals")
POSTED_KEY = naming.asset_key("dynamics", "posted_journals")

SNAPSHOT_CHECKS = [
    dg.AssetCheckSpec(
        "source_sane",
        asset=SNAPSHOT_KEY,
        blocking=True,
        partitions_def=payroll_partitions,
        description="Every record: gross = net + employee taxes + employee deductions +"
        " garnishments; each summary equals its line items, both ways (a summary without items,"
        " items without a summary); no amount is missing (null, absent or redacted is named by"
        " record and field, never read as zero). Redactions are listed.",
    ),
]
JOURNAL_CHECKS = [
    dg.AssetCheckSpec(
        "balanced",
        asset=JOURNALS_KEY,
        blocking=True,
        partitions_def=payroll_partitions,
        description="Debits equal credits per journal and per voucher, to the cent.",
    ),
    dg.AssetCheckSpec(
        "reconciled",
        asset=JOURNALS_KEY,
        blocking=True,
        partitions_def=payroll_partitions,
        description="Journal totals per category equal Rippling's own reported totals.",
    ),
    dg.AssetCheckSpec(
        "fully_mapped",
        asset=JOURNALS_KEY,
        blocking=True,
        partitions_def=payroll_partitions,
        description="Every worker and pay item has an account and dimension values, and every"
        " record is in the accounting currency the mapping gives its company (foreign-currency"
        " payroll needs exchange rates the connector does not have: such a record is named with"
        " its currency and the company's, and blocks).",
    ),
    dg.AssetCheckSpec(
        "valid_in_dynamics",
        asset=JOURNALS_KEY,
        blocking=True,
        partitions_def=payroll_partitions,
        description="The mapping's format equals the active F&O ledger format and delimiter;"
        " accounts and known dimension values are usable (read before any write). Values F&O"
        " does not list are warnings: its atomic write is the backstop.",
    ),
]

# The one warning on the journals: never a block (severity WARN, ``blocking=False``). Kept apart
# from JOURNAL_CHECKS because the journals step fails on any check that did not pass: it joins
# the step's ``check_specs`` once that step blocks on ERROR-severity checks only (issue 11).
PLAUSIBILITY_CHECKS = [
    dg.AssetCheckSpec(
        "plausible",
        asset=JOURNALS_KEY,
        blocking=False,
        partitions_def=payroll_partitions,
        description="Warnings, never a block: negative net pay; a worker's gross pay above 3x"
        " the median of their earlier records in the snapshot (this pay period's earlier runs);"
        " any amount with 12 or more digits before the decimal point.",
    ),
]

FINDING_COLUMNS = (
    tables.text("cause", "the root cause the row follows from (see causes)"),
    tables.text("subject", "the record, worker, journal or account concerned"),
    tables.text("item", "the field, category or dimension"),
    tables.text("expected"),
    tables.text("actual"),
    tables.text("why"),
)
CAUSE_COLUMNS = (
    tables.text("cause", "what to fix"),
    tables.count("findings", "rows of details it explains"),
    tables.count("workers", "workers of the payroll records behind it"),
    tables.currency(),
    tables.money("held back", "labor cost of those records (Rippling's debit side)"),
)
# What a failed blocking check means for Dynamics, and what a warning means.
BLOCKED_TAIL = "nothing was written to Dynamics"
WARNING_TAIL = "a warning only: the journals go on"


def few_workers(records: Iterable[PayrollRecord]) -> bool:
    """Whether ``records`` are the pay of fewer than ``MIN_WORKERS_PER_ROW`` workers (and of
    one at least): their totals are then one person's pay."""
    workers = {record.worker_id for record in records}
    return 0 < len(workers) < MIN_WORKERS_PER_ROW


def _shows_amount(cause: Cause, detail_level: str) -> bool:
    """A cause's amount is shown at the worker detail level, or when it sums enough workers
    to be no one's pay."""
    return detail_level == WORKER or cause.workers >= MIN_WORKERS_PER_ROW


def findings_table(
    findings: list[Finding], detail_level: str, causes: list[Cause] | None = None
) -> dg.TableMetadataValue:
    """The findings as a table, grouped by cause (``causes``' order); below the worker detail
    level a finding about one record or worker keeps its record, worker and field but not its
    amounts."""
    order = {cause.label: n for n, cause in enumerate(causes or [])}
    shown = _shown(findings, detail_level)
    rows = sorted(
        ((cause_of(f), f) for f in shown), key=lambda pair: order.get(pair[0], len(order))
    )
    return tables.table(
        FINDING_COLUMNS,
        ((label, f.subject, f.item, f.expected, f.actual, f.message) for label, f in rows),
    )


def _shown(findings: list[Finding], detail_level: str) -> list[Finding]:
    """``findings`` as they may be shown: below the worker detail level a finding about one
    record keeps its record, worker and field but not its amounts (nor its cause's text)."""
    if detail_level == WORKER:
        return findings
    return [withhold_amounts(f) for f in findings]


def causes_table(causes: list[Cause], detail_level: str) -> dg.TableMetadataValue:
    rows = []
    for cause in causes:
        shown = _shows_amount(cause, detail_level)
        for currency, amount in cause.amounts or (("", None),):
            rows.append(
                (
                    cause.label,
                    cause.findings,
                    cause.workers,
                    currency or None,
                    amount if shown else None,
                )
            )
    return tables.table(CAUSE_COLUMNS, rows)


def cause_line(cause: Cause, detail_level: str) -> str:
    """``Department D110 (Field Ops) has no Department in the mapping file (departments:):
    45 workers, 175,772.44 USD``; one worker's amount is withheld below the worker level."""
    if not cause.workers:
        return cause.label
    who = f"{cause.workers} worker{'s' if cause.workers != 1 else ''}"
    if not cause.amounts:
        return f"{cause.label}: {who}"
    amount = amounts_text(cause.amounts) if _shows_amount(cause, detail_level) else ONE_WORKER
    return f"{cause.label}: {who}, {amount}"


def describe_failure(causes: list[Cause], detail_level: str, tail: str) -> str:
    """One line: the biggest cause with its workers and money, how many more there are, and
    what the failure means (``tail``). A check whose every cause is a knock-on says so first."""
    if not causes:
        return tail
    first = causes[0]
    if all(cause.knock_on for cause in causes):
        return f"{first.label}; {tail}"
    own = [cause for cause in causes if not cause.knock_on]
    line = cause_line(own[0], detail_level)
    more = len(own) - 1
    if more:
        line += f"; and {more} more cause{'s' if more != 1 else ''} (see causes)"
    return f"{line}; {tail}"


def _result(
    asset: dg.AssetKey,
    name: str,
    findings: list[Finding],
    passed_text: str,
    *,
    detail_level: str,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
    records_by_id: Mapping[str, PayrollRecord] | None = None,
    held_back: str = "",
    **extra: object,
) -> dg.AssetCheckResult:
    """A check result whose description is one line finance acts on: the cause, the workers
    and the money it holds back, and that nothing was written (or that it is a warning).
    ``held_back``: the partition's labor cost, told with a blocking failure ("" to leave out:
    withheld, or unknown)."""
    causes = group_causes(_shown(findings, detail_level), records_by_id or {})
    if severity is dg.AssetCheckSeverity.ERROR:
        tail = BLOCKED_TAIL + (f" ({held_back} of labor cost waits)" if held_back else "")
    else:
        tail = WARNING_TAIL
    description = passed_text if not findings else describe_failure(causes, detail_level, tail)
    metadata = {
        "failures": len(findings),
        "summary": description,
        "causes": causes_table(causes, detail_level),
        "details": findings_table(findings, detail_level, causes),
        **extra,
    }
    return dg.AssetCheckResult(
        asset_key=asset,
        check_name=name,
        passed=not findings,
        severity=severity,
        description=description,
        metadata=metadata,
    )


def records_index(snapshots: dict[str, PeriodSnapshot]) -> dict[str, PayrollRecord]:
    """Every record of ``snapshots`` by id: what a finding's ``records`` name."""
    return {r.id: r for s in snapshots.values() for r in s.all_records()}


def held_back_text(snapshots: dict[str, PeriodSnapshot], detail_level: str) -> str:
    """The labor cost of ``snapshots`` as finance reads it, or "" when it is one person's pay
    (below the worker detail level, records of fewer than ``MIN_WORKERS_PER_ROW`` workers)."""
    records = [r for s in snapshots.values() for r in s.all_records()]
    if detail_level != WORKER and (few_workers(records) or not records):
        return ""
    if detail_level != WORKER and any(
        few_workers(s.records.get(run.id, [])) for s in snapshots.values() for run in s.runs
    ):
        return ""  # a run of one worker: its pay is the partition's minus the others'
    return amounts_text(labor_cost(records).items())


def source_sane(
    snapshots: dict[str, PeriodSnapshot], *, detail_level: str = SUMMARY
) -> dg.AssetCheckResult:
    """``detail_level``: the mapping's ``journal.detail_level`` (amounts of one record are
    shown at ``worker`` only)."""
    records = [r for s in snapshots.values() for r in s.all_records()]
    redacted = sorted({w for s in snapshots.values() for w in s.redacted})
    return _result(
        SNAPSHOT_KEY,
        "source_sane",
        check_source(records),
        f"{len(records)} records satisfy Rippling's identities",
        detail_level=detail_level,
        records_by_id=records_index(snapshots),
        held_back=held_back_text(snapshots, detail_level),
        redacted_workers=dg.MetadataValue.json(redacted[:200]),
    )


PASSED_TEXT = {
    "balanced": "every journal and voucher balances",
    "reconciled": "journal totals equal Rippling's totals",
    "fully_mapped": "every worker and item is mapped",
}


def pure_findings(
    mapping: PayrollMapping,
    journals: dict[str, list[JournalBuild]],
    snapshots: dict[str, PeriodSnapshot],
) -> dict[str, list[Finding]]:
    """balanced, reconciled and fully_mapped of every journal (``posting.gate.pure_verdict``).

    A journal's totals are its run's: for a run of fewer than ``MIN_WORKERS_PER_ROW`` workers
    they are one person's pay, so its balanced and reconciled findings count as personal.
    """
    found: dict[str, list[Finding]] = {name: [] for name in PASSED_TEXT}
    for key, builds in journals.items():
        for build in builds:
            records = snapshots[key].records.get(build.journal.identity.run_id, [])
            personal = few_workers(records)
            # Records the mapping cannot place are left off the journal: its balanced and
            # reconciled findings follow from them, and finance is told to fix those first.
            unplaced = tuple(dict.fromkeys(p.record_id for p in build.problems))
            for name, findings in pure_verdict(build, records, mapping).findings.items():
                if name not in PASSED_TEXT:
                    continue
                if unplaced and name in ("balanced", "reconciled"):
                    findings = [
                        replace(f, cause=KNOCK_ON_FULLY_MAPPED, records=unplaced) for f in findings
                    ]
                if personal and name in ("balanced", "reconciled"):
                    findings = [replace(f, personal=True) for f in findings]
                found[name] += findings
    return found


NO_SHARING = dt.timedelta(0)  # journal_checks' default: a read made now


def journal_checks(
    dynamics: DynamicsClient,
    mapping: PayrollMapping,
    journals: dict[str, list[JournalBuild]],
    snapshots: dict[str, PeriodSnapshot],
    references: ReferenceSource | None = None,
    max_age: dt.timedelta = NO_SHARING,
) -> list[dg.AssetCheckResult]:
    """The four journal checks, by the same rules (posting/gate.py) the poster applies again
    right before it writes: what finance reviews here is what the gate enforces there.

    F&O's reference data comes from ``references`` (a read up to ``max_age`` old, perhaps
    another run's), else is read here."""
    detail_level = mapping.journal.detail_level
    found: dict[str, list[Finding]] = {
        **pure_findings(mapping, journals, snapshots),
        "valid_in_dynamics": [],
    }
    warnings: list[Finding] = []
    builds = [(key, build) for key, bs in journals.items() for build in bs]
    companies = {build.journal.company.upper() for _, build in builds} or set(mapping.companies)
    source = references or remembered_reads(dynamics, mapping)
    read = source(companies, max_age)
    active, by_company = read.active, read.references
    found["valid_in_dynamics"] += check_format(
        mapping.dimension_format,
        DynamicsReference(active.dimensions, active.delimiter, {}, {}, frozenset()),
    )
    for _, build in builds:
        verdict = dynamics_verdict(
            build, mapping, by_company[build.journal.company.upper()], with_format=False
        )
        found["valid_in_dynamics"] += verdict.findings["valid_in_dynamics"]
        warnings += verdict.warnings
    by_id = records_index(snapshots)
    held_back = held_back_text(snapshots, detail_level)
    results = [
        _result(
            JOURNALS_KEY,
            name,
            found[name],
            text,
            detail_level=detail_level,
            records_by_id=by_id,
            held_back=held_back,
        )
        for name, text in PASSED_TEXT.items()
    ]
    results.append(
        _result(
            JOURNALS_KEY,
            "valid_in_dynamics",
            found["valid_in_dynamics"],
            f"format {active.display} matches; accounts and values usable",
            detail_level=detail_level,
            records_by_id=by_id,
            held_back=held_back,
            active_format=active.display,
            warnings=findings_table(warnings, detail_level),
        )
    )
    return results


def plausible(
    snapshots: dict[str, PeriodSnapshot],
    journals: dict[str, list[JournalBuild]],
    *,
    detail_level: str = SUMMARY,
    history: GrossHistory | None = None,
) -> dg.AssetCheckResult:
    """The plausibility warnings (``ledger/plausibility.py``) of the partitions built here.

    Severity WARN: finance sees each one in the check's table before posting in F&O, and the
    journals still go on (a negative net pay or a large bonus can be right). The history of a
    worker's gross is ``history`` (earlier pay periods this deployment stored,
    ``defs/payroll/history.py``) followed by their earlier records in the same snapshot (runs
    in check-date order). Each warning is about one record: its amounts are shown at
    ``detail_level`` worker only.
    """
    history = history or GrossHistory()
    records = [r for key in journals for r in snapshots[key].all_records()]
    found = plausibility_findings(records, history.by_worker)
    return _result(
        JOURNALS_KEY,
        "plausible",
        found,
        f"{len(records)} records: no negative net pay, no gross above 3x the worker's earlier"
        " median, no amount of 12+ digits",
        detail_level=detail_level,
        severity=dg.AssetCheckSeverity.WARN,
        records_by_id=records_index({key: snapshots[key] for key in journals}),
        history_periods=dg.MetadataValue.json(list(history.periods)),
        history_unreadable=dg.MetadataValue.json(list(history.unreadable)),
    )


POSTED_CHECKS = [
    dg.AssetCheckSpec(
        "matches_rippling",
        asset=POSTED_KEY,
        partitions_def=payroll_partitions,
        description="What F&O holds for each journal (with its correcting journals), summed per"
        " account and dimensions, equals the journal built from Rippling now. Read from F&O,"
        " not from the local store. A difference lists the account and dimensions, the amount"
        " in F&O, the amount now and the difference; `ml-connector correct` resolves it.",
    ),
]
DIFFERENCE_COLUMNS = (
    tables.text("run", "the Rippling payroll run"),
    tables.text("account and dimensions"),
    tables.currency(),
    tables.money("in F&O", "summed over the journal and its correcting journals"),
    tables.money("now", "the journal built from Rippling now"),
    tables.money("difference", "now minus in F&O"),
)


def matches_rippling(
    differences: dict[str, list[Difference]], compared: int, withheld: Iterable[str] = ()
) -> dg.AssetCheckResult:
    """Per payroll run, the accounts whose amount in F&O differs from Rippling now.

    ``withheld``: runs whose amounts are one person's pay (a run of fewer than
    ``MIN_WORKERS_PER_ROW`` workers at the summary detail level): their differences name the
    account and dimensions without the amounts (``ml-connector correct`` shows them).
    """
    hidden = set(withheld)
    found = [(run, d) for run, ds in sorted(differences.items()) for d in ds]
    rows = [
        (f"{run} {ONE_WORKER}", d.account, d.currency, None, None, None)
        if run in hidden
        else (run, d.account, d.currency, d.in_dynamics, d.now, d.difference)
        for run, d in found
    ]
    summary = (
        f"{compared} journal(s) in F&O equal Rippling now"
        if not rows
        else f"Rippling changed after {len({run for run, _ in found})} journal(s) were created in"
        f" F&O: {len(rows)} account(s) differ; `{naming.COMMAND} correct` shows and applies the"
        " correction"
    )
    return dg.AssetCheckResult(
        asset_key=POSTED_KEY,
        check_name="matches_rippling",
        passed=not rows,
        severity=dg.AssetCheckSeverity.ERROR,
        description=summary,
        metadata={
            "differences": len(rows),
            "journals_compared": compared,
            "summary": summary,
            "details": tables.table(DIFFERENCE_COLUMNS, rows),
            # The exact amounts (the table shows numbers for display; see defs/tables.py).
            "differences_exact": dg.MetadataValue.json(
                [
                    {
                        "run": run,
                        "account": d.account,
                        "currency": d.currency,
                        **(
                            dict.fromkeys(("in_dynamics", "now", "difference"), ONE_WORKER)
                            if run in hidden
                            else {
                                "in_dynamics": str(d.in_dynamics),
                                "now": str(d.now),
                                "difference": str(d.difference),
                            }
                        ),
                    }
                    for run, d in found
                ]
            ),
        },
    )
