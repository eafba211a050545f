"""The Dagster code location: thin wiring of the connector's assets, checks and sensors.

Everything Dagster lives under ``defs/``; this module only gathers it, so that
``workspace.yaml`` and ``dagster definitions validate`` have one place to load.
"""

import dagster as dg

from ml_connector_dagster.defs.corrections import correction_job, ledger_corrections
from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager
from ml_connector_dagster.defs.payroll import (
    labor_cost_journals,
    payroll_cost_snapshot,
    posted_journals,
)
from ml_connector_dagster.defs.reference import REFERENCE_ASSETS
from ml_connector_dagster.defs.resources import ConnectorResource
from ml_connector_dagster.defs.sensors import (
    pay_run_sensor,
    payroll_job,
    reference_job,
    reference_schedule,
)
from ml_connector_dagster.defs.workforce import (
    WORKFORCE_ASSETS,
    workforce_job,
    workforce_poll_sensor,
    workforce_schedule,
    workforce_webhook_sensor,
)

PAYROLL_ASSETS = [payroll_cost_snapshot, labor_cost_journals, posted_journals, ledger_corrections]

defs = dg.Definitions(
    assets=[*REFERENCE_ASSETS, *PAYROLL_ASSETS, *WORKFORCE_ASSETS],
    jobs=[payroll_job, correction_job, reference_job, workforce_job],
    sensors=[pay_run_sensor, workforce_webhook_sensor, workforce_poll_sensor],
    schedules=[reference_schedule, workforce_schedule],
    resources={"connector": ConnectorResource(), "io_manager": PartitionFilesIOManager()},
    executor=dg.in_process_executor,
)
