"""Payroll to general ledger: snapshot -> journals -> (five blocking checks) -> posted journals.

One pay period x company per run (no backfill policy: a backfill is one run per partition,
``POLICY``): every check result is
recorded against its partition (the check specs carry the partitions definition) and every
partition's metadata speaks of that partition only, so one partition's run never turns another's
checks green. A partition whose checks fail is not materialized at all (its cell is red, the
failing check says why); the posting step applies the same checks again to exactly what it is
about to write (``posting/gate.py``), so launching it alone from the UI, the CLI or a script
never writes a journal that has not passed them.

The metadata shown in the UI carries totals and counts, never one person's pay, unless the
mapping's ``journal.detail_level`` is ``worker`` (finance's opt-in to per-person lines): at the
summary level a review row, a run's total or the partition's totals that would sum fewer than
``MIN_WORKERS_PER_ROW`` workers is withheld (``_withheld_runs``, ``_withhold_totals``), and the
checks withhold the amounts of a finding about one record (``defs/payroll/checks.py``).
"""

import datetime as dt
import hashlib
from collections import Counter, defaultdict
from decimal import Decimal

import dagster as dg

from ml_connector_dagster import clock
from ml_connector_dagster.alerts import AlertKind, alert_for_run, enqueue
from ml_connector_dagster.audit.store import Outcome
from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.defs import naming, tables
from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager
from ml_connector_dagster.defs.payroll.allocation_table import allocation_table
from ml_connector_dagster.defs.payroll.audit_table import audit_table
from ml_connector_dagster.defs.payroll.checks import (
    JOURNAL_CHECKS,
    MIN_WORKERS_PER_ROW,
    ONE_WORKER,
    PLAUSIBILITY_CHECKS,
    POSTED_CHECKS,
    SNAPSHOT_CHECKS,
    WORKER,
    few_workers,
    journal_checks,
    matches_rippling,
    plausible,
    source_sane,
)
from ml_connector_dagster.defs.payroll.fo_reference import shared_reads
from ml_connector_dagster.defs.payroll.history import earlier_gross
from ml_connector_dagster.defs.payroll.launcher import poster_for_run
from ml_connector_dagster.defs.payroll.links import fo_journal_url, link_metadata, rippling_run_url
from ml_connector_dagster.defs.payroll.partitions import (
    payroll_partitions,
    single_partition_key,
    split_key,
)
from ml_connector_dagster.defs.payroll.runs_list import shared_runs_list
from ml_connector_dagster.defs.payroll.workforce import (
    WORKFORCE_KEY,
    WorkforceUse,
    shared_workforce,
    workforce_metadata,
)
from ml_connector_dagster.defs.pools import DYNAMICS_POOL
from ml_connector_dagster.defs.resources import ConnectorResource
from ml_connector_dagster.dynamics.errors import DynamicsError
from ml_connector_dagster.export.journal import company_names
from ml_connector_dagster.export.partition import remove_partition_export, write_partition_export
from ml_connector_dagster.export.writers import ExportError
from ml_connector_dagster.ledger.builder import LineWorkers
from ml_connector_dagster.ledger.causes import KNOCK_ON_FULLY_MAPPED, labor_cost
from ml_connector_dagster.ledger.checks import mask_amounts, rippling_totals
from ml_connector_dagster.ledger.inputs import PayrollRecord
from ml_connector_dagster.ledger.journal import Journal, JournalBuild, JournalIdentity
from ml_connector_dagster.payroll.journals import journals_for
from ml_connector_dagster.payroll.names import DEPARTMENT, Names, names_for
from ml_connector_dagster.payroll.runs_seen import RUNS_SEEN_TAG, parse_runs_seen
from ml_connector_dagster.payroll.snapshot import PeriodSnapshot, PeriodWorkforce, read_snapshots
from ml_connector_dagster.posting.poster import JournalPoster, PostingError, PostResult
from ml_connector_dagster.posting.reference import ReferenceRead
from ml_connector_dagster.posting.status import JournalStatus, journal_status, partition_status
from ml_connector_dagster.rippling.models import PayrollRun

