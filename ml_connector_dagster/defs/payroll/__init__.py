"""Payroll to general ledger in Dagster: partitions, assets, checks, sensor, jobs, corrections."""
