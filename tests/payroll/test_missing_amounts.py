"""Missing is not zero: an amount Rippling did not give is named by record and field.

The spec types every amount of ``WorkerPayrollRecord`` as a plain string, with no ``required``,
no ``nullable`` and no default meaning zero, so null, absent and redacted amounts are missing.
"""

import copy
from typing import Any

import pytest
from ledger_factories import rippling_record

from ml_connector_dagster.ledger.checks import check_source_record
from ml_connector_dagster.ledger.inputs import MissingAmount
from ml_connector_dagster.payroll.to_ledger import ledger_record
from ml_connector_dagster.rippling.models import WorkerPayrollRecord


def _raw() -> dict[str, Any]:
    """A good record as Rippling sends it: an employer tax, a deduction, a garnishment."""
    return rippling_record(
        "pre_9",
        "wkr_9",
        [("SALARY", "1000.00")],
        ["100.00"],
        ["76.50"],
        [("50.00", "25.00")],
        ["10.00"],
    ).model_dump(mode="json", exclude={"redacted"}, exclude_none=True)


def _convert(raw: dict[str, Any], redacted: tuple[str, ...] = ()) -> list[MissingAmount]:
    record = WorkerPayrollRecord.model_validate({**raw, "redacted": redacted})
    return list(ledger_record(record).missing)


def _items(raw: dict[str, Any]) -> list[tuple[str, str]]:
    record = ledger_record(WorkerPayrollRecord.model_validate(raw))
    return [(f.item, f.actual) for f in check_source_record(record)]


def test_a_complete_record_misses_nothing_and_passes() -> None:
    assert _convert(_raw()) == []
    assert _items(_raw()) == []


@pytest.mark.parametrize(
    ("path", "remove"),
    [
        ("summary.employer_taxes", lambda r: r["summary"].pop("employer_taxes")),
        ("summary.employer_contributions", lambda r: r["summary"].pop("employer_contributions")),
        ("deductions[0].employer_amount", lambda r: r["deductions"][0].pop("employer_amount")),
        ("deductions[0].employee_amount", lambda r: r["deductions"][0].pop("employee_amount")),
    ],
)
def test_an_absent_amount_is_named_by_record_and_field(path, remove) -> None:
    raw = copy.deepcopy(_raw())
    remove(raw)
    assert _convert(raw) == [MissingAmount(path, "absent")]
    findings = check_source_record(ledger_record(WorkerPayrollRecord.model_validate(raw)))
    named = [f for f in findings if f.item == path]
    assert named and "pre_9" in named[0].subject and "pre_9" in named[0].message
    assert named[0].actual == "absent"


def test_a_record_without_a_summary_misses_all_five_totals() -> None:
    raw = _raw()
    del raw["summary"]
    missing = _convert(raw)
    assert [m.field for m in missing] == [
        "summary.employer_taxes",
        "summary.employee_taxes",
        "summary.employee_deductions",
        "summary.employer_contributions",
        "summary.total_garnishments",
    ]


def test_a_redacted_amount_says_so() -> None:
    raw = _raw()
    del raw["summary"]
    reason = "redacted by Rippling (the token may not read it)"
    assert {m.reason for m in _convert(raw, redacted=("summary",))} == {reason}


def test_an_item_amount_left_out_is_refused_by_the_model_itself() -> None:
    """``amount`` of an item and gross/net are required by the model: never defaulted."""
    raw = _raw()
    del raw["taxes"][1]["amount"]
    with pytest.raises(ValueError, match=r"taxes\.1\.amount"):
        WorkerPayrollRecord.model_validate(raw)


@pytest.mark.parametrize(
    ("path", "blank"),
    [
        ("summary.employer_taxes", lambda r: r["summary"].update(employer_taxes=None)),
        ("taxes[1].amount", lambda r: r["taxes"][1].update(amount=None)),
        (
            "deductions[0].employer_amount",
            lambda r: r["deductions"][0].update(employer_amount=None),
        ),
    ],
)
def test_a_null_amount_is_named_by_record_and_field(path, blank) -> None:
    raw = copy.deepcopy(_raw())
    blank(raw)
    assert _convert(raw) == [MissingAmount(path, "null")]


def test_items_present_with_their_summary_missing_are_named() -> None:
    raw = _raw()
    del raw["summary"]["employer_taxes"]
    assert ("summary.employer_taxes", "missing") in _items(raw)


def test_a_summary_present_with_its_items_missing_is_named() -> None:
    raw = _raw()
    raw["taxes"] = [t for t in raw["taxes"] if t["paid_by"] != "EMPLOYER"]
    raw["deductions"] = []
    raw["summary"]["employee_deductions"] = "0.00"
    raw["net_pay"] = "890.00"  # still balanced: only the employer side lost its items
    assert _items(raw) == [
        ("summary.employer_taxes", "no employer tax items"),
        ("summary.employer_contributions", "no employer contribution items"),
    ]


def test_a_missing_item_is_not_also_reported_as_a_differing_summary() -> None:
    raw = _raw()
    del raw["deductions"][0]["employer_amount"]
    assert _items(raw) == [("deductions[0].employer_amount", "absent")]
