"""A calendar month as finance closes it: ``2026-11``, first and last day."""

import datetime as dt
import re
from dataclasses import dataclass

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> "Month":
        """``2026-11`` (also accepts Dagster's monthly key ``2026-11-01``)."""
        raw = text.strip()
        if len(raw) == 10 and raw.endswith("-01"):
            raw = raw[:7]
        match = _MONTH.match(raw)
        if match is None:
            raise ValueError(f"month {text!r} must look like 2026-11")
        return cls(int(match.group(1)), int(match.group(2)))

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def last_day(self) -> dt.date:
        following = dt.date(self.year + self.month // 12, self.month % 12 + 1, 1)
        return following - dt.timedelta(days=1)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and (day.year, day.month) == (self.year, self.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"
