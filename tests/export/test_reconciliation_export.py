"""The month's reconciliation workbook: sheets, columns, exact amounts, one CSV per sheet."""

import csv
import datetime as dt
from decimal import Decimal as D
from pathlib import Path

from openpyxl import load_workbook

from ml_connector_dagster.export.reconciliation import write_reconciliation
from ml_connector_dagster.export.writers import ExportFormat
from ml_connector_dagster.ledger.reconciliation import (
    EntrySource,
    Place,
    PostedEntry,
    RegisterLine,
    UnpostedLine,
    reconcile,
)
from ml_connector_dagster.month_end.reconciled import ReconciledMonth, RegisterRun

SALARY = Place("600100", (("BusinessUnit", "001"), ("Department", "D100")), "USD")
BONUS = Place("600130", (("BusinessUnit", "001"), ("Department", "D100")), "USD")
OTHER_DIM = Place("600100", (("Project", "P-7"),), "USD")  # a dimension the mapping lacks


def _month() -> ReconciledMonth:
    reconciliation = reconcile(
        "USMF",
        "2026-11",
        ["600100", "600130"],
        [RegisterLine(SALARY, D("1000.10"), "R1"), RegisterLine(BONUS, D("200.00"), "R2")],
        [
            PostedEntry(
                SALARY,
                D("1000.10"),
                "USMF-1",
                "V1",
                dt.date(2026, 11, 6),
                "",
                EntrySource.CONNECTOR,
            ),
            PostedEntry(
                OTHER_DIM,
                D("-5.25"),
                "MAN-1",
                "MV1",
                dt.date(2026, 11, 27),
                "=SUM(A1)",
                EntrySource.OTHER,
            ),
        ],
        [UnpostedLine(BONUS, D("200.00"), "USMF-2", "R2")],
    )
    runs = (RegisterRun("R1", "2026-10-31", "2026-11-06", "PAID", 2),)
    return ReconciledMonth(reconciliation, runs, (), ("BusinessUnit", "Department", "CostCenter"))


def test_workbook_has_every_sheet_with_places_in_the_formats_order(tmp_path: Path) -> None:
    [path] = write_reconciliation(_month(), tmp_path / "close" / "usmf.xlsx")
    book = load_workbook(path)
    assert book.sheetnames == ["Places", "Other entries", "Unposted", "Runs", "Totals"]
    places = list(book["Places"].iter_rows(values_only=True))
    assert places[0][:6] == (
        "account",
        "BusinessUnit",
        "Department",
        "CostCenter",
        "Project",
        "currency",
    )
    by_account = {(row[0], row[4]): row for row in places[1:]}
    salary = by_account[("600100", None)]
    assert salary[1:3] == ("001", "D100") and salary[6] == 1000.10
    assert by_account[("600100", "P-7")][places[0].index("posted by others")] == -5.25
    assert by_account[("600130", None)][places[0].index("status")] == "awaiting posting"
    [other] = list(book["Other entries"].iter_rows(values_only=True))[1:]
    assert other[-1] == "=SUM(A1)"  # text, never a formula
    assert book["Other entries"].cell(row=2, column=len(other)).data_type == "s"


def test_csv_writes_one_exact_file_per_sheet(tmp_path: Path) -> None:
    files = write_reconciliation(_month(), tmp_path / "usmf.csv", ExportFormat.CSV)
    assert [f.name for f in files] == [
        "usmf-places.csv",
        "usmf-other-entries.csv",
        "usmf-unposted.csv",
        "usmf-runs.csv",
        "usmf-totals.csv",
    ]
    with files[-1].open(encoding="utf-8-sig", newline="") as handle:
        [total] = list(csv.DictReader(handle))
    assert total == {
        "currency": "USD",
        "register": "1200.10",
        "posted": "994.85",
        "unposted": "200.00",
        "difference": "205.25",
    }
    with files[1].open(encoding="utf-8-sig", newline="") as handle:
        [other] = list(csv.DictReader(handle))
    assert other["text"] == "'=SUM(A1)" and other["amount"] == "-5.25"