# No backfill policy: Dagster's backfill daemon then launches one run per partition tagged
# ``dagster/partition``, as the sensor's runs are. With ``BackfillPolicy.multi_run(1)`` (the same
# one run per partition on paper) dagster 1.13 tags each run as a range of one key instead, and
# then records every check evaluation of that run without its partition: a UI backfill's
# verdicts would not show on the partitions they judged (benchmarks/backfill_year.py found it).
POLICY = None
ZERO = Decimal("0.00")
# The number and the amounts first: the UI's metadata panel is narrow (at 1600 px it showed the
# first five columns), and they are what finance looks up in F&O.
POSTED_COLUMNS = (
    tables.text("JournalBatchNumber"),
    tables.currency("the company's accounting currency, of the debit and credit"),
    tables.money("debit (Dynamics)", "as Dynamics reports it back"),
    tables.money("credit (Dynamics)", "as Dynamics reports it back"),
    tables.count("lines"),
    tables.text("status"),
    tables.text("run", "the Rippling payroll run"),
    tables.text("why"),
)
RUN_COLUMNS = (
    tables.text("run"),
    tables.text("type"),
    tables.text("state"),
    tables.text("check date"),
    tables.count("records"),
)
TOTAL_COLUMNS = (
    tables.currency(),
    tables.text("category"),
    tables.money("Rippling total", "Rippling's own total of the category"),
    tables.text("note"),
)
DEBIT_COLUMNS = (tables.currency(), tables.money("debit"), tables.text("note"))
JOURNAL_COLUMNS = (
    tables.text("run", "the Rippling payroll run"),
    tables.currency(),
    tables.text("account", "the F&O main account"),
    tables.text("account name", "MainAccounts.Name in F&O"),
    tables.text("department", "the Department dimension value"),
    tables.text("department name", "the Rippling departments mapped to it (else F&O's name)"),
    tables.count("workers", "how many workers the row sums"),
    tables.money("debit"),
    tables.money("credit"),
)
# At the summary detail level no row of the review table is one person's pay: a row summing
# fewer than MIN_WORKERS_PER_ROW workers is folded into its run's "other" row (_journal_rows).
FOLDED = "(folded: rows of fewer than 2 workers)"
# The partition's totals, withheld at the summary level when one of its runs has one worker:
# that run's total would be the partition's minus the other runs' rows.
ONE_WORKER_RUN = "(a run of one worker: amounts withheld)"
GROUP = naming.name("payroll")
NOTHING_WRITTEN = "nothing was written to Dynamics"


def _partition(context: dg.AssetExecutionContext) -> tuple[str, str, str]:
    """The run's one partition (a backfill's run carries a range of one key); a range of
    several keys is refused."""
    key = single_partition_key(context)
    if key is None:
        raise dg.Failure(
            description="one pay period x company per run: launch a backfill (Dagster splits it"
            f" into one run per partition) or `ml-connector run`; {NOTHING_WRITTEN}"
        )
    pay_period, company = split_key(key)
    return key, pay_period, company


