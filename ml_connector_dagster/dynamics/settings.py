"""Dynamics client settings from the environment (all optional).

- ``ML_CONNECTOR_DYNAMICS_CHANGESET_SIZE`` (default 1000, at most 5000): journal lines per
  atomic ``$batch`` changeset. Smaller commits sooner and times out less; a journal larger than
  this is written in several changesets, each resumable by its fixed line numbers.
- ``ML_CONNECTOR_DYNAMICS_BATCH_TIMEOUT_SECONDS`` (default 900): how long to wait for a
  ``$batch`` answer. F&O answers only after the whole changeset is validated and committed.
"""

import os
from collections.abc import Mapping
from typing import Any

import httpx

from ml_connector_dagster.dynamics import batch as batch_codec
from ml_connector_dagster.dynamics.client import DEFAULT_BATCH_TIMEOUT, DEFAULT_CHANGESET_SIZE


class DynamicsSettingError(ValueError):
    """A Dynamics setting that cannot be used; the message names the variable."""


def client_settings(env: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Keyword arguments for ``DynamicsClient`` from the environment."""
    settings: dict[str, Any] = {}
    raw = env.get("ML_CONNECTOR_DYNAMICS_CHANGESET_SIZE", "").strip()
    if raw:
        if not raw.isdigit() or not 1 <= int(raw) <= batch_codec.MAX_OPERATIONS:
            raise DynamicsSettingError(
                f"ML_CONNECTOR_DYNAMICS_CHANGESET_SIZE={raw!r} must be a whole number from 1 to"
                f" {batch_codec.MAX_OPERATIONS}"
            )
        settings["changeset_size"] = int(raw)
    else:
        settings["changeset_size"] = DEFAULT_CHANGESET_SIZE
    raw = env.get("ML_CONNECTOR_DYNAMICS_BATCH_TIMEOUT_SECONDS", "").strip()
    if raw:
        try:
            seconds = float(raw)
        except ValueError:
            seconds = -1
        if seconds < 10:
            raise DynamicsSettingError(
                f"ML_CONNECTOR_DYNAMICS_BATCH_TIMEOUT_SECONDS={raw!r} must be a number of"
                " seconds, at least 10"
            )
        settings["batch_timeout"] = httpx.Timeout(seconds, connect=10.0)
    else:
        settings["batch_timeout"] = DEFAULT_BATCH_TIMEOUT
    return settings
