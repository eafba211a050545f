"""The journal preview: its tables, the xlsx and csv files, and their atomic writes.

Expected totals are computed here from the records (Rippling's gross, net and summary), not
with the code under test; the workbook is read back with openpyxl and its XML.
"""

import csv
import os
import re
import stat
import zipfile
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_factories import MAPPING_YAML, mapping, record, rippling_run, run
from openpyxl import load_workbook

from ml_connector_dagster.export.journal import (
    ALL_RUNS,
    TOTAL_CREDIT,
    TOTAL_DEBIT,
    JournalNames,
    journal_export,
)
from ml_connector_dagster.export.partition import (
    partition_export_path,
    remove_partition_export,
    split_partition_key,
    write_partition_export,
)
from ml_connector_dagster.export.writers import (
    ExportError,
    ExportFormat,
    atomic_write,
    csv_paths,
    write_csv,
    write_export,
    write_xlsx,
)
from ml_connector_dagster.ledger.inputs import PayrollRecord, WorkerContext
from ml_connector_dagster.ledger.journal import JournalBuild, JournalType, build_journal
from ml_connector_dagster.payroll.snapshot import PeriodSnapshot

M = mapping()
USMF = M.company("USMF")
ZERO = Decimal("0.00")
PERIOD = "2026-11-15"
WORKERS = {
    "w1": WorkerContext("w1", department_key="D100", job_codes=(("CC-ENG", 1),)),
    "w2": WorkerContext("w2", department_key="D200"),
    "w3": WorkerContext("w3", department_key="D100", job_codes=(("CC-OPS", 1),)),
}
RECORDS = {
    "run_1": [
        record(
            "r1",
            "w1",
            [("SALARY", "4000.00"), ("BONUS", "250.50")],
            ["600.00"],
            ["306.00"],
            [("120.00", "80.00")],
            ["25.00"],
        ),
        record("r2", "w2", [("HOURLY", "1875.25")], ["210.10"], ["143.46"]),
        record("r3", "w3", [("SALARY", "3100.00")], ["400.00"], ["237.15"], [("50.00", "50.00")]),
    ],
    "run_2": [
        record("r4", "w1", [("BONUS", "1000.00")], ["220.00"], ["76.50"]),
        record("r5", "w2", [("BONUS", "500.00")], ["110.00"], ["38.25"]),
    ],
}
NAMES = JournalNames(
    accounts={("USMF", "600100"): "Salaries", ("USMF", "220400"): "Net pay clearing"},
    dimensions={("Department", "D100"): "Engineering", ("CostCenter", "CCENG"): "Eng costs"},
)


def _snapshot(records: dict[str, list[PayrollRecord]] = RECORDS) -> PeriodSnapshot:
    return PeriodSnapshot(
        pay_period=PERIOD,
        company="USMF",
        runs=[rippling_run(run_id) for run_id in records],
        records=dict(records),
        workers=dict(WORKERS),
    )


def _builds(records: dict[str, list[PayrollRecord]] = RECORDS, journal_mapping=M):
    return [
        build_journal(run(run_id), rs, WORKERS, journal_mapping, USMF, JournalType.SETTLEMENT)
        for run_id, rs in records.items()
    ]


def _export(names=NAMES, records=RECORDS, journal_mapping=M, batch_numbers=None):
    builds = _builds(records, journal_mapping)
    return builds, journal_export(
        PERIOD, "usmf", builds, _snapshot(records), journal_mapping, names, batch_numbers
    )


def _rippling(records: list[PayrollRecord]) -> dict[str, Decimal]:
    """Rippling's own totals of records, by category, from gross, net and the summary."""
    t: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for r in records:
        s = r.summary
        t["earnings"] += r.gross_pay
        t["employer_tax"] += s.employer_taxes
        t["employer_benefit"] += s.employer_contributions
        t["taxes_payable"] += s.employee_taxes + s.employer_taxes
        t["deductions_payable"] += s.employee_deductions + s.employer_contributions
        t["garnishments_payable"] += s.total_garnishments
        t["net_pay"] += r.net_pay
    return {k: v for k, v in t.items() if v or k == "earnings"}


def _dicts(header: list, rows) -> list[dict]:
    return [dict(zip(header, row, strict=True)) for row in rows]


def _money(value) -> Decimal:
    """A cell read back (openpyxl: float or None; csv: text) as an exact amount."""
    if value in (None, ""):
        return ZERO
    return Decimal(str(value)).quantize(Decimal("0.01"))


