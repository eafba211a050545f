"""The Dagster code location: each flow's definitions merged with the shared resources.

Everything Dagster lives under ``defs/``, one package per flow; this module only merges them,
so that ``workspace.yaml``, ``[tool.dagster]``, ``[tool.dg]`` (``dg check defs``) and
``dagster definitions validate`` have one place to load.
"""

import dagster as dg

from ml_connector_dagster.defs.alerts import definitions as alerts
from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager
from ml_connector_dagster.defs.payroll import definitions as payroll
from ml_connector_dagster.defs.pools import apply_pool_limits_at_load
from ml_connector_dagster.defs.reference import definitions as reference
from ml_connector_dagster.defs.resources import ConnectorResource
from ml_connector_dagster.defs.workforce import definitions as workforce

# Modules, not their Definitions: Dagster refuses a module holding more than one Definitions.
defs = dg.Definitions.merge(
    reference.defs,
    payroll.defs,
    workforce.defs,
    alerts.defs,
    dg.Definitions(
        resources={"connector": ConnectorResource(), "io_manager": PartitionFilesIOManager()},
        executor=dg.in_process_executor,
    ),
)

# The pool limits, set on this instance before any step of this code location can claim a slot
# (``defs/pools.py``: a defaulted pool can crash runs on PostgreSQL).
apply_pool_limits_at_load()
