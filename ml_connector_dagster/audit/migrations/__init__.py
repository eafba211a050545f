"""Alembic migrations of the audit database, shipped in the package (see ``audit/migrate.py``).

Not imported as Python modules: Alembic reads ``env.py`` and ``versions/`` from this directory.
"""
