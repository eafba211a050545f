"""One rule for "the runs of (pay period, company)": the sensor's groups equal the snapshot's."""

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_factories import mapping

from ml_connector_dagster.payroll.selection import period_runs, runs_for, trigger_groups
from ml_connector_dagster.rippling.models import PayrollRun

M = mapping()
PERIODS = ["2026-10-31", "2026-11-14", "2026-11-28"]
STATES = ["DRAFT", "APPROVED", "PAID", "CLOSED", "FAILED", None]
ENTITIES = ["cle_us", "cle_unknown", None]


def _run(index: int, period: str, state: str | None, entity: str | None, day: int) -> PayrollRun:
    end = dt.date.fromisoformat(period)
    return PayrollRun.model_validate(
        {
            "id": f"run_{index:03d}",
            "run_state": state,
            "check_date": (end + dt.timedelta(days=day)).isoformat(),
            "company_entity_id": entity,
            "pay_period": {
                "start_date": (end - dt.timedelta(days=13)).isoformat(),
                "end_date": period,
            },
        }
    )


runs_strategy = st.lists(
    st.tuples(
        st.sampled_from(PERIODS),
        st.sampled_from(STATES),
        st.sampled_from(ENTITIES),
        st.integers(min_value=0, max_value=6),
    ),
    max_size=25,
).map(lambda rows: [_run(i, *row) for i, row in enumerate(rows)])


@settings(max_examples=200, deadline=None)
@given(runs=runs_strategy, since=st.sampled_from(PERIODS))
def test_the_sensors_groups_are_exactly_the_snapshots_runs(runs, since) -> None:
    groups = trigger_groups(runs, M, since=since)
    expected = {
        (period, "USMF"): runs_for(runs, M, period, "USMF")
        for period in PERIODS
        if period >= since and runs_for(runs, M, period, "USMF")
    }
    assert groups == expected


def test_unmapped_entities_and_other_periods_are_left_out() -> None:
    runs = [
        _run(1, "2026-11-14", "PAID", "cle_us", 3),
        _run(2, "2026-11-14", "PAID", "cle_unknown", 3),
        _run(3, "2026-11-28", "PAID", "cle_us", 3),
        _run(4, "2026-11-14", "DRAFT", "cle_us", 1),
    ]
    assert [r.id for r in period_runs(runs, M, "2026-11-14", "USMF")] == ["run_004", "run_001"]
    assert [r.id for r in runs_for(runs, M, "2026-11-14", "USMF")] == ["run_001"]
    assert list(trigger_groups(runs, M, since="2026-11-20")) == [("2026-11-28", "USMF")]


def test_a_payroll_partition_round_trips_and_refuses_what_dagster_would_drop() -> None:
    import pytest

    from ml_connector_dagster.defs.payroll.partitions import PayrollPartition, payroll_partitions

    partition = PayrollPartition("2026-11-14", "USMF")
    assert str(partition) == "USMF|2026-11-14"
    assert PayrollPartition.parse(str(partition)) == partition
    assert payroll_partitions.get_partition_key_from_str(str(partition)) == partition.key()
    for bad in ("2026-11-14", "USMF|2026-11", "US|MF|2026-11-14", "usmf,x|2026-11-14"):
        with pytest.raises(ValueError):
            PayrollPartition.parse(bad)
