"""The reference flow's definitions: what ``definitions.py`` merges with the shared resources."""

import dagster as dg

from ml_connector_dagster.defs.reference.assets import REFERENCE_ASSETS
from ml_connector_dagster.defs.reference.jobs import mapping_job, reference_job
from ml_connector_dagster.defs.reference.mapping_asset import payroll_mapping
from ml_connector_dagster.defs.reference.schedules import mapping_schedule, reference_schedule

defs = dg.Definitions(
    assets=[*REFERENCE_ASSETS, payroll_mapping],
    jobs=[reference_job, mapping_job],
    schedules=[reference_schedule, mapping_schedule],
)
