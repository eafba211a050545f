"""The payroll flow's definitions: what ``definitions.py`` merges with the shared resources."""

import dagster as dg

from ml_connector_dagster.defs.payroll.approval import approve_journals
from ml_connector_dagster.defs.payroll.assets import (
    labor_cost_journals,
    payroll_cost_snapshot,
    posted_journals,
)
from ml_connector_dagster.defs.payroll.corrections import correction_job, ledger_corrections
from ml_connector_dagster.defs.payroll.fo_observation import (
    fo_observation_schedule,
    observe_posted_journals,
    unchanged_in_fo,
)
from ml_connector_dagster.defs.payroll.jobs import payroll_job
from ml_connector_dagster.defs.payroll.sensors import pay_run_sensor
from ml_connector_dagster.defs.payroll.workforce import workforce_snapshot

defs = dg.Definitions(
    assets=[
        workforce_snapshot,
        payroll_cost_snapshot,
        labor_cost_journals,
        posted_journals,
        ledger_corrections,
    ],
    asset_checks=[unchanged_in_fo],
    jobs=[payroll_job, correction_job, observe_posted_journals, approve_journals],
    sensors=[pay_run_sensor],
    schedules=[fo_observation_schedule],
)
