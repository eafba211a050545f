"""How long a run of this code location may take: the ``dagster/max_runtime`` tag on every job.

Why a tag and not ``run_monitoring.max_runtime_seconds`` in ``dagster.yaml``: the instance file
cannot read the environment for it, and the limit is a setting of the connector
(``ML_CONNECTOR_MAX_RUNTIME_SECONDS``) like every other. The daemon's run monitoring (enabled in
both instance files) reads the tag: a run still going after that long is terminated through the
run launcher and marked failed, so a hung run (an F&O call that never answers, a stuck lock)
does not hold its connection's pool for ever. What reached Dynamics before that is in the audit
trail, and a replay finishes the partition idempotently.
"""

from ml_connector_dagster.config.settings import ConnectorSettings, current_settings

# Dagster's tag (dagster._core.storage.tags.MAX_RUNTIME_SECONDS_TAG), read by run monitoring.
MAX_RUNTIME_TAG = "dagster/max_runtime"


def runtime_tags(settings: ConnectorSettings | None = None) -> dict[str, str]:
    """The run tags that bound a run's runtime; none when the setting is 0 (no limit)."""
    seconds = (settings or current_settings()).max_runtime_seconds
    return {MAX_RUNTIME_TAG: str(seconds)} if seconds else {}
