"""The reference flow's definitions: what ``definitions.py`` merges with the shared resources."""

import dagster as dg

from ml_connector_dagster.defs.reference.assets import REFERENCE_ASSETS
from ml_connector_dagster.defs.reference.jobs import reference_job
from ml_connector_dagster.defs.reference.schedules import reference_schedule

defs = dg.Definitions(assets=REFERENCE_ASSETS, jobs=[reference_job], schedules=[reference_schedule])
