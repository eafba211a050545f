"""Review tables as Dagster table metadata: typed columns, plain scalars, amounts as numbers."""

import datetime as dt
from decimal import Decimal

import dagster as dg
import pytest
from dagster_shared.serdes import serialize_value

from ml_connector_dagster.audit.store import Outcome
from ml_connector_dagster.defs import tables
from ml_connector_dagster.defs.payroll.checks import findings_table
from ml_connector_dagster.ledger.checks import WITHHELD, Finding


def test_cells_become_plain_scalars_dagster_can_store() -> None:
    columns = (
        tables.text("run"),
        tables.currency(),
        tables.money("debit"),
        tables.count("lines"),
        tables.text("outcome"),
        tables.text("date"),
    )
    value = tables.table(
        columns, [("run_1", "USD", Decimal("1234.56"), 3, Outcome.CREATED, dt.date(2026, 11, 15))]
    )
    assert [c.type for c in value.schema.columns] == [
        "string",
        "string",
        "float",
        "int",
        "string",
        "string",
    ]
    [row] = tables.cells(value)
    assert row == {
        "run": "run_1",
        "currency": "USD",
        "debit": 1234.56,
        "lines": 3,
        "outcome": Outcome.CREATED.value,
        "date": "2026-11-15",
    }
    assert type(row["outcome"]) is str
    serialize_value(dg.TableMetadataValue(records=value.records, schema=value.schema))


def test_a_row_of_the_wrong_width_is_refused_and_long_tables_are_cut() -> None:
    with pytest.raises(ValueError, match="2 columns"):
        tables.table((tables.text("a"), tables.text("b")), [("only one",)])
    value = tables.table((tables.count("n"),), [(i,) for i in range(250)], limit=200)
    assert len(value.records) == 200


def _findings() -> list[Finding]:
    return [
        Finding(
            "record wpr_1 (worker w_1)",
            "summary.employer_taxes",
            "80.00",
            "76.50",
            "summary differs from employer tax items",
            personal=True,
        ),
        Finding("journal run_1 USMF", "total", "debit 5123.45", "credit 5123.46", "differ"),
    ]


def test_findings_of_one_record_show_no_amount_below_the_worker_detail_level() -> None:
    summary = tables.cells(findings_table(_findings(), "summary"))
    # Each row names the cause it is grouped under; a finding without a named cause is its own,
    # told without its amounts.
    assert summary[0].pop("cause") == (
        "record wpr_1 (worker w_1): summary.employer_taxes: summary differs from employer tax items"
    )
    assert summary[1].pop("cause") == "journal run_1 USMF: total: differ"
    assert summary[0] == {
        "subject": "record wpr_1 (worker w_1)",
        "item": "summary.employer_taxes",
        "expected": WITHHELD,
        "actual": WITHHELD,
        "why": "summary differs from employer tax items",
    }
    # a journal's totals are not one person's: they stay
    assert (summary[1]["expected"], summary[1]["actual"]) == ("debit 5123.45", "credit 5123.46")
    worker = tables.cells(findings_table(_findings(), "worker"))
    worker[1].pop("cause")
    assert (worker[0]["expected"], worker[0]["actual"]) == ("80.00", "76.50")
    assert worker[1] == summary[1]
