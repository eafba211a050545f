"""The Dagster code location: thin wiring of the connector's assets, checks and sensors.

Everything Dagster lives under ``defs/``; this module only gathers it, so that
``workspace.yaml`` and ``dagster definitions validate`` have one place to load.
"""

import dagster as dg

defs = dg.Definitions(
    executor=dg.in_process_executor,
)
