"""Everything Dagster: resources, partitions, assets, checks, sensors, schedules, jobs.

Thin by design: it wires the clients (``rippling/``, ``dynamics/``), the pure rules
(``ledger/``), the poster (``posting/``) and the audit store together and turns their results
into metadata a finance reviewer can read.
"""
