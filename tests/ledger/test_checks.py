"""The blocking checks find what they exist to find."""

from dataclasses import replace
from decimal import Decimal

from ledger_factories import mapping, record, run

from ml_connector_dagster.ledger.checks import (
    WITHHELD,
    DynamicsReference,
    Finding,
    check_balanced,
    check_currency,
    check_dynamics_values,
    check_format,
    check_reconciled,
    check_source,
    mask_amounts,
    withhold_amounts,
)
from ml_connector_dagster.ledger.dimensions import WorkerContext
from ml_connector_dagster.ledger.inputs import MissingAmount
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


# --- amounts of one person (issue 11: metadata carries totals, not one person's pay) ----------
def _texts(finding: Finding) -> str:
    return " ".join((finding.expected, finding.actual, finding.message))


def test_findings_about_one_record_are_personal_and_name_record_worker_and_field() -> None:
    good = _good()
    bad = replace(
        good,
        net_pay=Decimal("840.01"),
        summary=replace(good.summary, employer_taxes=Decimal("80.00")),
        missing=(MissingAmount("summary.employer_contributions", "null"),),
    )
    findings = check_source([bad])
    assert [f.item for f in findings] == [
        "summary.employer_contributions",  # missing: named, never read as zero
        "gross_pay",
        "summary.employer_taxes",
        "summary.employer_contributions",  # its items are there, its summary is not
    ]
    assert all(f.personal for f in findings)
    withheld = [withhold_amounts(f) for f in findings]
    for finding in withheld:
        assert finding.subject == "record p (worker w)"
        for amount in ("1000.01", "1000.00", "80.00", "76.50", "840.01", "25.00"):
            assert amount not in _texts(finding), (finding, amount)
    missing, gross, employer_taxes, contributions = withheld
    assert (missing.expected, missing.actual) == ("an amount", "null")  # nothing to withhold
    assert "record p: summary.employer_contributions is missing" in missing.message
    assert gross.expected == gross.actual == WITHHELD
    assert employer_taxes.message == "summary differs from employer tax items"
    assert (contributions.expected, contributions.actual) == (WITHHELD, "missing")
    assert contributions.message == findings[3].message  # "1 employer contribution item(s)"


def test_a_summary_without_items_withholds_the_amount_in_its_message_too() -> None:
    good = _good()
    no_items = replace(good, garnishments=(), net_pay=good.net_pay)
    [finding] = check_source([no_items])
    assert finding.item == "summary.total_garnishments" and "10.00" in finding.message
    masked = withhold_amounts(finding)
    assert "10.00" not in _texts(masked) and "10" not in _texts(masked).split()
    assert masked.message.startswith("summary.total_garnishments reports " + WITHHELD)


def test_a_foreign_currency_record_is_personal_and_keeps_its_currencies() -> None:
    [finding] = check_currency([replace(_good(), currency="EUR")], M.company("USMF"))
    assert finding.personal
    assert withhold_amounts(finding) == finding  # no amount in it: currencies stay readable


def test_journal_voucher_and_format_findings_are_not_personal_and_keep_their_amounts() -> None:
    bad = replace(_good(), net_pay=Decimal("840.01"))
    journal = _journal([bad])
    balanced = check_balanced(journal)
    good = _good()
    tampered = replace(good, summary=replace(good.summary, employer_taxes=Decimal("80.00")))
    reconciled = check_reconciled(_journal([tampered]), [tampered])
    swapped = check_format(
        M.dimension_format,
        _reference(ledger_format=("MainAccount", "Department", "BusinessUnit", "CostCenter")),
    )
    for finding in (*balanced, *reconciled, *swapped):
        assert not finding.personal
        assert withhold_amounts(finding) == finding
    assert any("-3.50" in f.message for f in reconciled)


def test_mask_amounts_takes_amounts_and_leaves_ids_paths_dates_and_counts() -> None:
    text = (
        "record 0123456789ab: earnings[0].amount differs by -3.50 from 1,200.00 and 1E+11;"
        " 3 earlier gross, 12 digits, 4500 and 7.5 times; USMF-000007 on 2026-11-15"
    )
    masked = mask_amounts(text, keep=["0123456789ab"])
    assert masked == (
        f"record 0123456789ab: earnings[0].amount differs by {WITHHELD} from {WITHHELD} and"
        f" {WITHHELD}; 3 earlier gross, 12 digits, {WITHHELD} and {WITHHELD} times;"
        " USMF-000007 on 2026-11-15"
    )
    # a small whole amount is withheld when it is one of the finding's amounts
    assert mask_amounts("reports 12 but", amounts=[Decimal("12.00")]) == f"reports {WITHHELD} but"
    assert mask_amounts("reports 12 but") == "reports 12 but"