@dg.asset(
    key_prefix=naming.key_prefix("rippling"),
    partitions_def=payroll_partitions,
    backfill_policy=POLICY,
    group_name=GROUP,
    kinds={"rippling"},
    deps=[
        dg.AssetDep(
            WORKFORCE_KEY,
            partition_mapping=dg.MultiToSingleDimensionPartitionMapping(
                partition_dimension_name="pay_period"
            ),
        )
    ],
    check_specs=SNAPSHOT_CHECKS,
    description="Every worker payroll record of every run whose pay period ends on the partition's"
    " date, for the partition's legal entity, with the workers' departments and job codes.",
)
def payroll_cost_snapshot(
    context: dg.AssetExecutionContext,
    connector: ConnectorResource,
    io_manager: dg.ResourceParam[PartitionFilesIOManager],
):
    key, pay_period, company = _partition(context)
    mapping = connector.mapping()
    max_age = dt.timedelta(seconds=connector.settings().workforce_max_age_seconds)
    concurrency = connector.settings().rippling_concurrency
    used: list[WorkforceUse] = []
    with connector.rippling() as rippling:

        def workforce(needed: set[str]) -> PeriodWorkforce:
            value, use = shared_workforce(
                io_manager,
                rippling,
                pay_period,
                needed,
                max_age,
                concurrency,
                time_splits="time_split" in mapping.allocation.order,
            )
            used.append(use)
            if use.how == "read":  # the period's workforce partition is this read now
                context.log_event(
                    dg.AssetMaterialization(
                        asset_key=WORKFORCE_KEY,
                        partition=pay_period,
                        description=f"read by the run of {key}",
                        metadata=workforce_metadata(value, use),
                    )
                )
            return value

        seen = parse_runs_seen(context.run.tags.get(RUNS_SEEN_TAG))
        runs_read: list[str] = []

        def runs_list() -> list[PayrollRun]:
            read, how = shared_runs_list(io_manager, rippling, mapping, pay_period, company, seen)
            runs_read.append(
                f"read from Rippling at {read.read_at.isoformat(timespec='seconds')}"
                + (
                    " by this run"
                    if how == "read"
                    else " by an earlier run of the sensor's"
                    " tick, showing the runs it saw in the same states"
                )
            )
            return read.runs

        snapshot = read_snapshots(rippling, mapping, [(pay_period, company)], workforce, runs_list)[
            (pay_period, company)
        ]
    records = snapshot.all_records()
    totals = _rippling_totals(records)
    withheld = _withhold_totals(snapshot, mapping)
    metadata = {
        "runs": tables.table(
            RUN_COLUMNS,
            (
                (run.id, run.run_type, run.run_state, run.check_date, len(snapshot.records[run.id]))
                for run in snapshot.runs
            ),
        ),
        "summary": f"{len(snapshot.runs)} run(s)"
        if snapshot.runs
        else snapshot.nothing_to_post_reason(),
        "worker_count": len({r.worker_id for r in records}),
        "record_count": len(records),
        "totals_by_category": tables.table(
            TOTAL_COLUMNS,
            ((c, category, None if withheld else a, withheld) for c, category, a in totals),
        ),
        "totals_exact": dg.MetadataValue.json(
            {f"{c} {category}": withheld or str(a) for c, category, a in totals}
        ),
        "workforce": used[0].describe(clock.now()) if used else "",
        "runs_list": runs_read[0] if runs_read else "",
        "redacted_workers": len(snapshot.redacted),
        "redactions": dg.MetadataValue.json(
            {w: list(f) for w, f in sorted(snapshot.redacted.items())[:200]}
        ),
    }
    check = source_sane({key: snapshot}, detail_level=mapping.journal.detail_level)
    yield check
    if not check.passed:
        why = f"{company} {pay_period}: blocked by source_sane. {check.description}"
        identities = [b.journal.identity for b in journals_for(snapshot, mapping)]
        _record_blocks(
            context, connector, key, pay_period, identities, why, _held_back(snapshot, withheld)
        )
        withheld_runs = _withheld_runs(snapshot, mapping)
        metadata["audit_trail"] = _audit_trail(connector, pay_period, company, withheld_runs)
        raise dg.Failure(description=why, metadata=metadata)
    yield dg.Output({key: snapshot}, metadata=metadata)


