"""How long the poster waits for others and for F&O (from ``ConnectorSettings``, all optional).

- ``ML_CONNECTOR_CLAIM_WAIT_SECONDS`` (default 600): how long a run waits while another
  process or instance is posting the same journal, before it fails saying who holds it.
- ``ML_CONNECTOR_CLAIM_LEASE_SECONDS`` (default 900): a claim not renewed for this long is
  taken over (a claim of a dead process on the same host is taken over at once). Renewed
  before every write, so it only needs to outlast one changeset.
- ``ML_CONNECTOR_RECHECK_SECONDS`` (default 60) and ``ML_CONNECTOR_RECHECK_INTERVAL_SECONDS``
  (default 2): after a write whose outcome is unknown (gateway timeout, lost connection), how
  long and how often F&O is read again before anything is written again. F&O may still be
  committing a request it already timed out on.
"""

import datetime as dt
from dataclasses import dataclass

from ml_connector_dagster.config.settings import ConnectorSettings


@dataclass(frozen=True)
class PostingSettings:
    claim_wait_seconds: float = 600.0
    claim_lease: dt.timedelta = dt.timedelta(seconds=900)
    recheck_seconds: float = 60.0
    recheck_interval_seconds: float = 2.0

    @classmethod
    def from_settings(cls, settings: ConnectorSettings) -> "PostingSettings":
        return cls(
            claim_wait_seconds=settings.claim_wait_seconds,
            claim_lease=dt.timedelta(seconds=settings.claim_lease_seconds),
            recheck_seconds=settings.recheck_seconds,
            recheck_interval_seconds=settings.recheck_interval_seconds,
        )
