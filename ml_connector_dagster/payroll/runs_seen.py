"""When a company run may take another run's read of Rippling's payroll runs list.

The runs list is company-wide: the pay-run sensor reads it, then every company run it asks for
read it again to find its own runs (13 reads of one list for a 12-company pay period, issue
12). Sharing one read between runs must not lose a pay run that changed after that read, so
the rule is strict:

- only a run the sensor asked for shares: its request names the runs it saw for the partition
  and their states (``RUNS_SEEN_TAG``, ``id:STATE+id:STATE``);
- the shared read must show exactly those runs, in exactly those states, as the partition's
  runs in a trigger state (``selection.runs_for``, the sensor's own rule): then it says what the
  sensor saw, and a run that changed since makes the sensor ask again with other states, which
  the old read does not match;
- and it is at most ``RUNS_LIST_MAX_AGE`` old.

A run from the UI, a backfill, a retry or ``replay`` names nothing and reads the list itself.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.payroll.selection import runs_for
from ml_connector_dagster.rippling.models import PayrollRun

RUNS_SEEN_TAG = "ml_connector/runs_seen"
# How old a shared read of the runs list a sensor's run accepts: about the time its runs take
# to leave the queue; a run that waited longer reads the list itself.
RUNS_LIST_MAX_AGE = dt.timedelta(minutes=5)

RunsSeen = frozenset[tuple[str, str]]  # (run id, run state)


def runs_seen_tag(runs: Iterable[PayrollRun]) -> str:
    """The tag value naming ``runs`` and their states, in id order."""
    return "+".join(f"{run.id}:{run.run_state or ''}" for run in sorted(runs, key=lambda r: r.id))


def parse_runs_seen(text: str | None) -> RunsSeen | None:
    """The runs a tag names, or None when it names none or is not in the tag's form (then the
    run reads the list itself)."""
    if not text:
        return None
    seen = set()
    for item in text.split("+"):
        run_id, colon, state = item.rpartition(":")
        if not colon or not run_id or not state:
            return None
        seen.add((run_id, state))
    return frozenset(seen)


@dataclass(frozen=True)
class RunsListRead:
    """Rippling's payroll runs list as read at ``read_at``."""

    read_at: dt.datetime
    runs: list[PayrollRun] = field(default_factory=list)

    def shows(
        self,
        seen: RunsSeen | None,
        mapping: PayrollMapping,
        pay_period: str,
        company: str,
        now: dt.datetime,
        max_age: dt.timedelta = RUNS_LIST_MAX_AGE,
    ) -> bool:
        """Whether this read may stand for a run asked for with ``seen``: fresh, and showing
        exactly those trigger-state runs of the partition in exactly those states."""
        if seen is None or not dt.timedelta(0) <= now - self.read_at <= max_age:
            return False
        chosen = runs_for(self.runs, mapping, pay_period, company)
        return {(run.id, run.run_state or "") for run in chosen} == seen