@dg.asset(
    key_prefix=naming.key_prefix("ledger"),
    partitions_def=payroll_partitions,
    backfill_policy=POLICY,
    group_name=GROUP,
    kinds={"python"},
    ins={"snapshots": dg.AssetIn(key=payroll_cost_snapshot.key)},
    # Lineage (issue 13): where a line's account and dimensions come from. Not inputs: the
    # step reads the mapping and F&O itself; each materialization records the data versions
    # of these it saw (Dagster's provenance), beside the mapping_hash it was built with.
    deps=[
        naming.asset_key("finance", "payroll_mapping"),
        naming.asset_key("rippling", "departments"),
        naming.asset_key("rippling", "legal_entities"),
        naming.asset_key("dynamics", "ledger_dimensions"),
    ],
    check_specs=[*JOURNAL_CHECKS, *PLAUSIBILITY_CHECKS],
    description="Balanced labor-cost journals (one per run and journal type) built from the"
    " snapshot with the finance mapping.",
)
def labor_cost_journals(
    context: dg.AssetExecutionContext,
    connector: ConnectorResource,
    io_manager: dg.ResourceParam[PartitionFilesIOManager],
    snapshots: dict[str, PeriodSnapshot],
):
    key, pay_period, company = _partition(context)
    mapping = connector.mapping()
    line_workers: dict[str, LineWorkers] = {}  # for the summary's worker counts
    result = {key: journals_for(snapshots[key], mapping, line_workers)}
    journals = [b.journal for b in result[key]]
    debits = _debits_by_currency(journals)
    withheld = _withhold_totals(snapshots[key], mapping)
    reads: list[ReferenceRead] = []  # the F&O read the checks used: it names the accounts
    with connector.dynamics() as dynamics:
        shared = shared_reads(io_manager, dynamics, mapping)

        def references(companies: set[str], max_age: dt.timedelta) -> ReferenceRead:
            reads.append(shared(companies, max_age))
            return reads[-1]

        max_age = dt.timedelta(seconds=connector.settings().dynamics_reference_max_age_seconds)
        checks = [*journal_checks(dynamics, mapping, result, snapshots, references, max_age)]
    names = names_for(
        mapping,
        snapshots[key].workers.values(),
        reads[-1].references.get(company.upper()) if reads else None,
    )
    metadata = {
        "journals": len(journals),
        "line_count": sum(len(j.lines) for j in journals),
        "total_debit": tables.table(
            DEBIT_COLUMNS, ((c, None if withheld else a, withheld) for c, a in debits.items())
        ),
        "total_debit_exact": dg.MetadataValue.json(
            {currency: withheld or str(amount) for currency, amount in debits.items()}
        ),
        **_plotted_debits(debits, withheld),
        "journal_summary": tables.table(
            JOURNAL_COLUMNS, _named(_journal_rows(mapping, journals, line_workers), names)
        ),
        "payload_hashes": dg.MetadataValue.json(
            {f"{j.identity.run_id} {j.identity.journal_type}": j.payload_hash() for j in journals}
        ),
        "mapping_hash": mapping.content_hash[:12],
        "mapping_problems": sum(len(b.problems) for b in result[key]),
        # Which source (time entries, time split, job assignments, department) placed the
        # workers' cost, per run: counts and amounts (``allocation_table.py``).
        "allocation": allocation_table(
            result[key], mapping.journal.detail_level == WORKER, withheld
        ),
    }
    history = earlier_gross(
        context.instance, io_manager, payroll_cost_snapshot.key, pay_period, company
    )
    checks.append(
        plausible(snapshots, result, detail_level=mapping.journal.detail_level, history=history)
    )
    yield from checks
    # Only ERROR checks block; the plausibility warnings (WARN) are for finance to read.
    failed = [
        c.check_name for c in checks if not c.passed and c.severity is dg.AssetCheckSeverity.ERROR
    ]
    if failed:
        why = f"{company} {pay_period}: blocked by {', '.join(failed)}. {_first_cause(checks)}"
        _record_blocks(
            context,
            connector,
            key,
            pay_period,
            [j.identity for j in journals],
            why,
            _held_back(snapshots[key], withheld),
        )
        withheld_runs = _withheld_runs(snapshots[key], mapping)
        metadata["audit_trail"] = _audit_trail(connector, pay_period, company, withheld_runs)
        # No preview may sit there looking current for journals that did not pass.
        remove_partition_export(connector.settings().connection_directory(), key)
        raise dg.Failure(description=why, metadata=metadata)
    metadata["journal_preview"] = _preview(
        context, connector, key, result[key], snapshots[key], mapping, names, company
    )
    yield dg.Output(result, metadata=metadata)


def _preview(
    context: dg.AssetExecutionContext,
    connector: ConnectorResource,
    key: str,
    builds: list[JournalBuild],
    snapshot: PeriodSnapshot,
    mapping: PayrollMapping,
    names: Names,
    company: str,
) -> dg.MetadataValue:
    """The journals as a workbook finance opens in Excel (``export/``), written beside the
    stored values; its path goes in the metadata. A preview that cannot be written is told,
    not fatal: the journals passed their checks and the file is a copy of them."""
    home = connector.settings().connection_directory()
    try:
        path = write_partition_export(
            home, key, builds, snapshot, mapping, company_names(company, names)
        )
    except (ExportError, OSError) as exc:
        remove_partition_export(home, key)
        context.log.warning(f"{key}: the journal preview was not written: {exc}")
        return dg.MetadataValue.text(f"not written: {exc}")
    return dg.MetadataValue.path(str(path))


def _audit_trail(
    connector: ConnectorResource, pay_period: str, company: str, withheld: set[str]
) -> dg.TableMetadataValue:
    """Every attempt of the partition, as ``ml-connector audit`` lists them."""
    with connector.audit() as audit:
        return audit_table(audit, pay_period, company, withheld)


def _first_cause(checks: list[dg.AssetCheckResult]) -> str:
    """The line of the first blocking check that failed on its own (not as a knock-on of
    another): what finance fixes first. Each line ends by saying nothing was written."""
    failed = [c for c in checks if not c.passed and c.severity is dg.AssetCheckSeverity.ERROR]
    own = [c for c in failed if not (c.description or "").startswith(KNOCK_ON_FULLY_MAPPED)]
    first = (own or failed)[0]
    return first.description or NOTHING_WRITTEN


