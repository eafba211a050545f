"""The payroll job: snapshot, journals, the five blocking checks and posting, in one run.

The posting step must be in the run whose checks guard it (a blocking check stops only the
steps of its own run), so the three assets are always launched together.
"""

import dagster as dg

from ml_connector_dagster.defs.payroll.assets import (
    labor_cost_journals,
    payroll_cost_snapshot,
    posted_journals,
)

payroll_job = dg.define_asset_job(
    "payroll_to_ledger",
    selection=dg.AssetSelection.assets(payroll_cost_snapshot, labor_cost_journals, posted_journals),
    description="Snapshot, journals, the five blocking checks, and posting, per pay period and"
    " legal entity.",
)
