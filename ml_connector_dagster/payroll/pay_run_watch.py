"""What the pay-run sensor decides on each tick, without Dagster: where to start, what to request.

The sensor (``defs/payroll/sensors.py``) only reads Rippling and the Dagster instance and turns
these decisions into run requests; the rules live here, tested without Dagster:

- **sync from**: the first pay period considered. Chosen on the first tick and kept in the
  cursor: ``ML_CONNECTOR_SYNC_FROM`` if set, else the newest pay period with a settled (PAID or
  CLOSED) run. Earlier history is posted only by an explicit backfill.
- **which partitions**: the runs of (pay period, company) in a trigger state, exactly as
  ``selection.trigger_groups`` (and so the snapshot) says.
- **run key**: the period, the company, the run ids and a hash of each run's id and state. A
  run that moves to another state (PAID -> CLOSED, or back through DRAFT) gets a new key; an
  unchanged group is never requested twice.

The sensor reads no payroll records. Until issue 12 it read every new run's records to hash
them into the key, and the run then read them all again (517 pages at 50,000 workers). The
hash was taken once per (run, state) and remembered, so records corrected within one state
never changed a key anyway: a correction after posting is the ``correct_ledger`` job's
(``defs/payroll/corrections.py``), not the sensor's. Digests remembered by an earlier release stay
in the cursor and still go into the keys of their (run, state), so an upgrade requests no
partition again.
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.payroll.runs_seen import runs_seen_tag
from ml_connector_dagster.payroll.selection import SETTLED_STATES, run_period, trigger_groups
from ml_connector_dagster.rippling.models import PayrollRun

# Run keys remembered in the cursor (Dagster also refuses a key it launched before).
REQUESTED_KEPT = 5000


@dataclass(frozen=True)
class WatchState:
    """The sensor's cursor: its sync-from date, known digests, requested keys, retry state."""

    sync_from: str | None = None
    # "run_id:state" -> records digest, as earlier releases hashed them (kept for their keys)
    digests: dict[str, str] = field(default_factory=dict)
    requested: tuple[str, ...] = ()  # run keys already requested, oldest first
    retries: dict = field(default_factory=dict)  # defs/payroll/retries.py's own state

    @classmethod
    def from_cursor(cls, cursor: str | None) -> "WatchState":
        raw = json.loads(cursor or "{}")
        return cls(
            sync_from=raw.get("sync_from"),
            digests=dict(raw.get("digests", {})),
            requested=tuple(raw.get("requested", [])),
            retries=dict(raw.get("retries", {})),
        )

    def to_cursor(self) -> str:
        return json.dumps(
            {
                "sync_from": self.sync_from,
                "digests": self.digests,
                "requested": list(self.requested[-REQUESTED_KEPT:]),
                "retries": self.retries,
            }
        )


@dataclass(frozen=True)
class PartitionRequest:
    """One (pay period, company) to post, and the run key that says which data it posts."""

    pay_period: str
    company: str
    run_key: str
    runs_seen: str = ""  # the runs it posts and their states (``runs_seen.RUNS_SEEN_TAG``)


def choose_sync_from(
    remembered: str | None, configured: str | None, runs: Iterable[PayrollRun]
) -> str | None:
    """The cursor's date, else ``configured`` (ML_CONNECTOR_SYNC_FROM), else the newest pay
    period with a settled run; None while no run has settled."""
    if remembered:
        return remembered
    if configured:
        return configured
    settled = [
        period
        for run in runs
        if (run.run_state or "") in SETTLED_STATES and (period := run_period(run)) is not None
    ]
    return max(settled) if settled else None


def run_key(period: str, company: str, group: list[PayrollRun], digests: dict[str, str]) -> str:
    """``period:company:run+run:hash`` of the runs' ids and states (and the records digest an
    earlier release remembered for a (run, state), so its keys stay as they were)."""
    payload = hashlib.sha256(
        "|".join(
            f"{r.id}:{r.run_state}:{digests.get(f'{r.id}:{r.run_state}', '')}" for r in group
        ).encode()
    ).hexdigest()[:12]
    return f"{period}:{company}:{'+'.join(r.id for r in group)}:{payload}"


def new_requests(
    runs: Iterable[PayrollRun],
    mapping: PayrollMapping,
    state: WatchState,
    *,
    since: str,
) -> tuple[list[PartitionRequest], WatchState]:
    """The partitions whose trigger-state runs changed since they were last requested, and the
    state with their keys remembered. Reads nothing: the runs list says it all."""
    requested = list(state.requested)
    found: list[PartitionRequest] = []
    for (period, company), group in trigger_groups(runs, mapping, since=since).items():
        group = sorted(group, key=lambda r: r.id)  # the run key names runs by id
        key = run_key(period, company, group, state.digests)
        if key in requested:
            continue
        found.append(PartitionRequest(period, company, key, runs_seen_tag(group)))
        requested.append(key)
    return found, replace(state, requested=tuple(requested))