def _record_blocks(
    context: dg.AssetExecutionContext,
    connector: ConnectorResource,
    partition: str,
    pay_period: str,
    identities: list[JournalIdentity],
    why: str,
    held_back: tuple[str, Decimal] | None = None,
) -> None:
    """A block is an attempt in the trail, so ``audit`` lists it and ``replay`` offers it; and
    an alert (``alerts/``), so finance hears of it without opening Dagster."""
    with connector.audit() as audit:
        enqueue(
            audit,
            alert_for_run(
                connector.settings(),
                AlertKind.BLOCKED,
                run_id=context.run.run_id,
                company=split_key(partition)[1],
                pay_period=pay_period,
                summary=why,
                amount=held_back[1] if held_back else None,
                currency=held_back[0] if held_back else None,
            ),
        )
        for identity in identities:
            audit.record_attempt(
                connection=identity.connection,
                dagster_run_id=context.run.run_id,
                partition_key=partition,
                journal_key=identity.key,
                payroll_run_id=identity.run_id,
                company=identity.company,
                journal_type=identity.journal_type.value,
                pay_period=pay_period,
                outcome=Outcome.BLOCKED_BY_CHECK,
                dynamics_answer=why,
            )


def _held_back(snapshot: PeriodSnapshot, withheld: str) -> tuple[str, Decimal] | None:
    """The partition's labor cost (currency, amount) a block holds back, for the alert; None
    when its totals are withheld (one person's pay) or span several currencies."""
    cost = labor_cost(snapshot.all_records())
    if withheld or len(cost) != 1:
        return None
    return next(iter(cost.items()))


def _withheld_runs(snapshot: PeriodSnapshot, mapping: PayrollMapping) -> set[str]:
    """The runs whose totals are one person's pay: at the summary detail level, the runs whose
    records cover fewer than ``MIN_WORKERS_PER_ROW`` workers (none at the worker level)."""
    if mapping.journal.detail_level == WORKER:
        return set()
    return {run.id for run in snapshot.runs if few_workers(snapshot.records.get(run.id, []))}


def _plotted_debits(debits: dict[str, Decimal], withheld: str) -> dict[str, dg.MetadataValue]:
    """``total_debit_<CUR>`` as numbers, one entry per currency, so the asset's plots show the
    totals over pay periods (display only, like the tables: ``total_debit_exact`` is exact).
    None while the totals are withheld: a plot would show one person's pay."""
    if withheld:
        return {}
    return {
        f"total_debit_{currency}": dg.MetadataValue.float(float(amount))
        for currency, amount in sorted(debits.items())
    }


def _withhold_totals(snapshot: PeriodSnapshot, mapping: PayrollMapping) -> str:
    """Why the partition's totals are withheld ("" when they are shown).

    At the summary detail level they are withheld when the partition's records cover fewer than
    ``MIN_WORKERS_PER_ROW`` workers (the totals are that person's pay), and when one of its
    runs does: that run's rows are withheld, and the partition's total minus the other runs'
    rows (``journal_summary``, the posted journals) would give them back.
    """
    if mapping.journal.detail_level == WORKER:
        return ""
    if few_workers(snapshot.all_records()):
        return ONE_WORKER
    return ONE_WORKER_RUN if _withheld_runs(snapshot, mapping) else ""


def _rippling_totals(records: list[PayrollRecord]) -> list[tuple[str, str, Decimal]]:
    """Rippling's own totals per currency and category."""
    return [
        (currency, role.value, amount)
        for (currency, role), amount in sorted(rippling_totals(records).items())
    ]


def _debits_by_currency(journals: list[Journal]) -> dict[str, Decimal]:
    totals: Counter = Counter()
    for journal in journals:
        for line in journal.lines:
            totals[line.currency] += line.debit
    return dict(sorted(totals.items()))


