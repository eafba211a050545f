"""The payroll job: snapshot, journals, the five blocking checks and posting, in one run.

The posting step must be in the run whose checks guard it (a blocking check stops only the
steps of its own run), so the three assets are always launched together.
"""

import dagster as dg

from ml_connector_dagster.defs import naming
from ml_connector_dagster.defs.payroll.assets import (
    labor_cost_journals,
    payroll_cost_snapshot,
    posted_journals,
)
from ml_connector_dagster.defs.payroll.fo_observation import unchanged_in_fo
from ml_connector_dagster.defs.run_limits import runtime_tags

payroll_job = dg.define_asset_job(
    naming.name("payroll_to_ledger"),
    # Without unchanged_in_fo: F&O is read back for it by its own job (fo_observation.py); a
    # journal created a moment ago is unchanged, and reading it would cost each run a request.
    selection=dg.AssetSelection.assets(payroll_cost_snapshot, labor_cost_journals, posted_journals)
    - dg.AssetSelection.checks(unchanged_in_fo),
    description="Snapshot, journals, the five blocking checks, and posting, per pay period and"
    " legal entity.",
    tags=runtime_tags(),
)
