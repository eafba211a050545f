"""Identifiers, secrets and timestamps drawn from the generator's own random stream.

Everything comes from one ``random.Random(seed)`` so the same arguments give byte-identical
companies; nothing here reads the clock or the global random state.
"""

from __future__ import annotations

import datetime as dt
import random
import string
import uuid

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S+00:00"
_SECRET_ALPHABET = string.ascii_letters + string.digits


class IdFactory:
    """Rippling-looking ids (24 hex digits, like its object ids) and secrets from one stream."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def new(self) -> str:
        return f"{self.rng.getrandbits(96):024x}"

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def secret(self, length: int = 40, prefix: str = "") -> str:
        return prefix + "".join(self.rng.choice(_SECRET_ALPHABET) for _ in range(length))


def timestamp(day: dt.date, seconds: int = 9 * 3600) -> str:
    """A UTC timestamp on ``day``, ``seconds`` after midnight, in the one format used throughout.

    A single fixed-width format keeps string order equal to time order, which the stand-in's
    SQL filters and keyset paging rely on.
    """
    moment = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=seconds)
    return moment.strftime(TIMESTAMP_FORMAT)


def format_timestamp(moment: dt.datetime) -> str:
    """Format an aware or naive-UTC datetime the same way as :func:`timestamp`."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment.strftime(TIMESTAMP_FORMAT)


def dynamics_datetime(day: dt.date) -> str:
    """F&O ``Edm.DateTimeOffset`` at midnight UTC."""
    return f"{day.isoformat()}T00:00:00Z"
