"""Everything Dagster, one package per flow; what is not a flow stays at this level.

- ``payroll/``: partitions, the snapshot -> journals -> posted journals assets and their five
  blocking checks, the pay-run sensor and its retries, the payroll and correction jobs;
- ``workforce/``: the worker plan and sync assets, the webhook and poll sensors, the schedule;
- ``reference/``: both sides' reference data, its job and schedule;
- shared: ``resources.py``, ``io_manager.py``, ``pools.py`` (the Dynamics writer pool),
  ``tables.py`` (review tables as table metadata), ``submit.py`` (the commands' runs through
  the run queue), ``headless.py`` (a payroll run's outcome; in-process runs for benchmarks) and
  ``stale_runs.py`` (runs whose process died).

Thin by design: it wires the clients (``rippling/``, ``dynamics/``), the pure rules
(``ledger/``, ``payroll/``), the poster (``posting/``) and the audit store together and turns
their results into metadata a finance reviewer can read. Each flow's ``definitions.py`` lists
its definitions; ``ml_connector_dagster/definitions.py`` merges them.
"""
