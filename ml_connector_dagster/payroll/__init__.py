"""Reading a pay period from Rippling and summarising it for reviewers (no Dagster here)."""
