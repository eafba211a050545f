"""A record in another currency than its company's is refused by name; missing is not zero."""

from dataclasses import replace
from decimal import Decimal

from ledger_factories import MAPPING_YAML, mapping, record, run

from ml_connector_dagster.ledger.checks import check_currency, check_source_record
from ml_connector_dagster.ledger.inputs import MissingAmount, WorkerContext
from ml_connector_dagster.ledger.journal import build_journal
from ml_connector_dagster.posting.gate import pure_verdict

M = mapping()
USMF = M.company("USMF")
WORKERS = {"w": WorkerContext("w", department_key="D200")}


def _record(record_id: str = "p", currency: str = "USD"):
    return record(
        record_id,
        "w",
        [("SALARY", "1000.00")],
        ["100.00"],
        ["76.50"],
        [("50.00", "25.00")],
        currency=currency,
    )


def test_records_in_the_company_currency_pass_in_any_case() -> None:
    assert check_currency([_record(), _record("q", "usd")], USMF) == []


def test_a_eur_record_in_a_usd_company_is_named_with_both_currencies() -> None:
    [finding] = check_currency([_record(), _record("eur1", "EUR")], USMF)
    assert "record eur1" in finding.subject
    assert (finding.item, finding.expected, finding.actual) == ("currency", "USD (USMF)", "EUR")
    assert "EUR" in finding.message and "USMF books in USD" in finding.message


def test_the_gate_blocks_a_mixed_currency_run_under_fully_mapped() -> None:
    records = [_record(), _record("eur1", "EUR")]
    build = build_journal(run(), records, WORKERS, M, USMF)
    verdict = pure_verdict(build, records, M)
    assert not verdict.passed
    assert verdict.failed_checks == ["fully_mapped"]  # balanced and reconciled per currency
    assert "record eur1" in verdict.summary() and "USMF books in USD" in verdict.summary()


def test_a_journal_for_a_company_the_mapping_lost_is_refused() -> None:
    other = mapping(MAPPING_YAML.replace("company: USMF", "company: DEMF"))
    build = build_journal(run(), [_record()], WORKERS, M, USMF)
    found = pure_verdict(build, [_record()], other).findings["fully_mapped"]
    assert any(f.item == "company" and "USMF" in f.message for f in found)


def test_a_missing_employer_tax_summary_blocks_source_sane_by_record_and_field() -> None:
    gap = replace(
        _record(),
        summary=replace(_record().summary, employer_taxes=Decimal("0.00")),
        missing=(MissingAmount("summary.employer_taxes", "null"),),
    )
    findings = check_source_record(gap)
    assert [(f.item, f.actual) for f in findings] == [
        ("summary.employer_taxes", "null"),
        ("summary.employer_taxes", "missing"),  # and its employer tax items are present
    ]
    assert all("record p" in f.subject for f in findings)
    build = build_journal(run(), [gap], WORKERS, M, USMF)
    # reconciled differs too: Rippling's own total of employer taxes is not known
    assert pure_verdict(build, [gap], M).failed_checks[0] == "source_sane"


def test_a_missing_item_amount_blocks_without_a_second_made_up_difference() -> None:
    good = _record()
    taxes = (good.taxes[0], replace(good.taxes[1], amount=Decimal("0.00")))
    gap = replace(good, taxes=taxes, missing=(MissingAmount("taxes[1].amount", "null"),))
    assert [(f.item, f.actual) for f in check_source_record(gap)] == [("taxes[1].amount", "null")]


def test_summary_and_items_are_compared_both_ways() -> None:
    good = _record()
    no_items = replace(
        good,
        deductions=(),
        summary=replace(good.summary, employee_deductions=Decimal("0.00")),
        net_pay=good.net_pay + Decimal("50.00"),
    )
    assert [(f.item, f.actual) for f in check_source_record(no_items)] == [
        ("summary.employer_contributions", "no employer contribution items")
    ]
    zero_summary = replace(good, summary=replace(good.summary, employer_taxes=Decimal("0.00")))
    assert [(f.item, f.expected, f.actual) for f in check_source_record(zero_summary)] == [
        ("summary.employer_taxes", "0.00", "76.50")
    ]