def _journal_rows(
    mapping: PayrollMapping, journals: list[Journal], line_workers: dict[str, LineWorkers]
) -> list[tuple]:
    """Journals summed by run, currency, account and department, with how many workers each
    row sums.

    With ``detail_level: worker`` (the mapping's opt-in to per-person lines) every row is
    shown. At the summary level a row of one worker would be that person's pay (the only
    contractor of a department, say), so the rows are counted on a worker-level build of the
    same snapshot and rows of fewer than ``MIN_WORKERS_PER_ROW`` workers are folded into one
    row per run and currency; when that row still sums one worker it is folded into the
    smallest other row. Every row then sums two workers or more, and the rows still add up to
    the journal's totals, so none can be recovered by subtraction either. The workers of a row
    are those the build saw with an amount on its lines (``line_workers``, by run id).
    """
    if mapping.journal.detail_level == "worker":
        return _grouped(journals)
    rows = _grouped_with_workers(journals, line_workers)
    shown: list[list] = []
    folded: dict[tuple, list] = {}
    for run, currency, account, department, workers, debit, credit in rows:
        if len(workers) >= MIN_WORKERS_PER_ROW:
            shown.append([run, currency, account, department, set(workers), debit, credit])
            continue
        other = folded.setdefault((run, currency), [run, currency, FOLDED, "", set(), ZERO, ZERO])
        other[4] |= workers
        other[5] += debit
        other[6] += credit
    for (run, currency), other in sorted(folded.items()):
        if len(other[4]) >= MIN_WORKERS_PER_ROW:
            shown.append(other)
            continue
        same = [row for row in shown if row[0] == run and row[1] == currency]
        smallest = min(same, key=lambda row: abs(row[5]) + abs(row[6]), default=None)
        if smallest is None:  # the run has one worker: its total is the table's only row
            other[2] = ONE_WORKER
            other[5] = other[6] = None
            shown.append(other)
            continue
        smallest[2] = f"{smallest[2]} {FOLDED}"
        smallest[4] |= other[4]
        smallest[5] += other[5]
        smallest[6] += other[6]
    return [(r[0], r[1], r[2], r[3], len(r[4]), r[5], r[6]) for r in shown]


def _named(rows: list[tuple], names: Names) -> list[tuple]:
    """(run, currency, account, department, ...) rows with the account's and the
    department's names after their codes."""
    return [
        (
            run,
            currency,
            account,
            names.account_name(account),
            department,
            names.dimension_name(DEPARTMENT, department) if department else "",
            *rest,
        )
        for run, currency, account, department, *rest in rows
    ]


def _department(dimensions: tuple[tuple[str, str], ...]) -> str:
    return dict(dimensions).get("Department", "")


def _grouped_with_workers(
    journals: list[Journal], line_workers: dict[str, LineWorkers]
) -> list[tuple]:
    """(run, currency, account, department, workers, debit, credit), sorted: the journals'
    own sums, and the set of workers behind each row as the build recorded them."""
    sums: dict[tuple, list] = defaultdict(lambda: [set(), ZERO, ZERO])
    for journal in journals:
        run = journal.identity.run_id
        for line in journal.lines:
            key = (run, line.currency, line.account, _department(line.dimensions))
            sums[key][1] += line.debit
            sums[key][2] += line.credit
        for (currency, account, dimensions), workers in line_workers.get(run, {}).items():
            key = (run, currency, account, _department(dimensions))
            if key in sums:  # a place whose amounts all summed to zero has no line
                sums[key][0] |= workers
    return [(*key, ws, debit, credit) for key, (ws, debit, credit) in sorted(sums.items())]


def _grouped(journals: list[Journal]) -> list[tuple]:
    """(run, currency, account, department, workers, debit, credit), sorted, of worker-level
    journals: ``workers`` counts the row's vouchers (one per worker and currency)."""
    sums: dict[tuple, list] = defaultdict(lambda: [set(), ZERO, ZERO])
    for journal in journals:
        for line in journal.lines:
            key = (
                journal.identity.run_id,
                line.currency,
                line.account,
                _department(line.dimensions),
            )
            sums[key][0].add(line.voucher)
            sums[key][1] += line.debit
            sums[key][2] += line.credit
    return [(*key, len(ws), debit, credit) for key, (ws, debit, credit) in sorted(sums.items())]


def _message(result: PostResult, withheld: set[str]) -> str:
    """What the poster said of a journal, without amounts when its run's are withheld."""
    message = result.message or ""
    if result.run_id not in withheld:
        return message
    return f"{mask_amounts(message, keep=[result.run_id])} {ONE_WORKER}".strip()


def _currency(mapping: PayrollMapping, company: str) -> str:
    """The company's accounting currency (every journal of a partition is in it)."""
    entity = mapping.company(company)
    return entity.currency if entity is not None else ""