# --- the tables ------------------------------------------------------------------------------
def test_lines_are_the_journals_lines_with_every_dimension_and_the_names() -> None:
    builds, export = _export()
    rows = _dicts(export.lines.header, export.lines.rows)
    journal_lines = [line for b in builds for line in b.journal.lines]
    assert len(rows) == len(journal_lines)
    for row, line in zip(rows, journal_lines, strict=True):
        assert (row["account"], row["voucher"], row["currency"]) == (
            line.account,
            line.voucher,
            line.currency,
        )
        assert _money(row["debit"]) == line.debit and _money(row["credit"]) == line.credit
        for dimension, value in line.dimensions:
            assert row[dimension] == value
    for dimension in ("BusinessUnit", "Department", "CostCenter"):
        assert dimension in export.lines.header
    assert {"Department name", "CostCenter name"} <= set(export.lines.header)
    assert "BusinessUnit name" not in export.lines.header  # nothing names it
    d100 = [r for r in rows if r["Department"] == "D100"]
    assert d100 and all(r["Department name"] == "Engineering" for r in d100)
    salaries = [r for r in rows if r["account"] == "600100"]
    assert salaries and all(r["account name"] == "Salaries" for r in salaries)
    assert all(r["account name"] == "" for r in rows if r["account"] == "600200")
    assert {r["run"] for r in rows} == {"run_1", "run_2"}
    assert all(r["F&O journal"] == "1/1" and r["JournalBatchNumber"] == "" for r in rows)
    assert {r["date"] for r in rows} == {b.journal.trans_date for b in builds}
    assert {r["reverse date"] for r in rows} == {None}  # settlements do not reverse


def test_without_names_the_department_name_column_is_there_and_blank() -> None:
    _, export = _export(names=JournalNames())
    rows = _dicts(export.lines.header, export.lines.rows)
    assert "Department name" in export.lines.header
    assert all(r["Department name"] == "" and r["account name"] == "" for r in rows)


def test_totals_equal_rippling_computed_from_the_records() -> None:
    _, export = _export()
    rows = _dicts(export.totals.header, export.totals.rows)
    for run_id, records in RECORDS.items():
        expected = _rippling(records)
        got = {r["category"]: r for r in rows if r["run"] == run_id}
        assert set(expected) <= set(got)
        for category, amount in expected.items():
            assert got[category]["Rippling"] == amount, (run_id, category)
            assert got[category]["journal"] == amount
            assert got[category]["difference"] == ZERO
            assert got[category]["reconciled"] == "yes"
        journal = next(b.journal for b in _builds() if b.journal.identity.run_id == run_id)
        assert got[TOTAL_DEBIT]["journal"] == journal.total_debit
        assert got[TOTAL_CREDIT]["journal"] == journal.total_credit
        assert got[TOTAL_DEBIT]["balanced"] == got[TOTAL_CREDIT]["balanced"] == "yes"
        assert got[TOTAL_DEBIT]["Rippling"] is None  # not a Rippling figure: see the module
    every = {
        r["category"]: r["Rippling"]
        for r in rows
        if r["run"] == ALL_RUNS and r["Rippling"] is not None
    }
    assert every == _rippling([r for rs in RECORDS.values() for r in rs])
    assert export.reconciled and export.balanced


def test_a_journal_that_differs_from_rippling_says_no_and_by_how_much() -> None:
    builds, _ = _export()
    journal = builds[0].journal
    first = journal.lines[0]
    assert first.debit  # an earnings line: raise it by a cent
    journal.lines[0] = type(first)(**{**first.__dict__, "debit": first.debit + Decimal("0.01")})
    export = journal_export(PERIOD, "USMF", builds, _snapshot(), M, NAMES)
    rows = _dicts(export.totals.header, export.totals.rows)
    earnings = next(r for r in rows if r["run"] == "run_1" and r["category"] == "earnings")
    assert earnings["difference"] == Decimal("0.01") and earnings["reconciled"] == "no"
    debit = next(r for r in rows if r["run"] == "run_1" and r["category"] == TOTAL_DEBIT)
    assert debit["journal"] == builds[0].journal.total_debit
    assert debit["balanced"] == "no"
    assert not export.reconciled and not export.balanced


