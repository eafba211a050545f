"""The Dagster names that belong to one connection: its pool of Dynamics writers.

Payroll posting, corrections and the workforce sync all write to the same F&O environment, so
they share one pool (dagster.yaml limits pools to 1 slot: one writer per Dynamics environment).
Pool and dynamic-partition names are global in an instance, so they carry the connection name
(``ML_CONNECTOR_CONNECTION``), read once when the definitions load.
"""

from ml_connector_dagster.config.settings import current_settings

CONNECTION = current_settings().connection
# Every step that writes to F&O takes a slot of this pool.
DYNAMICS_POOL = f"dynamics__{CONNECTION}"
