"""Payroll to general ledger: snapshot -> journals -> (five blocking checks) -> posted journals.

All three assets share the payroll partitions and a single-run backfill policy, so a backfill
of many pay periods runs as few runs as Dagster can make, each step handling
``context.partition_keys``. The posting step sits in the same run as the checks that guard it.
"""

from collections import Counter

import dagster as dg

from ml_connector_dagster.audit.store import Outcome
from ml_connector_dagster.defs.checks import (
    JOURNAL_CHECKS,
    SNAPSHOT_CHECKS,
    journal_checks,
    source_sane,
)
from ml_connector_dagster.defs.partitions import DYNAMICS_POOL, payroll_partitions, split_key
from ml_connector_dagster.defs.resources import ConnectorResource
from ml_connector_dagster.dynamics.errors import DynamicsError
from ml_connector_dagster.ledger.journal import JournalBuild
from ml_connector_dagster.payroll.journals import journals_for
from ml_connector_dagster.payroll.snapshot import PeriodSnapshot, read_snapshots
from ml_connector_dagster.payroll.summary import journal_table, markdown_table, totals_table
from ml_connector_dagster.posting.poster import JournalPoster, PostingError, PostResult

POLICY = dg.BackfillPolicy.single_run()
POSTED_COLUMNS = (
    "partition",
    "run",
    "outcome",
    "JournalBatchNumber",
    "action",
    "lines",
    "debit (Dynamics)",
    "credit (Dynamics)",
)
GROUP = "payroll"


@dg.asset(
    key_prefix=["rippling"],
    partitions_def=payroll_partitions,
    backfill_policy=POLICY,
    group_name=GROUP,
    kinds={"rippling"},
    deps=[dg.AssetKey(["rippling", "workers"]), dg.AssetKey(["rippling", "job_codes"])],
    check_specs=SNAPSHOT_CHECKS,
    description="Every worker payroll record of every run whose pay period ends on the partition's"
    " date, for the partition's legal entity, with the workers' departments and job codes.",
)
def payroll_cost_snapshot(context: dg.AssetExecutionContext, connector: ConnectorResource):
    mapping = connector.mapping()
    keys = {key: split_key(key) for key in context.partition_keys}
    with connector.rippling() as rippling:
        snapshots = read_snapshots(rippling, mapping, keys.values())
    result = {key: snapshots[pair] for key, pair in keys.items()}
    records = [r for s in result.values() for r in s.all_records()]
    runs = [(k, run) for k, s in result.items() for run in s.runs]
    redacted = {w: f for s in result.values() for w, f in s.redacted.items()}
    yield dg.Output(
        result,
        metadata={
            "partitions": len(result),
            "runs": dg.MetadataValue.md(
                markdown_table(
                    ("partition", "run", "type", "state", "check date", "records"),
                    (
                        (
                            k,
                            run.id,
                            run.run_type,
                            run.run_state,
                            run.check_date,
                            len(result[k].records.get(run.id, [])),
                        )
                        for k, run in runs
                    ),
                )
            ),
            "worker_count": len({r.worker_id for r in records}),
            "record_count": len(records),
            "totals_by_category": dg.MetadataValue.md(totals_table(records)),
            "redacted_workers": len(redacted),
            "redactions": dg.MetadataValue.json(
                {w: list(f) for w, f in sorted(redacted.items())[:200]}
            ),
        },
    )
    yield source_sane(result)


