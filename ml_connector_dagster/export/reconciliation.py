"""A month's reconciliation as a workbook (or CSV files) finance files with the close.

Sheets: **Places** (one row per account, dimensions and currency: Rippling's register, what
the connector posted, what other sources posted, what of ours waits for posting, the
difference and the status), **Other entries** (every entry on the reconciled accounts that no
journal of the connector made: hand entries, other integrations), **Unposted** (lines of the
connector's journals F&O holds but finance has not posted), **Runs** (the Rippling pay runs of
the register) and **Totals** (per currency). Amounts are the exact ``Decimal`` of the
reconciliation; the writers keep them exact (``export/writers.py``).

Written by the reconciliation step to
``<connection directory>/exports/reconciliation/<YYYY-MM>/<COMPANY>.xlsx`` and by
``ml-connector reconcile --export``.
"""

import re
from collections.abc import Sequence
from pathlib import Path

from ml_connector_dagster.export.journal import Column, Table
from ml_connector_dagster.export.partition import exports_root
from ml_connector_dagster.export.writers import ExportFormat, write_tables_csv, write_workbook
from ml_connector_dagster.ledger.reconciliation import Place, Reconciliation
from ml_connector_dagster.month_end.month import Month
from ml_connector_dagster.month_end.reconciled import ReconciledMonth, RegisterRun
from ml_connector_dagster.storage.sealed import private_dirs

_COMPANY = re.compile(r"^[A-Z0-9_-]{1,20}$")


def dimension_names(reconciliation: Reconciliation, ordered: Sequence[str]) -> list[str]:
    """The format's dimensions in order, then any other a place carries (none is dropped)."""
    seen = {
        name
        for place in _places(reconciliation)
        for name, _ in place.dimensions
        if name not in ordered
    }
    return [*ordered, *sorted(seen)]


def _places(reconciliation: Reconciliation) -> list[Place]:
    return [
        *(row.place for row in reconciliation.rows),
        *(entry.place for entry in reconciliation.other_entries),
        *(line.place for line in reconciliation.unposted),
    ]


def _place_cells(place: Place, dimensions: Sequence[str]) -> tuple:
    values = dict(place.dimensions)
    return (place.account, *(values.get(name) for name in dimensions), place.currency)


def _place_columns(dimensions: Sequence[str]) -> tuple[Column, ...]:
    return (
        Column("account"),
        *(Column(name) for name in dimensions),
        Column("currency"),
    )


def reconciliation_tables(
    reconciliation: Reconciliation,
    runs: Sequence[RegisterRun],
    dimension_order: Sequence[str],
) -> list[Table]:
    dims = dimension_names(reconciliation, dimension_order)
    places = Table(
        "Places",
        (
            *_place_columns(dims),
            Column("register", "money"),
            Column("posted by connector", "money"),
            Column("posted by others", "money"),
            Column("other entries", "count"),
            Column("unposted", "money"),
            Column("difference", "money"),
            Column("status"),
            Column("runs"),
        ),
        [
            (
                *_place_cells(row.place, dims),
                row.register,
                row.posted_by_connector,
                row.posted_by_others,
                row.other_entry_count,
                row.unposted,
                row.difference,
                row.status.value,
                " ".join(row.runs),
            )
            for row in reconciliation.rows
        ],
    )
    others = Table(
        "Other entries",
        (
            Column("date", "date"),
            Column("journal"),
            Column("voucher"),
            *_place_columns(dims),
            Column("amount", "money"),
            Column("text"),
        ),
        [
            (
                entry.accounting_date,
                entry.journal_number,
                entry.voucher,
                *_place_cells(entry.place, dims),
                entry.amount,
                entry.text,
            )
            for entry in reconciliation.other_entries
        ],
    )
    unposted = Table(
        "Unposted",
        (Column("journal"), Column("run"), *_place_columns(dims), Column("amount", "money")),
        [
            (line.journal_number, line.run_id, *_place_cells(line.place, dims), line.amount)
            for line in reconciliation.unposted
        ],
    )
    run_table = Table(
        "Runs",
        (
            Column("run"),
            Column("pay period"),
            Column("check date"),
            Column("state"),
            Column("lines", "count"),
        ),
        [(r.run_id, r.pay_period, r.check_date, r.state, r.lines) for r in runs],
    )
    totals = Table(
        "Totals",
        (
            Column("currency"),
            Column("register", "money"),
            Column("posted", "money"),
            Column("unposted", "money"),
            Column("difference", "money"),
        ),
        [
            (t.currency, t.register, t.posted, t.unposted, t.difference)
            for t in reconciliation.totals
        ],
    )
    return [places, others, unposted, run_table, totals]


def reconciliation_export_path(connection_dir: Path, month: Month, company: str) -> Path:
    """The month's workbook under ``connection_dir``; its directories made owner-only (it
    holds pay amounts per cost center, in clear, like the journal previews)."""
    if not _COMPANY.match(company.upper()):
        raise ValueError(f"legal entity {company!r} must be a dataAreaId like USMF")
    root = exports_root(connection_dir)
    path = root / "reconciliation" / str(month) / f"{company.upper()}.xlsx"
    private_dirs(root, path.parent)
    return path


def write_reconciliation(
    result: ReconciledMonth, path: Path, format: ExportFormat = ExportFormat.XLSX
) -> list[Path]:
    """Write the workbook at ``path`` (or one CSV file per sheet beside it); the files."""
    reconciliation = result.reconciliation
    tables = reconciliation_tables(reconciliation, result.runs, result.dimension_order)
    path.parent.mkdir(parents=True, exist_ok=True)
    if format is ExportFormat.XLSX:
        title = f"Labor cost reconciliation {reconciliation.company} {reconciliation.month}"
        return [write_workbook(title, tables, path)]
    return write_tables_csv(tables, path)
