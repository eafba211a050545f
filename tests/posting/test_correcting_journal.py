"""The correcting journal: differences only, one balanced voucher, its own identity."""

from decimal import Decimal

from ledger_factories import MAPPING_YAML, mapping, record, run

from ml_connector_dagster.ledger.dimensions import WorkerContext
from ml_connector_dagster.ledger.journal import DESCRIPTION_LIMIT, build_journal, line_display_value
from ml_connector_dagster.posting.corrections import correcting_journal, parse_display_value
from ml_connector_dagster.posting.lines import Difference, account_differences, expected_lines

M = mapping(MAPPING_YAML)


def _journal(salary: str):
    records = [record("p1", "w1", [("SALARY", salary)], ["10.00"])]
    contexts = {"w1": WorkerContext("w1", number="100", department_key="D200")}
    return build_journal(run(), records, contexts, M, M.company("USMF")).journal


def test_display_values_parse_back_to_account_and_dimensions() -> None:
    journal = _journal("100.00")
    for line in journal.lines:
        text = line_display_value(M, line)
        account, dims = parse_display_value(M.dimension_format, text)
        assert account == line.account
        assert dict(dims) == {k: v for k, v in line.dimensions if v}


def test_the_correction_holds_exactly_the_differences_and_balances() -> None:
    before, after = _journal("100.00"), _journal("148.75")
    fixes = account_differences(
        expected_lines(before, M).values(), expected_lines(after, M).values()
    )
    assert sorted(f.difference for f in fixes) == [Decimal("-48.75"), Decimal("48.75")]
    correction = correcting_journal(before, 1, fixes, M.dimension_format, ("USMF-000042",))
    assert correction.identity == before.identity.corrected_by(1)
    assert correction.identity.key != before.identity.key
    assert correction.identity.corrected_by(0) == before.identity
    assert correction.total_debit == correction.total_credit == Decimal("48.75")
    assert len({line.voucher for line in correction.lines}) == 1
    assert "USMF-000042" in correction.description
    assert correction.description.endswith(correction.identity.marker)
    assert len(correction.description) <= DESCRIPTION_LIMIT
    # written and read back, the correction plus the original equal the journal now
    held = list(expected_lines(before, M).values()) + list(expected_lines(correction, M).values())
    assert account_differences(held, expected_lines(after, M).values()) == []


def test_differences_describe_account_amounts_and_sign() -> None:
    text = Difference("600100-001-D200", "USD", Decimal("100.00"), Decimal("148.75")).describe()
    assert "600100-001-D200" in text and "100.00" in text and "148.75" in text
    assert "+48.75" in text
