"""One file per revision of the audit schema; Alembic loads them from this directory."""
