"""The reference refresh job: every reference asset of both sides, and the mapping check."""

import dagster as dg

from ml_connector_dagster.defs.reference.assets import REFERENCE_ASSETS

reference_job = dg.define_asset_job(
    "refresh_reference_data", selection=dg.AssetSelection.assets(*REFERENCE_ASSETS)
)
