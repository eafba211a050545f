"""The blocking checks find what they exist to find."""

from dataclasses import replace
from decimal import Decimal

from ledger_factories import mapping, record, run

from ml_connector_dagster.ledger.checks import (
    DynamicsReference,
    check_balanced,
    check_dynamics_values,
    check_format,
    check_reconciled,
    check_source,
)
from ml_connector_dagster.ledger.dimensions import WorkerContext
from ml_connector_dagster.ledger.journal import build_journal

M = mapping()
WORKERS = {"w": WorkerContext("w", department_key="D200")}


def _journal(records):
    return build_journal(run(), records, WORKERS, M, M.company("USMF")).journal


def _good():
    return record(
        "p", "w", [("SALARY", "1000.00")], ["100.00"], ["76.50"], [("50.00", "25.00")], ["10.00"]
    )


def test_a_record_whose_net_pay_was_plugged_wrong_fails_source_balance_and_reconciliation() -> None:
    bad = replace(_good(), net_pay=Decimal("840.01"))
    findings = check_source([bad])
    assert [(f.item, f.expected, f.actual) for f in findings] == [
        ("gross_pay", "1000.01", "1000.00")
    ]
    journal = _journal([bad])
    assert check_balanced(journal)  # credits exceed debits by a cent
    net = [f for f in check_reconciled(journal, [bad]) if f.item.startswith("net_pay")]
    assert net == []  # the journal carries Rippling's net pay as reported ...
    assert (
        "debits and credits differ" in check_balanced(journal)[0].message
    )  # ... so it cannot balance


def test_summary_that_disagrees_with_its_items_is_caught_by_source_and_reconciliation() -> None:
    good = _good()
    tampered = replace(good, summary=replace(good.summary, employer_taxes=Decimal("80.00")))
    source = check_source([tampered])
    assert [(f.item, f.expected, f.actual) for f in source] == [
        ("summary.employer_taxes", "80.00", "76.50")
    ]
    reconciled = check_reconciled(_journal([tampered]), [tampered])
    assert {f.item for f in reconciled} == {"employer_tax USD", "taxes_payable USD"}
    assert all(f.message == "differs by -3.50" for f in reconciled)


def test_earnings_not_adding_up_to_gross_are_reported() -> None:
    good = _good()
    off = replace(good, gross_pay=Decimal("999.00"), net_pay=Decimal("839.00"))
    assert ("earnings", "999.00", "1000.00") in [
        (f.item, f.expected, f.actual) for f in check_source([off])
    ]


def test_clean_record_passes_every_check() -> None:
    journal = _journal([_good()])
    assert (
        check_source([_good()])
        == check_balanced(journal)
        == check_reconciled(journal, [_good()])
        == []
    )


def _reference(**overrides):
    base = dict(
        ledger_format=("MainAccount", "BusinessUnit", "Department", "CostCenter"),
        delimiter="-",
        main_accounts={
            a: {"IsSuspended": "No"}
            for a in ("600100", "600200", "600300", "220100", "220200", "220300", "220400")
        },
        dimension_values={
            ("BusinessUnit", "001"): {"IsSuspended": "No"},
            ("Department", "D200"): {"IsSuspended": "No"},
        },
        journal_names=frozenset({"PAYROLL"}),
    )
    base.update(overrides)
    return DynamicsReference(**base)


def test_format_order_and_delimiter_must_match_the_active_ledger_format() -> None:
    assert check_format(M.dimension_format, _reference()) == []
    swapped = check_format(
        M.dimension_format,
        _reference(ledger_format=("MainAccount", "Department", "BusinessUnit", "CostCenter")),
    )
    assert [f.item for f in swapped] == ["order"]
    period = check_format(M.dimension_format, _reference(delimiter="."))
    assert [f.item for f in period] == ["delimiter"]


def test_suspended_values_and_accounts_block_unknown_values_only_warn() -> None:
    journal = _journal([_good()])
    blocking, warnings = check_dynamics_values(journal, _reference())
    assert blocking == []
    assert [f.item for f in warnings] == ["CostCenter CCGEN"]
    suspended = _reference(
        dimension_values={
            ("BusinessUnit", "001"): {"IsSuspended": "No"},
            ("Department", "D200"): {"IsSuspended": "Yes"},
        }
    )
    blocking, _ = check_dynamics_values(journal, suspended)
    assert [f.message for f in blocking] == ["Department value D200 is suspended"]
    accounts = dict(_reference().main_accounts)
    accounts["600100"] = {"IsSuspended": "Yes"}
    del accounts["220400"]
    blocking, _ = check_dynamics_values(journal, _reference(main_accounts=accounts))
    assert {f.item for f in blocking} == {"main account 600100", "main account 220400"}
    blocking, _ = check_dynamics_values(journal, _reference(journal_names=frozenset({"GENJRN"})))
    assert [f.item for f in blocking] == ["journal name"]
