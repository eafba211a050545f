"""Reference data in Dagster: both sides' reference assets and their daily refresh."""