def _alert_waiting(
    context: dg.AssetExecutionContext,
    connector: ConnectorResource,
    key: str,
    builds: list[JournalBuild],
    snapshot: PeriodSnapshot,
    mapping: PayrollMapping,
    why: str,
) -> None:
    """Tell finance the partition's journals wait for their approval: once per content (the
    reference is a hash of the journals' payload hashes), so a sensor's next run of the same
    journals does not tell again and journals changed since (a new approval) do."""
    pay_period, company = split_key(key)
    hashes = sorted(f"{b.journal.identity.key}={b.journal.payload_hash()}" for b in builds)
    digest = hashlib.sha256("\n".join(hashes).encode()).hexdigest()[:16]
    debits = _debits_by_currency([b.journal for b in builds])
    show = not _withhold_totals(snapshot, mapping) and len(debits) == 1
    with connector.audit() as audit:
        enqueue(
            audit,
            alert_for_run(
                connector.settings(),
                AlertKind.APPROVAL_WAITING,
                run_id=context.run.run_id,
                company=company,
                pay_period=pay_period,
                summary=f"{len(builds)} journal(s) passed every check and wait for finance's"
                f" approval ({why}): `{naming.COMMAND} approve --pay-period {pay_period}"
                f" --legal-entity {company} --by NAME`, or the"
                f" {naming.name('approve_journals')} job",
                amount=next(iter(debits.values())) if show else None,
                currency=next(iter(debits)) if show else None,
                reference=f"approval:{digest}",
            ),
        )


def _alert_corrections(
    context: dg.AssetExecutionContext,
    connector: ConnectorResource,
    pay_period: str,
    company: str,
    results: list[PostResult],
    withheld: set[str],
) -> None:
    """Tell finance of each journal F&O holds that Rippling has since changed: once per
    journal and content (the alert's reference is the journal key and the differences' hash,
    so a later run that sees the same change does not tell again; a further change does).

    The amount is half the sum of the absolute differences: a balanced change moves each
    amount once on the debit side and once on the credit side."""
    with connector.audit() as audit:
        for result in results:
            if not result.differences:
                continue
            currencies = {d.currency for d in result.differences}
            moved = sum((abs(d.difference) for d in result.differences), ZERO) / 2
            show = len(currencies) == 1 and result.run_id not in withheld
            digest = hashlib.sha256(
                repr(
                    sorted((d.account, d.currency, str(d.now)) for d in result.differences)
                ).encode()
            ).hexdigest()[:12]
            enqueue(
                audit,
                alert_for_run(
                    connector.settings(),
                    AlertKind.CORRECTION_NEEDED,
                    run_id=context.run.run_id,
                    company=company,
                    pay_period=pay_period,
                    summary=f"Rippling pay run {result.run_id} changed after its journal was"
                    f" created in F&O: {len(result.differences)} account(s) differ;"
                    f" `{naming.COMMAND} correct --pay-period {pay_period}` shows and applies the"
                    " correction",
                    amount=moved.quantize(Decimal("0.01")) if show else None,
                    currency=next(iter(currencies)) if show else None,
                    reference=f"{result.journal_key}:{digest}",
                ),
            )


def _links(
    connector: ConnectorResource, company: str, results: list[PostResult]
) -> dict[str, dg.MetadataValue]:
    """Clickable links to each journal in F&O and each pay run in Rippling (``links.py``)."""
    settings = connector.settings()
    environment = connector.connection().credentials.dynamics.environment_url
    links: dict[str, str] = {}
    for result in results:
        for part in result.parts:
            if part.batch_number:
                links[f"F&O journal {part.batch_number}"] = fo_journal_url(
                    settings.fo_journal_url, environment, company, part.batch_number
                )
        links[f"Rippling pay run {result.run_id}"] = rippling_run_url(
            settings.rippling_pay_run_url, result.run_id
        )
    return link_metadata(links)


def _rows(results: list[PostResult], withheld: set[str], currency: str) -> list[tuple]:
    """One row per journal part (``POSTED_COLUMNS``): JournalBatchNumber, ``currency``, the
    totals Dynamics reports, lines, status, run, why; a run of ``withheld`` (one worker) keeps
    all but its totals."""
    rows = []
    for r in results:
        status = journal_status(r)
        why = _message(r, withheld)
        if not r.parts:
            rows.append((None, currency, None, None, None, status.value, r.run_id, why))
        hide = r.run_id in withheld
        for part in r.parts:
            rows.append(
                (
                    part.batch_number,
                    currency,
                    None if hide else part.total_debit,
                    None if hide else part.total_credit,
                    part.lines,
                    status.value,
                    r.run_id,
                    why,
                )
            )
    return rows


