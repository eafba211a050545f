"""The month-end accrual of unpaid days: one journal per company and month, posted to F&O.

A pay period that straddles month end leaves days worked but not paid in the closing month.
With ``journal.month_end_accrual`` on, this asset estimates their labor cost from the latest
paid regular run (``ledger/month_end_accrual.py``: the rule, with the basis it used), and posts
it as its own journal, dated at month end and reversing the next day, through the same poster
as every journal: one identity per company and month (``month-end-2026-11``), claimed, found
again in F&O by its IntegrationKey, never written twice, its every attempt in the audit trail.

Finance reviews the check ``accrual_balanced`` (blocking: an unbalanced accrual never posts) and
the basis on the materialization: the unpaid days, the runs it was scaled from and by how much.
"""

from typing import Any

import dagster as dg

from ml_connector_dagster.defs import naming, tables
from ml_connector_dagster.defs.month_end.partitions import MonthPartition, month_partitions
from ml_connector_dagster.defs.month_end.places import place_text
from ml_connector_dagster.defs.payroll.launcher import poster_for_run
from ml_connector_dagster.defs.payroll.partitions import single_partition_key
from ml_connector_dagster.defs.pools import DYNAMICS_POOL
from ml_connector_dagster.defs.resources import ConnectorResource
from ml_connector_dagster.defs.run_limits import runtime_tags
from ml_connector_dagster.dynamics.errors import DynamicsError
from ml_connector_dagster.ledger.checks import check_balanced
from ml_connector_dagster.ledger.journal import JournalBuild, JournalIdentity, JournalType
from ml_connector_dagster.ledger.month_end_accrual import MonthEndAccrual, month_end_journal
from ml_connector_dagster.ledger.month_end_accrual import (
    month_end_accrual as month_end_accrual_of,
)
from ml_connector_dagster.month_end.accrual_inputs import read_accrual_inputs
from ml_connector_dagster.posting.corrections import JournalCorrector
from ml_connector_dagster.posting.poster import JournalPoster, PostingError, PostResult
from ml_connector_dagster.posting.status import JournalStatus, journal_status

GROUP = naming.name("month_end")
ASSET_KEY = naming.asset_key("ledger", "month_end_accrual")
BALANCED = "accrual_balanced"


class AccrualConfig(dg.Config):
    """Writes the accrual by default; when the one in F&O differs from the estimate now (the
    basis run changed in Rippling), ``apply_correction`` corrects it, recorded with
    ``requested_by``."""

    apply_correction: bool = False
    requested_by: str = ""


BASIS_COLUMNS = [
    tables.text("run", "the Rippling pay run the accrual is scaled from"),
    tables.text("period"),
    tables.text("check_date"),
    tables.count("period_days"),
    tables.text("factor", "unpaid days / the run's period days"),
    tables.currency(),
    tables.money("expense", "the run's labor cost (expense lines)"),
    tables.money("accrued"),
]
LINE_COLUMNS = [
    tables.text("voucher"),
    tables.text("place", "main account and dimensions in the mapping's format order"),
    tables.currency(),
    tables.money("debit"),
    tables.money("credit"),
]


def _basis_metadata(
    accrual: MonthEndAccrual, order: tuple[str, ...], delimiter: str
) -> dict[str, Any]:
    return {
        "unpaid_days": accrual.unpaid_days,
        "basis_rule": accrual.basis_rule,
        "unpaid_span": (
            f"{accrual.unpaid_first} to {accrual.unpaid_last} ({accrual.day_basis} days)"
            if accrual.unpaid_first
            else "-"
        ),
        "basis": tables.table(
            BASIS_COLUMNS,
            (
                (
                    b.run_id,
                    f"{b.period_start} to {b.period_end}",
                    b.check_date,
                    b.period_days,
                    b.factor_text,
                    b.currency,
                    b.expense_total,
                    b.accrued_total,
                )
                for b in accrual.basis
            ),
        ),
        "basis_exact": dg.MetadataValue.json(
            [
                {
                    "run": b.run_id,
                    "factor": b.factor_text,
                    "expense": str(b.expense_total),
                    "accrued": str(b.accrued_total),
                    "currency": b.currency,
                }
                for b in accrual.basis
            ]
        ),
        "total_debit_exact": str(accrual.total_debit),
        "lines": tables.table(
            LINE_COLUMNS,
            (
                (
                    line.voucher,
                    place_text(line.account, line.dimensions, order, delimiter),
                    line.currency,
                    line.debit,
                    line.credit,
                )
                for line in accrual.lines
            ),
        ),
    }


