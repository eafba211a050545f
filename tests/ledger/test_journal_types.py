"""Which journals a snapshot yields: settlement for paid runs, accruals for approved ones."""

from ledger_factories import MAPPING_YAML, mapping, record, rippling_run

from ml_connector_dagster.ledger.dimensions import WorkerContext
from ml_connector_dagster.ledger.journal import JournalType
from ml_connector_dagster.payroll.journals import journals_for
from ml_connector_dagster.payroll.snapshot import PeriodSnapshot


def _snapshot(states: dict[str, str]) -> PeriodSnapshot:
    snapshot = PeriodSnapshot(pay_period="2026-11-15", company="USMF")
    for run_id, state in states.items():
        snapshot.runs.append(rippling_run(run_id).model_copy(update={"run_state": state}))
        snapshot.records[run_id] = [record(f"p-{run_id}", "w", [("SALARY", "100.00")])]
    snapshot.workers["w"] = WorkerContext("w", department_key="D200")
    return snapshot


def _types(text: str, states: dict[str, str]) -> list[tuple[str, JournalType]]:
    builds = journals_for(_snapshot(states), mapping(text))
    return [(b.journal.identity.run_id, b.journal.identity.journal_type) for b in builds]


def test_paid_runs_settle_and_approved_runs_wait_by_default() -> None:
    assert _types(MAPPING_YAML, {"r1": "PAID", "r2": "APPROVED", "r3": "CLOSED"}) == [
        ("r1", JournalType.SETTLEMENT),
        ("r3", JournalType.SETTLEMENT),
    ]


def test_approved_runs_accrue_when_asked_for_either_way() -> None:
    accrual = MAPPING_YAML.replace("  name: PAYROLL\n", "  name: PAYROLL\n  accrual: true\n")
    approved = MAPPING_YAML.replace(
        "  name: PAYROLL\n", "  name: PAYROLL\n  trigger_state: APPROVED\n"
    )
    for text in (accrual, approved):
        assert _types(text, {"r1": "PAID", "r2": "APPROVED"}) == [
            ("r1", JournalType.SETTLEMENT),
            ("r2", JournalType.ACCRUAL),
        ]