def test_a_split_journal_shows_its_parts_and_the_batch_numbers_f_and_o_holds() -> None:
    small = mapping(
        MAPPING_YAML.replace("  name: PAYROLL\n", "  name: PAYROLL\n  max_lines_per_journal: 8\n")
    )
    builds = _builds(journal_mapping=small)
    key = builds[0].journal.identity.key

    def run_1_rows(numbers: list[str]) -> list[dict]:
        export = journal_export(PERIOD, "USMF", builds, _snapshot(), small, NAMES, {key: numbers})
        rows = _dicts(export.lines.header, export.lines.rows)
        return [r for r in rows if r["run"] == "run_1"]

    rows = run_1_rows([])
    parts = sorted({r["F&O journal"] for r in rows})
    assert len(parts) > 1 and all(p.endswith(f"/{len(parts)}") for p in parts)
    assert all(r["JournalBatchNumber"] == "" for r in rows)  # not created yet
    assert [r["line number"] for r in rows] == list(range(1, len(rows) + 1))
    by_part: dict[str, set] = defaultdict(set)
    for row in rows:
        by_part[row["F&O journal"]].add(row["voucher"])
    vouchers = [v for vs in by_part.values() for v in vs]
    assert len(vouchers) == len(set(vouchers))  # a voucher never spans two F&O journals
    assert all(len([r for r in rows if r["F&O journal"] == p]) <= 8 for p in parts)
    numbers = [f"USMF-{n:06d}" for n in range(1, len(parts) + 1)]
    for row in run_1_rows(numbers):
        assert row["JournalBatchNumber"] == numbers[int(row["F&O journal"].split("/")[0]) - 1]
    # F&O holds another split of it (fewer numbers than parts): every number, none guessed.
    assert {r["JournalBatchNumber"] for r in run_1_rows(numbers[:1])} == {numbers[0]}
    joined = ", ".join([*numbers, "USMF-000099"])
    assert {r["JournalBatchNumber"] for r in run_1_rows([*numbers, "USMF-000099"])} == {joined}


# --- xlsx ------------------------------------------------------------------------------------
def test_xlsx_lines_sum_to_the_journals_and_amounts_are_exact_numbers(tmp_path: Path) -> None:
    builds, export = _export()
    path = write_xlsx(export, tmp_path / "out.xlsx")
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["Lines", "Totals"]
    sheet = workbook["Lines"]
    header = [c.value for c in sheet[1]]
    rows = _dicts(header, sheet.iter_rows(min_row=2, values_only=True))
    for run_id in RECORDS:
        journal = next(b.journal for b in builds if b.journal.identity.run_id == run_id)
        mine = [r for r in rows if r["run"] == run_id]
        assert sum((_money(r["debit"]) for r in mine), ZERO) == journal.total_debit
        assert sum((_money(r["credit"]) for r in mine), ZERO) == journal.total_credit
    debit_column = header.index("debit") + 1
    amount_cells = [
        row[debit_column - 1] for row in sheet.iter_rows(min_row=2) if row[debit_column - 1].value
    ]
    assert amount_cells and all(c.data_type == "n" for c in amount_cells)
    assert all(c.number_format == "#,##0.00" for c in amount_cells)
    dates = {r["date"].date() for r in rows}  # a date cell: openpyxl reads a datetime
    assert dates == {b.journal.trans_date for b in builds}
    # In the file's XML every amount is the journal's decimal text, not a rounded float.
    with zipfile.ZipFile(path) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
    written = {Decimal(v) for v in re.findall(r"<v>(-?\d+\.\d+)</v>", xml)}
    amounts = {line.debit or line.credit for b in builds for line in b.journal.lines}
    assert {a for a in amounts if a != a.to_integral()} <= written
    totals = load_workbook(path)["Totals"]
    t_header = [c.value for c in totals[1]]
    t_rows = _dicts(t_header, totals.iter_rows(min_row=2, values_only=True))
    expected = _rippling(RECORDS["run_1"])
    got = {r["category"]: _money(r["Rippling"]) for r in t_rows if r["run"] == "run_1"}
    assert {k: got[k] for k in expected} == expected


def test_xlsx_keeps_a_name_that_looks_like_a_formula_as_text(tmp_path: Path) -> None:
    names = JournalNames(accounts={("USMF", "600100"): '=HYPERLINK("http://x","y")'})
    _, export = _export(names=names)
    sheet = load_workbook(write_xlsx(export, tmp_path / "f.xlsx"))["Lines"]
    header = [c.value for c in sheet[1]]
    column = header.index("account name")
    cells = [r[column] for r in sheet.iter_rows(min_row=2) if r[column].value]
    assert cells and all(c.data_type == "s" for c in cells)
    assert cells[0].value.startswith("=HYPERLINK")


def test_xlsx_refuses_an_amount_excel_would_round(tmp_path: Path) -> None:
    huge = {"run_1": [record("r1", "w1", [("SALARY", "12345678901234.56")])]}
    _, export = _export(records=huge)
    with pytest.raises(ExportError, match="significant digits"):
        write_xlsx(export, tmp_path / "huge.xlsx")
    assert not (tmp_path / "huge.xlsx").exists()
    paths = write_csv(export, tmp_path / "huge.csv")  # csv holds it exactly
    assert "12345678901234.56" in paths[0].read_text(encoding="utf-8-sig")


