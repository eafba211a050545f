"""The labor cost reconciliation: one asset per month x company, and the check finance reviews.

At close, finance wants to know that what Rippling paid in the month is what the ledger holds
on the labor-cost accounts, and what else sits there. The asset reads Rippling's register for
the month (``month_end/register.py``), what F&O posted on the reconciled accounts from every
source and what of the connector's journals waits for posting (``month_end/ledger_side.py``),
compares them (``ledger/reconciliation.py``) and writes the workbook finance files with the
close (``export/reconciliation.py``).

The check ``register_matches_ledger`` never blocks anything (nothing is written to F&O here):
it passes only when every place matches and the register is complete, and otherwise says in
one sentence what differs; the tables are on the materialization.
"""

from decimal import Decimal
from typing import Any

import dagster as dg

from ml_connector_dagster.defs import naming, tables
from ml_connector_dagster.defs.month_end.partitions import MonthPartition, month_partitions
from ml_connector_dagster.defs.month_end.places import place_text
from ml_connector_dagster.defs.payroll.partitions import single_partition_key
from ml_connector_dagster.defs.resources import ConnectorResource
from ml_connector_dagster.defs.run_limits import runtime_tags
from ml_connector_dagster.dynamics.readers import active_format
from ml_connector_dagster.export.reconciliation import (
    reconciliation_export_path,
    write_reconciliation,
)
from ml_connector_dagster.ledger.reconciliation import Status, reconcile
from ml_connector_dagster.month_end.ledger_side import (
    accrual_journals,
    connector_journals,
    read_ledger_side,
)
from ml_connector_dagster.month_end.reconciled import ReconciledMonth
from ml_connector_dagster.month_end.register import month_register, reconciled_accounts

GROUP = naming.name("month_end")
CHECK = "register_matches_ledger"
ASSET_KEY = naming.asset_key("ledger", "labor_cost_reconciliation")

PLACE = "main account and dimensions as F&O shows them, in the mapping's format order"
PLACE_COLUMNS = [
    tables.text("place", PLACE),
    tables.text("status"),
    tables.currency(),
    tables.money("register", "Rippling: the month's settled pay runs, placed by the mapping"),
    tables.money("posted_by_connector", "posted in F&O from the connector's journals"),
    tables.money("posted_by_others", "posted in F&O from any other source"),
    tables.money("unposted", "the connector's journals F&O holds, not yet posted"),
    tables.money("difference", "register minus everything posted"),
]
ENTRY_COLUMNS = [
    tables.text("date"),
    tables.text("journal"),
    tables.text("voucher"),
    tables.text("place", PLACE),
    tables.currency(),
    tables.money("amount", "debit positive"),
    tables.text("text"),
]
TOTAL_COLUMNS = [
    tables.currency(),
    tables.money("register"),
    tables.money("posted"),
    tables.money("unposted"),
    tables.money("difference"),
]


def _accrual_totals(result: ReconciledMonth) -> dict[str, str]:
    totals: dict[str, Decimal] = {}
    for entry in result.accruals:
        currency = entry.place.currency
        totals[currency] = totals.get(currency, Decimal("0.00")) + entry.amount
    return {currency: str(amount) for currency, amount in sorted(totals.items())}


def _metadata(result: ReconciledMonth, delimiter: str) -> dict[str, Any]:
    reconciliation = result.reconciliation
    order = result.dimension_order
    counts = reconciliation.counts()
    rows = sorted(reconciliation.rows, key=lambda r: (r.status is Status.MATCHED, r.place))
    return {
        "summary": result.summary(),
        "reconciled": result.reconciled,
        **{f"places_{status.name.lower()}": counts[status] for status in Status},
        "register_runs": len(result.runs),
        "accounts": ", ".join(reconciliation.accounts),
        "places": tables.table(
            PLACE_COLUMNS,
            (
                (
                    place_text(r.place.account, r.place.dimensions, order, delimiter),
                    r.status,
                    r.place.currency,
                    r.register,
                    r.posted_by_connector,
                    r.posted_by_others,
                    r.unposted,
                    r.difference,
                )
                for r in rows
            ),
        ),
        "other_entries": tables.table(
            ENTRY_COLUMNS,
            (
                (
                    e.accounting_date,
                    e.journal_number,
                    e.voucher,
                    place_text(e.place.account, e.place.dimensions, order, delimiter),
                    e.place.currency,
                    e.amount,
                    e.text,
                )
                for e in reconciliation.other_entries
            ),
        ),
        "totals": tables.table(
            TOTAL_COLUMNS,
            (
                (t.currency, t.register, t.posted, t.unposted, t.difference)
                for t in reconciliation.totals
            ),
        ),
        # Exact amounts (the tables above display floats, ``defs/tables.py``).
        "totals_exact": dg.MetadataValue.json(
            {
                t.currency: {
                    "register": str(t.register),
                    "posted": str(t.posted),
                    "unposted": str(t.unposted),
                    "difference": str(t.difference),
                }
                for t in reconciliation.totals
            }
        ),
        "register_problems": dg.MetadataValue.json(list(result.problems[:200])),
        # The connector's accruals dated in the month, set apart (estimates that reverse).
        "connector_accruals": dg.MetadataValue.json(_accrual_totals(result)),
    }


