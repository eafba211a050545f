"""`ml-connector journal export` against partitions `ml-connector run` materialized on the
sandbox: the file's lines add up to what F&O holds, its totals to Rippling's seed, and a
partition without current journals is refused by name."""

import os
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import yaml
from click.testing import CliRunner
from openpyxl import load_workbook
from pipeline_support import rippling_period_totals

from ml_connector_dagster.cli import main
from ml_connector_dagster.connections import Connection


def _invoke(*args: str):
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "250"}, catch_exceptions=False)


def _rows(sheet) -> list[dict]:
    header = [cell.value for cell in sheet[1]]
    return [
        dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2, values_only=True)
    ]


def _money(value) -> Decimal:
    return Decimal("0.00") if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


def test_export_of_a_materialized_partition_matches_f_and_o_and_rippling(
    home_env, tmp_path: Path
) -> None:
    period = home_env["period"]
    ran = _invoke("run", "--pay-period", period, "--legal-entity", "USMF")
    assert ran.exit_code == 0, ran.output
    target = tmp_path / "out" / "usmf.xlsx"
    result = _invoke(
        "journal",
        "export",
        "--pay-period",
        period,
        "--legal-entity",
        "usmf",
        "--output",
        str(target),
    )
    assert result.exit_code == 0, result.output
    assert str(target.resolve()) in result.output.replace("\n", "")
    assert "against Rippling" in result.output and "earnings" in result.output

    workbook = load_workbook(target)
    lines, totals = _rows(workbook["Lines"]), _rows(workbook["Totals"])
    with Connection.from_environment().dynamics() as client:
        headers = client.list_entities("LedgerJournalHeaders")
    assert headers
    by_number = {h["JournalBatchNumber"]: h for h in headers}
    debit: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    credit: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for line in lines:
        assert line["JournalBatchNumber"] in by_number  # created: F&O's own numbers
        debit[line["JournalBatchNumber"]] += _money(line["debit"])
        credit[line["JournalBatchNumber"]] += _money(line["credit"])
        assert line["currency"] == "USD" and line["account"]
        assert line["Department"] is not None or line["category"] != "earnings"
    for number, header in by_number.items():
        assert debit[number] == Decimal(str(header["JournalTotalDebit"]))
        assert credit[number] == Decimal(str(header["JournalTotalCredit"]))

    run_ids = {r["id"] for r in home_env["runs"]}
    rippling = rippling_period_totals(home_env["sandbox"], run_ids)
    every = {
        r["category"]: r
        for r in totals
        if r["run"] in (run_ids if len(run_ids) == 1 else {"all runs"})
    }
    assert _money(every["earnings"]["Rippling"]) == rippling["gross"]
    assert _money(every["net_pay"]["Rippling"]) == rippling["net"]
    assert all(r["reconciled"] in ("yes", None) for r in totals)
    assert all(r["balanced"] in ("yes", None) for r in totals)

    stem = tmp_path / "csv" / "journals"
    as_csv = _invoke(
        "journal",
        "export",
        "--pay-period",
        period,
        "--legal-entity",
        "USMF",
        "--format",
        "csv",
        "--output",
        str(stem),
    )
    assert as_csv.exit_code == 0, as_csv.output
    written = sorted(p.name for p in stem.parent.iterdir())
    assert written == ["journals-lines.csv", "journals-totals.csv"]


def test_export_of_a_partition_never_materialized_says_what_to_do(home_env) -> None:
    period = home_env["period"]
    result = _invoke("journal", "export", "--pay-period", period, "--legal-entity", "USMF")
    assert result.exit_code == 1, result.output
    assert f"USMF|{period}" in result.output
    assert "never materialized" in result.output and "ml-connector run" in result.output
    assert not list(Path.cwd().glob(f"journals-USMF-{period}*"))


def test_a_partition_blocked_after_an_earlier_success_is_not_exported_stale(
    home_env, tmp_path: Path
) -> None:
    period = home_env["period"]
    assert _invoke("run", "--pay-period", period, "--legal-entity", "USMF").exit_code == 0
    mapping = Path(os.environ["ML_CONNECTOR_MAPPING"])
    data = yaml.safe_load(mapping.read_text())
    data["dimension_format"]["dimensions"] = [
        "MainAccount",
        "CostCenter",
        "Department",
        "BusinessUnit",
    ]
    mapping.write_text(yaml.safe_dump(data))
    blocked = _invoke("run", "--pay-period", period, "--legal-entity", "USMF")
    assert blocked.exit_code == 1, blocked.output
    target = tmp_path / "stale.xlsx"
    result = _invoke(
        "journal",
        "export",
        "--pay-period",
        period,
        "--legal-entity",
        "USMF",
        "--output",
        str(target),
    )
    assert result.exit_code == 1, result.output
    assert f"USMF|{period}" in result.output and "did not store journals" in result.output
    assert not target.exists()


def test_a_bad_pay_period_is_a_usage_error(home_env) -> None:
    result = CliRunner().invoke(
        main, ["journal", "export", "--pay-period", "2026-11-31", "--legal-entity", "USMF"]
    )
    assert result.exit_code == 2 and "not a calendar date" in result.output


def test_a_partition_with_nothing_to_post_says_why_and_writes_nothing(
    home_env, tmp_path: Path
) -> None:
    sandbox = home_env["sandbox"]
    rippling = sandbox.company["rippling"]
    usmf = next(
        e["id"]
        for e in rippling["company_legal_entities"]
        if e["legal_name"] == "Northwind Advisory Inc."
    )
    runs = [r for r in rippling["payroll_runs"] if r["company_entity_id"] == usmf]
    period = next(r for r in runs if r["run_state"] == "APPROVED")["pay_period"]["end_date"]
    assert _invoke("run", "--pay-period", period, "--legal-entity", "USMF").exit_code == 3
    target = tmp_path / "none.xlsx"
    result = _invoke(
        "journal",
        "export",
        "--pay-period",
        period,
        "--legal-entity",
        "USMF",
        "--output",
        str(target),
    )
    assert result.exit_code == 3, result.output
    assert "no journal to export" in result.output and "APPROVED" in result.output
    assert not target.exists()
