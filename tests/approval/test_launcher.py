"""Who launched a run, as the audit trail says it (``defs/payroll/launcher.py``)."""

import pytest

from ml_connector_dagster.defs.payroll.launcher import APPROVAL_TAG, OS_USER_TAG, launched_by
from ml_connector_dagster.defs.stale_runs import TRIGGER_TAG


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"dagster/sensor_name": "pay_run_sensor"}, "sensor pay_run_sensor"),
        ({"dagster/schedule_name": "nightly"}, "schedule nightly"),
        ({"dagster/backfill": "abcdefgh"}, "backfill abcdefgh"),
        ({TRIGGER_TAG: "cli", OS_USER_TAG: "ana"}, "ml-connector CLI, OS user ana"),
        ({TRIGGER_TAG: "cli-correct", OS_USER_TAG: "bo"}, "ml-connector correct CLI, OS user bo"),
        ({}, "launched from the Dagster UI or API (no user recorded)"),
        (
            {"dagster/sensor_name": "pay_run_sensor", APPROVAL_TAG: "decision 3, approved by Ana"},
            "sensor pay_run_sensor; after decision 3, approved by Ana",
        ),
    ],
)
def test_the_launcher_is_named_from_the_run_tags(tags, expected) -> None:
    assert launched_by(tags) == expected
