"""How long the poster waits for others and for F&O, from the environment (all optional).

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
import os
from collections.abc import Mapping
from dataclasses import dataclass


class SettingError(ValueError):
    """An environment setting that is not a usable number; the message names it."""


def seconds(env: Mapping[str, str], name: str, default: float, *, minimum: float = 0) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingError(f"{name}={raw!r} is not a number of seconds") from None
    if value < minimum:
        raise SettingError(f"{name}={raw!r} must be at least {minimum:g}")
    return value


@dataclass(frozen=True)
class PostingSettings:
    claim_wait_seconds: float = 600.0
    claim_lease: dt.timedelta = dt.timedelta(seconds=900)
    recheck_seconds: float = 60.0
    recheck_interval_seconds: float = 2.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "PostingSettings":
        return cls(
            claim_wait_seconds=seconds(env, "ML_CONNECTOR_CLAIM_WAIT_SECONDS", 600.0),
            claim_lease=dt.timedelta(
                seconds=seconds(env, "ML_CONNECTOR_CLAIM_LEASE_SECONDS", 900.0, minimum=30)
            ),
            recheck_seconds=seconds(env, "ML_CONNECTOR_RECHECK_SECONDS", 60.0),
            recheck_interval_seconds=seconds(
                env, "ML_CONNECTOR_RECHECK_INTERVAL_SECONDS", 2.0, minimum=0.05
            ),
        )
