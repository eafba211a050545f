"""The Rippling API client: read-only, paged, throttle-aware; knows nothing of Dagster."""
