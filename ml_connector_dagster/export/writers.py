"""Write a ``JournalExport`` as an Excel workbook or as two CSV files, atomically, owner-only.

**xlsx** (openpyxl): a "Lines" and a "Totals" sheet, a bold frozen header with filters; dates
are date cells (``yyyy-mm-dd``). Amounts
are numeric cells with the ``#,##0.00`` format, so Excel sums, sorts and filters them; Excel
holds numbers as binary doubles, exact to 15 significant digits, so an amount with more digits
is refused (naming the sheet, row and column) rather than written rounded: use csv for it.
Texts are always text cells, never formulas: an account name or department beginning with
``=`` stays the words it is.

**csv**: two files, ``<stem>-lines.csv`` and ``<stem>-totals.csv`` (one table each, what
spreadsheet tools and scripts read without knowing about sections), UTF-8 with a byte order
mark (Excel then reads names with accents right), comma-separated, the header first. Amounts
are plain decimal strings (``1234.50``, ``-12.00``), exactly the journal's ``Decimal``; an empty
cell is no amount; dates are ISO (``2026-11-20``). A text cell that Excel would run as a
formula (beginning with ``=``, ``+``, ``-``, ``@``, tab or carriage return) is written with a
leading ``'``; amounts never are.

Every file is written to a temporary file in its directory (created 0600 by ``mkstemp``),
flushed to disk and renamed over the target: a crash or a failing writer leaves the previous
file or none, never half of one, and no temporary file behind.
"""

import contextlib
import csv
import datetime as dt
import io
import os
import tempfile
from collections.abc import Callable, Sequence
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from ml_connector_dagster.export.journal import Cell, JournalExport, Table

MONEY_FORMAT = "#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"
EXCEL_DIGITS = 15  # significant digits a double holds exactly
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_MAX_WIDTH = 60


class ExportFormat(StrEnum):
    XLSX = "xlsx"
    CSV = "csv"


class ExportError(ValueError):
    """An export that cannot be written faithfully; the message names the cell."""


def atomic_write(path: Path, render: Callable[[BinaryIO], None]) -> Path:
    """``render`` into a temporary file beside ``path``, then rename it to ``path``."""
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            render(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    return path


# --- xlsx --------------------------------------------------------------------------------------
def _excel_amount(value: Decimal, where: str) -> Decimal:
    if not value.is_finite() or len(value.as_tuple().digits) > EXCEL_DIGITS:
        raise ExportError(
            f"{where}: {value} has more than {EXCEL_DIGITS} significant digits, which Excel"
            " would round; export it with --format csv"
        )
    return value


def _sheet(workbook: Workbook, table: Table, first: bool) -> None:
    sheet = workbook.active if first else workbook.create_sheet()
    assert sheet is not None
    sheet.title = table.title
    sheet.append(table.header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    widths = [len(name) for name in table.header]
    for number, row in enumerate(table.rows, start=2):
        for index, (column, value) in enumerate(zip(table.columns, row, strict=True), start=1):
            cell = sheet.cell(row=number, column=index)
            if value is None:
                continue
            if column.kind == "money":
                assert isinstance(value, Decimal), (column.name, value)
                cell.value = _excel_amount(value, f"{table.title} row {number} {column.name}")
                cell.number_format = MONEY_FORMAT
            elif column.kind == "date":
                cell.value = value
                cell.number_format = DATE_FORMAT
            elif column.kind == "count":
                cell.value = value
            else:
                cell.value = ILLEGAL_CHARACTERS_RE.sub("", str(value))
                cell.data_type = "s"  # never a formula or an error code, whatever it begins with
            widths[index - 1] = max(widths[index - 1], len(str(value)))
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = min(width + 2, _MAX_WIDTH)
    sheet.freeze_panes = "A2"
    if table.rows:
        sheet.auto_filter.ref = sheet.dimensions


def render_workbook(title: str, tables: Sequence[Table]) -> bytes:
    """One sheet per table, in order, each with a bold frozen header and filters."""
    workbook = Workbook()
    workbook.properties.title = title
    for index, table in enumerate(tables):
        _sheet(workbook, table, first=index == 0)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def render_xlsx(export: JournalExport) -> bytes:
    title = f"Payroll journals {export.company} {export.pay_period}"
    return render_workbook(title, [export.lines, export.totals])


def write_workbook(title: str, tables: Sequence[Table], path: Path) -> Path:
    data = render_workbook(title, tables)  # built in memory first: a failure touches no file
    return atomic_write(path, lambda handle: handle.write(data))


def write_xlsx(export: JournalExport, path: Path) -> Path:
    data = render_xlsx(export)  # built in memory first: a failure touches no file
    return atomic_write(path, lambda handle: handle.write(data))


# --- csv ---------------------------------------------------------------------------------------
def _csv_cell(kind: str, value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    if kind != "text":
        return str(value)
    text = str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def render_csv(table: Table) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(table.header)
    kinds = [column.kind for column in table.columns]
    for row in table.rows:
        writer.writerow([_csv_cell(kind, value) for kind, value in zip(kinds, row, strict=True)])
    return buffer.getvalue().encode("utf-8-sig")


def csv_paths(path: Path) -> tuple[Path, Path]:
    """``<stem>-lines.csv`` and ``<stem>-totals.csv`` beside ``path`` (its suffix dropped)."""
    stem = path.name.removesuffix(".csv")
    return path.with_name(f"{stem}-lines.csv"), path.with_name(f"{stem}-totals.csv")


def write_csv(export: JournalExport, path: Path) -> list[Path]:
    lines_path, totals_path = csv_paths(path)
    lines, totals = render_csv(export.lines), render_csv(export.totals)
    return [
        atomic_write(lines_path, lambda handle: handle.write(lines)),
        atomic_write(totals_path, lambda handle: handle.write(totals)),
    ]


def table_csv_path(path: Path, table: Table) -> Path:
    """``<stem>-<table title, lower case, spaces as dashes>.csv`` beside ``path``."""
    stem = path.name.removesuffix(".csv")
    return path.with_name(f"{stem}-{table.title.lower().replace(' ', '-')}.csv")


def write_tables_csv(tables: Sequence[Table], path: Path) -> list[Path]:
    """One CSV file per table (``table_csv_path``); every file is rendered before any is
    written, so a failing table leaves none of them half-new."""
    rendered = [(table_csv_path(path, table), render_csv(table)) for table in tables]
    return [
        atomic_write(target, lambda handle, d=data: handle.write(d)) for target, data in rendered
    ]


def write_export(export: JournalExport, path: Path, format: ExportFormat) -> list[Path]:
    """The files written: the workbook, or the two CSV files of ``path``'s stem."""
    if format is ExportFormat.XLSX:
        return [write_xlsx(export, path)]
    return write_csv(export, path)