@dg.asset(
    key=ASSET_KEY,
    partitions_def=month_partitions,
    group_name=GROUP,
    kinds={"rippling", "dynamics"},
    deps=[
        naming.asset_key("finance", "payroll_mapping"),
        naming.asset_key("dynamics", "ledger_dimensions"),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            CHECK,
            asset=ASSET_KEY,
            blocking=False,
            description="Every place of the labor-cost accounts holds in F&O what Rippling's"
            " register for the month says, and nothing else: matched, awaiting posting, other"
            " entries or a difference, per account and dimensions.",
        )
    ],
    description="Rippling's payroll register for the month against the general ledger as F&O"
    " posted it (every source), per account, dimensions and currency; with the workbook.",
)
def labor_cost_reconciliation(context: dg.AssetExecutionContext, connector: ConnectorResource):
    key = single_partition_key(context)
    if key is None:
        raise dg.Failure(description="one month x company per run: launch a backfill instead")
    partition = MonthPartition.parse(key)
    mapping = connector.mapping()
    if mapping.company(partition.company) is None:
        raise dg.Failure(description=f"legal entity {partition.company} is not in the mapping")
    accounts = reconciled_accounts(mapping)
    with connector.rippling() as rippling:
        register = month_register(rippling, mapping, partition.company, partition.month)
    problems = list(register.problems)
    with connector.dynamics() as dynamics, connector.audit() as store:
        fmt = active_format(dynamics)
        if fmt.dimensions != mapping.dimension_format.dimensions:
            problems.insert(
                0,
                f"F&O's active ledger format {fmt.display} is not the mapping's"
                f" {mapping.dimension_format.display}: places may not line up",
            )
        side = read_ledger_side(
            dynamics,
            partition.company,
            partition.month,
            fmt,
            accounts,
            connector_journals(store, partition.company),
            accrual_journals(store, partition.company),
        )
    reconciliation = reconcile(
        partition.company,
        str(partition.month),
        accounts,
        register.lines,
        side.posted,
        side.unposted,
    )
    path = reconciliation_export_path(
        connector.settings().connection_directory(), partition.month, partition.company
    )
    result = ReconciledMonth(
        reconciliation=reconciliation,
        runs=tuple(register.runs),
        problems=tuple(problems),
        dimension_order=mapping.dimension_format.financial_dimensions,
        accruals=tuple(side.accruals),
    )
    write_reconciliation(result, path)
    metadata = _metadata(result, mapping.dimension_format.delimiter)
    metadata["workbook"] = dg.MetadataValue.path(str(path))
    yield dg.Output({key: result}, metadata=metadata)
    yield dg.AssetCheckResult(
        check_name=CHECK,
        passed=result.reconciled,
        severity=dg.AssetCheckSeverity.WARN,
        description=result.summary(),
        metadata={
            **{status.value: count for status, count in reconciliation.counts().items()},
            "register_problems": len(problems),
        },
    )


reconciliation_job = dg.define_asset_job(
    naming.name("month_end_reconciliation"),
    selection=dg.AssetSelection.assets(ASSET_KEY),
    partitions_def=month_partitions,
    tags=runtime_tags(),
    description="Reconcile a month x company: Rippling's register against the posted ledger.",
)
