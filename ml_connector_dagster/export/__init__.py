"""Finance's files: one partition's journals as a workbook (or two CSV files) for Excel.

``journal.py`` turns the journals and the snapshot into two tables (lines, totals) with no I/O;
``writers.py`` writes them as xlsx or csv, atomically and owner-only; ``partition.py`` says where
a partition's file lives under ``$DAGSTER_HOME`` and writes it there for the asset step.
"""