@dg.asset(
    key_prefix=["ledger"],
    partitions_def=payroll_partitions,
    backfill_policy=POLICY,
    group_name=GROUP,
    kinds={"python"},
    ins={"snapshots": dg.AssetIn(key=payroll_cost_snapshot.key)},
    check_specs=JOURNAL_CHECKS,
    description="Balanced labor-cost journals (one per run and journal type) built from the"
    " snapshot with the finance mapping.",
)
def labor_cost_journals(
    context: dg.AssetExecutionContext,
    connector: ConnectorResource,
    snapshots: dict[str, PeriodSnapshot],
):
    mapping = connector.mapping()
    result = {key: journals_for(snapshot, mapping) for key, snapshot in snapshots.items()}
    journals = [b.journal for builds in result.values() for b in builds]
    yield dg.Output(
        result,
        metadata={
            "journals": len(journals),
            "line_count": sum(len(j.lines) for j in journals),
            "total_debit": dg.MetadataValue.md(_by_currency(journals, "debit")),
            "journal_summary": dg.MetadataValue.md(journal_table(journals)),
            "payload_hashes": dg.MetadataValue.json(
                {
                    f"{j.identity.run_id} {j.company} {j.identity.journal_type}": j.payload_hash()
                    for j in journals
                }
            ),
            "mapping_problems": sum(len(b.problems) for bs in result.values() for b in bs),
        },
    )
    yield from journal_checks(connector, result, snapshots)


def _by_currency(journals, side: str) -> str:
    totals: Counter = Counter()
    for journal in journals:
        for line in journal.lines:
            totals[line.currency] += line.debit if side == "debit" else line.credit
    return markdown_table(("currency", side), ((c, f"{a:,.2f}") for c, a in sorted(totals.items())))


@dg.asset(
    key_prefix=["dynamics"],
    partitions_def=payroll_partitions,
    backfill_policy=POLICY,
    group_name=GROUP,
    kinds={"dynamics365"},
    pool=DYNAMICS_POOL,
    ins={"journals": dg.AssetIn(key=labor_cost_journals.key)},
    description="The journals as created in Dynamics: JournalBatchNumber and the totals Dynamics"
    " reports back, per run. Idempotent: a replay never creates a second journal.",
)
def posted_journals(
    context: dg.AssetExecutionContext,
    connector: ConnectorResource,
    journals: dict[str, list[JournalBuild]],
) -> dg.MaterializeResult:
    mapping = connector.mapping()
    results: list[tuple[str, PostResult]] = []
    failures: list[str] = []
    with connector.dynamics() as dynamics, connector.audit() as audit:
        poster = JournalPoster(dynamics, audit, mapping, dagster_run_id=context.run.run_id)
        for key, builds in sorted(journals.items()):
            pay_period, _ = split_key(key)
            for build in builds:
                try:
                    results.append(
                        (key, poster.post(build.journal, partition_key=key, pay_period=pay_period))
                    )
                except (DynamicsError, PostingError) as exc:
                    failures.append(f"{key} run {build.journal.identity.run_id}: {exc}")
                    context.log.error(f"posting failed for {key}: {exc}")
    rows = [
        (
            key,
            r.run_id,
            r.outcome,
            part.batch_number,
            part.action,
            part.lines,
            f"{part.total_debit:,.2f}",
            f"{part.total_credit:,.2f}",
        )
        for key, r in results
        for part in r.parts
    ]
    blocked = [
        (key, r.run_id, r.message) for key, r in results if r.outcome == Outcome.BLOCKED_BY_CHECK
    ]
    if failures:
        raise dg.Failure(
            description="posting failed; `ml-connector replay` retries idempotently",
            metadata={
                "failures": dg.MetadataValue.md("\n".join(f"- {f}" for f in failures)),
                "posted_before_failure": dg.MetadataValue.md(markdown_table(POSTED_COLUMNS, rows)),
            },
        )
    return dg.MaterializeResult(
        metadata={
            "journals": dg.MetadataValue.md(markdown_table(POSTED_COLUMNS, rows)),
            "journal_batch_numbers": dg.MetadataValue.json(
                {r.run_id: r.batch_numbers for _, r in results}
            ),
            "posted": sum(1 for _, r in results if r.outcome == Outcome.POSTED),
            "skipped_duplicates": sum(
                1 for _, r in results if r.outcome == Outcome.SKIPPED_DUPLICATE
            ),
            "changed_after_posting": dg.MetadataValue.md(
                markdown_table(("partition", "run", "what to do"), blocked) if blocked else "none"
            ),
            "audit_trail": "ml-connector audit --pay-period <date> shows every attempt",
        }
    )