@dg.asset(
    key=ASSET_KEY,
    partitions_def=month_partitions,
    group_name=GROUP,
    kinds={"rippling", "dynamics"},
    pool=DYNAMICS_POOL,
    deps=[naming.asset_key("finance", "payroll_mapping")],
    check_specs=[
        dg.AssetCheckSpec(
            BALANCED,
            asset=ASSET_KEY,
            blocking=True,
            description="Every voucher of the month-end accrual balances to the cent; an"
            " unbalanced accrual is never written to F&O.",
        )
    ],
    description="The labor cost of the month's unpaid days (after the last paid pay period),"
    " estimated from the latest paid regular run, posted at month end and reversing the next"
    " day, on the settlement's accounts and dimensions against accrued payroll.",
)
def month_end_accrual(
    context: dg.AssetExecutionContext, connector: ConnectorResource, config: AccrualConfig
):
    key = single_partition_key(context)
    if key is None:
        raise dg.Failure(description="one month x company per run: launch a backfill instead")
    partition = MonthPartition.parse(key)
    mapping = connector.mapping()
    company = mapping.company(partition.company)
    if company is None:
        raise dg.Failure(description=f"legal entity {partition.company} is not in the mapping")
    if not mapping.journal.month_end_accrual:
        raise dg.Failure(
            description="the month-end accrual is off for this connection: nothing was"
            " estimated or written (journal.month_end_accrual: true and accounts.accrued_payroll"
            " in the mapping turn it on)"
        )
    with connector.rippling() as rippling:
        inputs = read_accrual_inputs(rippling, mapping, partition.company, partition.month)
    accrual = month_end_accrual_of(
        company=partition.company,
        month_end=partition.month.last_day,
        paid=inputs.paid,
        settlement_lines={run_id: b.journal.lines for run_id, b in inputs.builds.items()},
        accrued_account=str(mapping.accounts.accrued_payroll),
        accrued_dimensions=tuple(sorted(company.dimensions.items())),
        day_basis=mapping.journal.accrual_days,
    )
    spec = mapping.dimension_format
    metadata = _basis_metadata(accrual, spec.financial_dimensions, spec.delimiter)
    if not accrual.lines:
        yield dg.AssetCheckResult(
            check_name=BALANCED, passed=True, description=f"nothing to accrue: {accrual.reason}"
        )
        yield dg.MaterializeResult(
            metadata={**metadata, "status": "nothing to accrue", "why": accrual.reason}
        )
        return
    identity = JournalIdentity(
        connection=mapping.connection,
        run_id=f"month-end-{partition.month}",
        company=partition.company,
        journal_type=JournalType.MONTH_END_ACCRUAL,
    )
    journal = month_end_journal(
        accrual,
        identity,
        journal_name=mapping.journal.name,
        # The marker finds the journal again on tenants without IntegrationKey (entries.py).
        description=f"Payroll accrual {partition.month} {identity.marker}",
        source_record_ids=inputs.record_ids,
        worker_ids=inputs.worker_ids,
        mapping_hash=mapping.content_hash,
    )
    problems = [p for build in inputs.builds.values() for p in build.problems]
    build = JournalBuild(journal=journal, problems=problems)
    findings = check_balanced(journal)
    yield dg.AssetCheckResult(
        check_name=BALANCED,
        passed=not findings,
        description="every voucher balances"
        if not findings
        else f"{len(findings)} voucher(s) do not balance: nothing was written to F&O",
    )
    if findings:
        raise dg.Failure(
            description=f"{partition.company} {partition.month}: the accrual does not balance;"
            " nothing was written to F&O"
        )
    with connector.dynamics() as dynamics, connector.audit() as audit:
        poster = poster_for_run(JournalPoster, context, dynamics, audit, mapping)
        try:
            result = poster.post(
                build,
                [],
                partition_key=key,
                pay_period=partition.month.last_day.isoformat(),
                partition_builds=[build],
            )
            status = journal_status(result)
            metadata.update(_result_metadata(result, status.value))
            if status is JournalStatus.CHANGED and config.apply_correction:
                metadata.update(_correct(context, config, dynamics, audit, mapping, build, key))
                yield dg.MaterializeResult(metadata=metadata)
                return
        except (DynamicsError, PostingError) as exc:
            raise dg.Failure(
                description=f"{partition.company} {partition.month}: writing the accrual"
                f" failed: {exc}"
            ) from None
    if status is JournalStatus.CHANGED:
        raise dg.Failure(
            description=f"{partition.company} {partition.month}: the accrual F&O holds differs"
            f" from the estimate now (Rippling changed the basis run): {result.message}."
            " Nothing was written. To correct it, launch this job with apply_correction: true"
            f" and requested_by, or `{naming.COMMAND} accrue {partition.month} --legal-entity"
            f" {partition.company} --correct --requested-by NAME`",
            metadata=metadata,
        )
    if status.is_waiting:
        # ``journal.approval: required`` holds every write of the connection for an approval;
        # the approval commands and job bind to pay periods, not yet to month-end journals.
        raise dg.Failure(
            description=f"{partition.company} {partition.month}: waiting for approval"
            " (journal.approval: required); approving a month-end accrual is not supported"
            " yet, so nothing was written to F&O",
            metadata=metadata,
        )
    if not status.is_success:
        raise dg.Failure(
            description=f"{partition.company} {partition.month}: {status.value}: {result.message}",
            metadata=metadata,
        )
    yield dg.MaterializeResult(metadata=metadata)