# --- csv -------------------------------------------------------------------------------------
def _read_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def test_csv_round_trips_every_amount_as_decimal(tmp_path: Path) -> None:
    builds, export = _export()
    paths = write_export(export, tmp_path / "journals.csv", ExportFormat.CSV)
    assert paths == list(csv_paths(tmp_path / "journals.csv"))
    assert [p.name for p in paths] == ["journals-lines.csv", "journals-totals.csv"]
    lines = _read_csv(paths[0])
    journal_lines = [line for b in builds for line in b.journal.lines]
    assert [(Decimal(r["debit"] or "0"), Decimal(r["credit"] or "0")) for r in lines] == [
        (line.debit, line.credit) for line in journal_lines
    ]
    assert all(re.fullmatch(r"-?\d+\.\d\d", r["debit"] or r["credit"]) for r in lines)
    assert {r["date"] for r in lines} == {b.journal.trans_date.isoformat() for b in builds}
    totals = _read_csv(paths[1])
    assert {
        r["category"]: Decimal(r["Rippling"])
        for r in totals
        if r["run"] == "run_2" and r["Rippling"] and Decimal(r["Rippling"])
    } == {k: v for k, v in _rippling(RECORDS["run_2"]).items() if v}
    assert [r["category"] for r in totals if r["run"] == ALL_RUNS]  # two runs: partition rows


def test_csv_escapes_a_text_excel_would_run_as_a_formula_never_an_amount(tmp_path: Path) -> None:
    names = JournalNames(dimensions={("Department", "D100"): "=cmd|' /C calc'!A0"})
    _, export = _export(names=names)
    lines = _read_csv(write_csv(export, tmp_path / "x.csv")[0])
    d100 = [r for r in lines if r["Department"] == "D100"]
    assert d100 and all(r["Department name"] == "'=cmd|' /C calc'!A0" for r in d100)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2),
            st.decimals(min_value=Decimal("0.00"), max_value=Decimal("999.99"), places=2),
            st.decimals(min_value=Decimal("0.00"), max_value=Decimal("999.99"), places=2),
            st.sampled_from(["w1", "w2", "w3"]),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_totals_reconcile_for_any_records(rows) -> None:
    records = {
        "run_1": [
            record(f"r{i}", worker, [("SALARY", str(gross))], [str(ee)], [str(er)])
            for i, (gross, ee, er, worker) in enumerate(rows)
        ]
    }
    builds, export = _export(records=records)
    table = _dicts(export.totals.header, export.totals.rows)
    expected = _rippling(records["run_1"])
    got = {r["category"]: r["Rippling"] for r in table}
    assert {k: got[k] for k in expected} == expected
    assert export.reconciled and export.balanced
    lines = _dicts(export.lines.header, export.lines.rows)
    assert sum((r["debit"] or ZERO for r in lines), ZERO) == builds[0].journal.total_debit
    assert sum((r["credit"] or ZERO for r in lines), ZERO) == builds[0].journal.total_credit
    debit_row = next(r for r in table if r["category"] == TOTAL_DEBIT)
    assert debit_row["journal"] == builds[0].journal.total_debit


# --- atomic, owner-only files ------------------------------------------------------------------
def test_a_failing_writer_leaves_no_file_and_keeps_the_previous_one(tmp_path: Path) -> None:
    def broken(handle) -> None:
        handle.write(b"half a workbook")
        raise RuntimeError("disk full")

    target = tmp_path / "out.xlsx"
    with pytest.raises(RuntimeError):
        atomic_write(target, broken)
    assert list(tmp_path.iterdir()) == []
    target.write_bytes(b"previous")
    with pytest.raises(RuntimeError):
        atomic_write(target, broken)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out.xlsx"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
def test_the_partition_file_is_written_owner_only_under_the_connection(tmp_path: Path) -> None:
    builds = _builds()
    path = write_partition_export(tmp_path, "USMF|2026-11-15", builds, _snapshot(), M, NAMES)
    assert path == tmp_path / "exports" / PERIOD / "USMF.xlsx"
    assert path == partition_export_path(tmp_path, PERIOD, "usmf")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
    assert load_workbook(path)["Lines"].max_row == 1 + sum(len(b.journal.lines) for b in builds)
    assert remove_partition_export(tmp_path, "USMF|2026-11-15") and not path.exists()
    assert not remove_partition_export(tmp_path, "USMF|2026-11-15")


@pytest.mark.parametrize(
    "key", ["USMF|2026-11-31", "../x|2026-11-15", "2026-11-15", "US MF|2026-11-15"]
)
def test_a_key_that_is_no_payroll_partition_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match="not a payroll partition"):
        split_partition_key(key)


def test_no_journal_builds_give_empty_tables() -> None:
    export = journal_export(PERIOD, "USMF", [], _snapshot({}), M)
    assert export.lines.rows == [] and export.totals.rows == []
    assert isinstance(export.lines.header, list) and "debit" in export.lines.header


def test_exporting_leaves_the_journals_as_they_were() -> None:
    builds: list[JournalBuild] = _builds()
    before = [b.journal.payload_hash() for b in builds]
    journal_export(PERIOD, "USMF", builds, _snapshot(), M, NAMES)
    assert [b.journal.payload_hash() for b in builds] == before
