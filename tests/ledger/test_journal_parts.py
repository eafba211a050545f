"""Long journals split into several F&O journals at voucher boundaries, never inside one."""

import datetime as dt
from dataclasses import replace

import pytest
from ledger_factories import MAPPING_YAML, mapping, record, run

from ml_connector_dagster.dynamics.writable import Operation, unwritable
from ml_connector_dagster.ledger.dimensions import WorkerContext
from ml_connector_dagster.ledger.journal import DESCRIPTION_LIMIT, build_journal
from ml_connector_dagster.posting.payloads import header_payload, line_payloads, split_parts

M = mapping(MAPPING_YAML.replace("  name: PAYROLL\n", "  name: PAYROLL\n  detail_level: worker\n"))


def _journal(workers: int):
    records = [
        record(f"p{i}", f"w{i}", [("SALARY", "100.00"), ("OVERTIME", "5.00")], ["10.00"])
        for i in range(workers)
    ]
    contexts = {
        f"w{i}": WorkerContext(f"w{i}", number=str(100 + i), department_key="D200")
        for i in range(workers)
    }
    return build_journal(run(), records, contexts, M, M.company("USMF")).journal


def test_parts_hold_whole_vouchers_within_the_limit_and_add_up() -> None:
    journal = _journal(7)  # one voucher per worker, all the same size
    per_voucher = len(journal.lines) // 7
    parts = split_parts(journal, max_lines=per_voucher * 3)
    assert [len(p.lines) for p in parts] == [per_voucher * 3, per_voucher * 3, per_voucher]
    vouchers = [{line.voucher for line in p.lines} for p in parts]
    assert all(not (a & b) for i, a in enumerate(vouchers) for b in vouchers[i + 1 :])
    assert sum(p.total_debit for p in parts) == journal.total_debit
    assert all(p.total_debit == p.total_credit for p in parts)
    for index, part in enumerate(parts, start=1):
        assert part.description.endswith(f"{index}/3 {journal.identity.marker}")
        assert len(part.description) <= DESCRIPTION_LIMIT


def test_a_short_journal_is_one_part_with_the_plain_description() -> None:
    journal = _journal(2)
    [part] = split_parts(journal, max_lines=5000)
    assert part.description == journal.description


def test_a_voucher_larger_than_a_journal_is_refused_by_name() -> None:
    journal = _journal(1)
    with pytest.raises(ValueError, match=f"voucher {journal.lines[0].voucher}"):
        split_parts(journal, max_lines=2)


def test_line_payloads_carry_one_side_only_and_the_display_value() -> None:
    journal = _journal(1)
    [part] = split_parts(journal, max_lines=5000)
    payloads = line_payloads(journal, part, "USMF-000001", M)
    assert all(("DebitAmount" in p) != ("CreditAmount" in p) for p in payloads)
    assert {p["JournalBatchNumber"] for p in payloads} == {"USMF-000001"}
    assert "600100-001-D200-CCGEN" in {p["AccountDisplayValue"] for p in payloads}
    assert all(p["TransDate"] == "2026-11-20T00:00:00Z" for p in payloads)


def test_vouchers_are_on_the_lines_only_when_the_journal_name_wants_them() -> None:
    journal = _journal(2)
    [part] = split_parts(journal, max_lines=5000)
    series = line_payloads(journal, part, "USMF-000001", M)
    assert not any("Voucher" in p for p in series)  # F&O's series numbers them
    manual = line_payloads(journal, part, "USMF-000001", M, supply_voucher=True)
    assert [p["Voucher"] for p in manual] == [line.voucher for line in part.lines]


def test_every_field_a_journal_write_sends_is_one_the_connector_may_write() -> None:
    """The payloads stay inside ``dynamics/writable.py``, whose names the metadata contract
    test checks against F&O's reference."""
    journal = replace(_journal(2), reverse_date=dt.date(2026, 12, 1))
    [part] = split_parts(journal, max_lines=5000)
    header = header_payload(journal, part)
    assert unwritable("LedgerJournalHeaders", Operation.CREATE, header) == []
    for supply in (False, True):
        for payload in line_payloads(journal, part, "B-1", M, supply_voucher=supply):
            assert unwritable("LedgerJournalLines", Operation.CREATE, payload) == []
    assert {"ReverseEntry", "ReverseDate", "IntegrationKey"} <= set(payload) | set(header)