def _correct(
    context: dg.AssetExecutionContext,
    config: "AccrualConfig",
    dynamics,
    audit,
    mapping,
    build: JournalBuild,
    key: str,
) -> dict[str, Any]:
    """Replace the lines of an unposted accrual, or write a correcting journal for a posted
    one (``posting/corrections.py``), recorded with who asked."""
    who = config.requested_by.strip()
    if not who:
        raise dg.Failure(description="apply_correction needs requested_by: who asks for it")
    corrector = poster_for_run(JournalCorrector, context, dynamics, audit, mapping, who)
    correction = corrector.correct(
        build,
        apply=True,
        requested_by=who,
        partition_key=key,
        pay_period=build.journal.trans_date.isoformat(),
        partition_builds=[build],
    )
    if not correction.applied:
        raise dg.Failure(description=f"the correction was not written: {correction.reason}")
    return {
        "status": f"corrected ({correction.kind})",
        "correction": correction.reason,
        "journal_batch_numbers": dg.MetadataValue.json(
            sorted(set(correction.holders) | set(correction.batch_numbers))
        ),
    }


def _result_metadata(result: PostResult, status: str) -> dict[str, Any]:
    return {
        "status": status,
        "journal_batch_numbers": dg.MetadataValue.json(result.batch_numbers),
        "journal_key": result.journal_key,
    }


accrual_job = dg.define_asset_job(
    naming.name("month_end_accrual"),
    selection=dg.AssetSelection.assets(ASSET_KEY),
    partitions_def=month_partitions,
    tags=runtime_tags(),
    description="Estimate and post the month-end accrual of unpaid days for a month x company.",
)