@dg.asset(
    key_prefix=naming.key_prefix("dynamics"),
    partitions_def=payroll_partitions,
    backfill_policy=POLICY,
    group_name=GROUP,
    kinds={"dynamics365"},
    pool=DYNAMICS_POOL,
    output_required=False,
    check_specs=POSTED_CHECKS,
    ins={
        "journals": dg.AssetIn(key=labor_cost_journals.key),
        "snapshots": dg.AssetIn(key=payroll_cost_snapshot.key),
    },
    description="The journals as created in Dynamics: JournalBatchNumber and the totals Dynamics"
    " reports back, per run. Idempotent: a replay never creates a second journal. Refuses any"
    " journal that does not pass the five checks now, with the mapping it holds now.",
)
def posted_journals(
    context: dg.AssetExecutionContext,
    connector: ConnectorResource,
    journals: dict[str, list[JournalBuild]],
    snapshots: dict[str, PeriodSnapshot],
):
    key, pay_period, company = _partition(context)
    builds = journals.get(key, [])
    snapshot = snapshots[key]
    if not builds:
        reason = snapshot.nothing_to_post_reason()
        context.log.info(f"{company} {pay_period}: nothing to post: {reason}")
        yield matches_rippling({}, 0)
        yield dg.AssetObservation(
            asset_key=context.asset_key,
            partition=key,
            metadata={"status": JournalStatus.NOTHING_TO_POST.value, "why": reason},
        )
        return
    mapping = connector.mapping()
    results: list[PostResult] = []
    with connector.dynamics() as dynamics, connector.audit() as audit:
        poster = poster_for_run(JournalPoster, context, dynamics, audit, mapping)
        for build in builds:
            records = snapshot.records.get(build.journal.identity.run_id, [])
            try:
                results.append(
                    poster.post(
                        build,
                        records,
                        partition_key=key,
                        pay_period=pay_period,
                        partition_builds=builds,
                    )
                )
            except (DynamicsError, PostingError) as exc:
                failed = PostResult(
                    build.journal.identity.key,
                    build.journal.identity.run_id,
                    company,
                    Outcome.FAILED,
                    message=str(exc),
                )
                results.append(failed)
                context.log.error(f"posting failed for {key}: {exc}")
    status = partition_status(results)
    withheld = _withheld_runs(snapshot, mapping)
    if status.is_success or status is JournalStatus.CHANGED or status.is_waiting:
        # F&O was read and compared for every journal; a failed or blocked one was not, and
        # "passed" is never said of what was not compared. A waiting journal was read (it is
        # not in F&O): the check counts only what F&O holds.
        compared = [r for r in results if r.parts or r.differences]
        differences = {r.run_id: r.differences for r in results if r.differences}
        yield matches_rippling(differences, len(compared), withheld)
        _alert_corrections(context, connector, pay_period, company, results, withheld)
    metadata = {
        "status": status.value,
        "journals": tables.table(
            POSTED_COLUMNS, _rows(results, withheld, _currency(mapping, company))
        ),
        "journal_batch_numbers": dg.MetadataValue.json(
            {r.run_id: r.batch_numbers for r in results}
        ),
        "created": sum(1 for r in results if journal_status(r) is JournalStatus.CREATED),
        "already_present": sum(1 for r in results if journal_status(r) is JournalStatus.PRESENT),
        "posted_by_finance": sum(
            1 for r in results if journal_status(r) is JournalStatus.POSTED_BY_FINANCE
        ),
        "audit_trail": _audit_trail(connector, pay_period, company, withheld),
        **_links(connector, company, results),
    }
    if status.is_waiting:
        # Not a failure (nothing is broken) and not a materialization (nothing was written):
        # the partition shows "waiting for approval" and why until finance decides.
        waiting = [r for r in results if journal_status(r).is_waiting]
        metadata["why"] = _message(waiting[0], withheld) if waiting else ""
        context.log.info(f"{company} {pay_period}: {status.value}: {metadata['why']}")
        _alert_waiting(context, connector, key, builds, snapshot, mapping, str(metadata["why"]))
        yield dg.AssetObservation(asset_key=context.asset_key, partition=key, metadata=metadata)
        return
    if not status.is_success:
        reasons = "; ".join(
            f"run {r.run_id}: {journal_status(r).value}: {_message(r, withheld)}"
            for r in results
            if not journal_status(r).is_success
        )
        raise dg.Failure(
            description=f"{company} {pay_period}: {status.value}. {reasons}",
            metadata=metadata,
        )
    yield dg.MaterializeResult(metadata=metadata)
