"""Journal building: balance, sides, precedence, allocation, vouchers, identity. Pure rules."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_factories import mapping, record, run

from ml_connector_dagster.ledger.checks import check_balanced, check_reconciled, check_source
from ml_connector_dagster.ledger.dimensions import WorkerContext
from ml_connector_dagster.ledger.journal import (
    DESCRIPTION_LIMIT,
    JournalIdentity,
    JournalType,
    LineRole,
    build_journal,
    line_display_value,
)

M = mapping()
USMF = M.company("USMF")
ZERO = Decimal("0.00")


def _build(records, workers=None, journal_mapping=M):
    workers = workers or {}
    return build_journal(run(), records, workers, journal_mapping, journal_mapping.company("USMF"))


def _by(lines, role):
    return [line for line in lines if line.role is role]


def test_the_documented_example_record_posts_on_the_documented_sides() -> None:
    rec = record(
        "pre_1",
        "wkr_1",
        earnings=[("SALARY", "4000.00"), ("OVERTIME", "200.00")],
        ee_taxes=["467.33", "260.40", "60.90"],
        er_taxes=["260.40", "60.90"],
        deductions=[("400.00", "200.00"), ("0.00", "50.00")],
    )
    assert rec.net_pay == Decimal("3011.37")  # gross - employee taxes - deductions
    build = _build([rec], {"wkr_1": WorkerContext("wkr_1", department_key="D200")})
    journal = build.journal
    assert build.problems == []
    debit = {(line.account): line.debit for line in journal.lines if line.debit}
    credit = {(line.account): line.credit for line in journal.lines if line.credit}
    assert debit == {
        "600100": Decimal("4000.00"),
        "600120": Decimal("200.00"),
        "600200": Decimal("321.30"),
        "600300": Decimal("250.00"),
    }
    assert credit == {
        "220100": Decimal("1109.93"),
        "220200": Decimal("650.00"),
        "220400": Decimal("3011.37"),
    }
    assert journal.total_debit == journal.total_credit == Decimal("4771.30")


def test_expense_lines_carry_worker_dimensions_and_liabilities_the_entity_only() -> None:
    rec = record("p", "w", earnings=[("SALARY", "100.00")], ee_taxes=["10.00"])
    journal = _build([rec], {"w": WorkerContext("w", department_key="D200")}).journal
    expense = _by(journal.lines, LineRole.EARNINGS)[0]
    liability = _by(journal.lines, LineRole.NET_PAY)[0]
    assert line_display_value(M, expense) == "600100-001-D200-CCGEN"
    assert line_display_value(M, liability) == "220400-001--"


def test_precedence_worker_then_job_code_then_department() -> None:
    rec = record("p", "wkr_special", earnings=[("SALARY", "100.00")])
    worker = WorkerContext("wkr_special", department_key="D200", job_codes=(("CC-ENG", 1),))
    line = _by(_build([rec], {"wkr_special": worker}).journal.lines, LineRole.EARNINGS)[0]
    dims = dict(line.dimensions)
    assert dims["Department"] == "D900"  # worker override beats department
    assert dims["CostCenter"] == "CCENG"  # job code beats the department's CCGEN
    assert dims["BusinessUnit"] == "001"  # from the legal entity


def test_unmapped_department_is_a_problem_and_posts_nothing_for_that_worker() -> None:
    rec = record("p9", "w9", earnings=[("SALARY", "100.00")])
    build = _build([rec], {"w9": WorkerContext("w9", department_key="D404")})
    assert build.journal.lines == []
    missing = {(p.worker_id, p.record_id, p.item) for p in build.problems}
    assert ("w9", "p9", "dimension Department") in missing
    assert ("w9", "p9", "dimension CostCenter") in missing


def test_earning_account_by_code_then_category_then_default() -> None:
    rec = record(
        "p", "w", earnings=[("SIGNING_BONUS", "50.00"), ("PTO", "20.00"), ("BONUS", "5.00")]
    )
    lines = _by(
        _build(
            [rec], {"w": WorkerContext("w", department_key="D100", job_codes=(("CC-ENG", 1),))}
        ).journal.lines,
        LineRole.EARNINGS,
    )
    assert {line.account: line.debit for line in lines} == {
        "600135": Decimal("50.00"),
        "600190": Decimal("20.00"),
        "600130": Decimal("5.00"),
    }


def test_missing_earning_account_without_default_is_a_problem() -> None:
    no_default = mapping(open_mapping_without_default())
    rec = record("p", "w", earnings=[("PTO", "20.00")])
    build = _build(
        [rec],
        {"w": WorkerContext("w", department_key="D100", job_codes=(("CC-ENG", 1),))},
        no_default,
    )
    assert [(p.item, p.missing) for p in build.problems] == [("earning pto", "main account")]


def open_mapping_without_default() -> str:
    from ledger_factories import MAPPING_YAML

    return MAPPING_YAML.replace('    default: "600190"\n', "")


def test_negative_amounts_post_positive_on_the_opposite_side() -> None:
    rec = record("p", "w", earnings=[("SALARY", "-300.00")], ee_taxes=["-30.00"])
    journal = _build(
        [rec], {"w": WorkerContext("w", department_key="D100", job_codes=(("CC-ENG", 1),))}
    ).journal
    assert all(line.debit >= 0 and line.credit >= 0 for line in journal.lines)
    salary = next(line for line in journal.lines if line.account == "600100")
    net = next(line for line in journal.lines if line.account == "220400")
    assert salary.credit == Decimal("300.00") and salary.debit == ZERO
    assert net.debit == Decimal("270.00")
    assert check_balanced(journal) == []


def test_split_worker_is_allocated_by_weight_and_every_voucher_balances() -> None:
    rec = record(
        "p",
        "w",
        earnings=[("SALARY", "100.01")],
        ee_taxes=["10.01"],
        er_taxes=["7.66"],
        deductions=[("3.33", "1.11")],
    )
    worker = WorkerContext("w", department_key="D100", job_codes=(("CC-ENG", 2), ("CC-OPS", 1)))
    journal = _build([rec], {"w": worker}).journal
    salary = {
        dict(line.dimensions)["CostCenter"]: line.debit
        for line in _by(journal.lines, LineRole.EARNINGS)
    }
    assert salary == {"CCENG": Decimal("66.67"), "CCOPS": Decimal("33.34")}
    assert len({line.voucher for line in journal.lines}) == 2
    assert check_balanced(journal) == []
    assert check_reconciled(journal, [rec]) == []


def test_worker_detail_gives_each_worker_a_voucher_with_the_number_in_the_text() -> None:
    from ledger_factories import MAPPING_YAML

    detail = mapping(
        MAPPING_YAML.replace("  name: PAYROLL\n", "  name: PAYROLL\n  detail_level: worker\n")
    )
    recs = [record("p1", "w1", [("SALARY", "10.00")]), record("p2", "w2", [("SALARY", "20.00")])]
    workers = {
        w: WorkerContext(w, number=n, department_key="D100", job_codes=(("CC-ENG", 1),))
        for w, n in (("w1", "101"), ("w2", "102"))
    }
    journal = _build(recs, workers, detail).journal
    assert len({line.voucher for line in journal.lines}) == 2
    assert {line.text.split()[0] for line in journal.lines} == {"101", "102"}


def test_summary_level_sums_workers_with_the_same_dimensions() -> None:
    recs = [record(f"p{i}", f"w{i}", [("SALARY", "10.00")]) for i in range(5)]
    workers = {
        f"w{i}": WorkerContext(f"w{i}", department_key="D100", job_codes=(("CC-ENG", 1),))
        for i in range(5)
    }
    journal = _build(recs, workers).journal
    assert [(line.account, line.debit) for line in _by(journal.lines, LineRole.EARNINGS)] == [
        ("600100", Decimal("50.00"))
    ]
    assert len(journal.lines) == 2  # salary and net pay clearing


def test_identity_marker_fits_the_description_and_is_stable() -> None:
    identity = JournalIdentity("acme", "run_" + "x" * 200, "USMF", JournalType.SETTLEMENT)
    description = identity.description(None)
    assert len(description) <= DESCRIPTION_LIMIT and description.endswith(identity.marker)
    same = JournalIdentity("acme", "run_" + "x" * 200, "USMF", JournalType.SETTLEMENT)
    assert same.key == identity.key
    assert (
        JournalIdentity("acme", "run_1", "USMF", JournalType.ACCRUAL).key
        != JournalIdentity("acme", "run_1", "USMF", JournalType.SETTLEMENT).key
    )


def test_accrual_is_dated_at_period_end_and_reverses_next_day() -> None:
    build = build_journal(run(), [], {}, M, USMF, JournalType.ACCRUAL)
    assert str(build.journal.trans_date) == "2026-11-15"
    assert str(build.journal.reverse_date) == "2026-11-16"


def test_payload_hash_changes_with_any_amount() -> None:
    workers = {"w": WorkerContext("w", department_key="D100", job_codes=(("CC-ENG", 1),))}
    one = _build([record("p", "w", [("SALARY", "10.00")])], workers).journal.payload_hash()
    two = _build([record("p", "w", [("SALARY", "10.01")])], workers).journal.payload_hash()
    assert one != two


money = st.integers(min_value=-50_000, max_value=500_000).map(lambda c: Decimal(c) / 100)
positive = st.integers(min_value=0, max_value=100_000).map(lambda c: Decimal(c) / 100)


@st.composite
def records(draw):
    count = draw(st.integers(min_value=1, max_value=8))
    result = []
    for i in range(count):
        earnings = [
            (
                draw(st.sampled_from(["SALARY", "HOURLY", "OVERTIME", "BONUS", "PTO"])),
                str(draw(money)),
            )
            for _ in range(draw(st.integers(1, 4)))
        ]
        result.append(
            record(
                f"p{i}",
                f"w{i % 3}",
                earnings,
                ee_taxes=[str(draw(positive)) for _ in range(draw(st.integers(0, 3)))],
                er_taxes=[str(draw(positive)) for _ in range(draw(st.integers(0, 3)))],
                deductions=[
                    (str(draw(positive)), str(draw(positive)))
                    for _ in range(draw(st.integers(0, 2)))
                ],
                garnishments=[str(draw(positive)) for _ in range(draw(st.integers(0, 1)))],
            )
        )
    return result


WORKERS = {
    "w0": WorkerContext("w0", department_key="D100", job_codes=(("CC-ENG", 1),)),
    "w1": WorkerContext("w1", department_key="D200"),
    "w2": WorkerContext("w2", department_key="D100", job_codes=(("CC-ENG", 3), ("CC-OPS", 2))),
}


@settings(max_examples=150, deadline=None)
@given(recs=records())
def test_any_balanced_source_gives_a_balanced_reconciled_journal(recs) -> None:
    assert check_source(recs) == []
    journal = _build(recs, WORKERS).journal
    assert check_balanced(journal) == []
    assert check_reconciled(journal, recs) == []
    assert all(line.debit >= 0 and line.credit >= 0 for line in journal.lines)
    assert all((line.debit == 0) != (line.credit == 0) for line in journal.lines)
