"""The reference jobs: the daily refresh of every reference asset of both sides and the mapping
check, and the observation of the mapping file (a source asset: observed, never materialized,
so it has a job of its own)."""

import dagster as dg

from ml_connector_dagster.defs import naming
from ml_connector_dagster.defs.reference.assets import REFERENCE_ASSETS
from ml_connector_dagster.defs.reference.mapping_asset import MAPPING_KEY
from ml_connector_dagster.defs.run_limits import runtime_tags

reference_job = dg.define_asset_job(
    naming.name("refresh_reference_data"),
    selection=dg.AssetSelection.assets(*REFERENCE_ASSETS),
    tags=runtime_tags(),
)

mapping_job = dg.define_asset_job(
    naming.name("observe_payroll_mapping"),
    selection=dg.AssetSelection.assets(MAPPING_KEY),
    description="Read the finance mapping file and record its content hash as its data version.",
    tags=runtime_tags(),
)
