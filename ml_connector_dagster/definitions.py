"""The Dagster code location: each flow's definitions merged with the shared resources.

Everything Dagster lives under ``defs/``, one package per flow; this module only merges them,
so that ``workspace.yaml``, ``[tool.dagster]``, ``[tool.dg]`` (``dg check defs``) and
``dagster definitions validate`` have one place to load.
"""

from ml_connector_dagster.connections_file import apply_selected_connection

# First, before any module below reads a setting or names an asset: with a connections file,
# this process serves the connection ML_CONNECTOR_CONNECTION names, and its environment becomes
# that connection's view (``connections_file.py``; its names: ``defs/naming.py``).
apply_selected_connection()

import dagster as dg  # noqa: E402

from ml_connector_dagster.defs.alerts import definitions as alerts  # noqa: E402
from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager  # noqa: E402
from ml_connector_dagster.defs.month_end import definitions as month_end  # noqa: E402
from ml_connector_dagster.defs.payroll import definitions as payroll  # noqa: E402
from ml_connector_dagster.defs.pools import apply_pool_limits_at_load  # noqa: E402
from ml_connector_dagster.defs.reference import definitions as reference  # noqa: E402
from ml_connector_dagster.defs.resources import ConnectorResource  # noqa: E402
from ml_connector_dagster.defs.workforce import definitions as workforce  # noqa: E402

# Modules, not their Definitions: Dagster refuses a module holding more than one Definitions.
defs = dg.Definitions.merge(
    reference.defs,
    payroll.defs,
    workforce.defs,
    alerts.defs,
    month_end.defs,
    dg.Definitions(
        resources={"connector": ConnectorResource(), "io_manager": PartitionFilesIOManager()},
        executor=dg.in_process_executor,
    ),
)

# The pool limits, set on this instance before any step of this code location can claim a slot
# (``defs/pools.py``: a defaulted pool can crash runs on PostgreSQL).
apply_pool_limits_at_load()
