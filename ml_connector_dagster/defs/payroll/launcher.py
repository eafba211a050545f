"""Who launched a run, in words for the audit trail ("who triggered each post").

Read from the run's tags: Dagster's own (a sensor, a schedule, a backfill) and the connector's
(``ml-connector`` commands tag their runs with the OS user, the approval sensor request with
the approval it acts on). A run launched from the Launchpad carries none of these: open source
Dagster records no user, so it says so rather than guess.
"""

import getpass
from typing import TypeVar

import dagster as dg

from ml_connector_dagster.audit.store import AuditStore
from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.defs.stale_runs import TRIGGER_TAG
from ml_connector_dagster.dynamics.client import DynamicsClient
from ml_connector_dagster.posting.poster import JournalPoster

P = TypeVar("P", bound=JournalPoster)
OS_USER_TAG = "ml_connector/os_user"
APPROVAL_TAG = "ml_connector/approval"  # "decision 3, approved by Ana Ruiz"
RETRY_TAG = "ml_connector/retry"


def os_user() -> str:
    """The login name of this process (``getpass``: $LOGNAME, $USER, the password database)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def launched_by(tags: dict[str, str]) -> str:
    """One line naming the launcher of a run with these tags."""
    parts = []
    sensor = tags.get("dagster/sensor_name")
    schedule = tags.get("dagster/schedule_name")
    backfill = tags.get("dagster/backfill")
    trigger = tags.get(TRIGGER_TAG, "")
    if sensor:
        parts.append(f"sensor {sensor}")
    elif schedule:
        parts.append(f"schedule {schedule}")
    elif backfill:
        parts.append(f"backfill {backfill}")
    elif trigger.startswith("cli"):
        command = "ml-connector correct" if trigger == "cli-correct" else "ml-connector"
        parts.append(f"{command} CLI, OS user {tags.get(OS_USER_TAG, 'unknown')}")
    elif trigger:
        parts.append(trigger)
    else:
        parts.append("launched from the Dagster UI or API (no user recorded)")
    if tags.get(APPROVAL_TAG):
        parts.append(f"after {tags[APPROVAL_TAG]}")
    if tags.get(RETRY_TAG):
        parts.append(f"retry: {tags[RETRY_TAG]}")
    return "; ".join(parts)


def run_launched_by(run: dg.DagsterRun) -> str:
    return launched_by(dict(run.tags))


def poster_for_run(
    poster_class: type[P],
    context: dg.AssetExecutionContext,
    dynamics: DynamicsClient,
    audit: AuditStore,
    mapping: PayrollMapping,
    requested_by: str = "",
) -> P:
    """The poster (or corrector) a step writes with: every trail row names the Dagster run and
    who launched it (and who asked, for a correction)."""
    who = run_launched_by(context.run)
    return poster_class(
        dynamics,
        audit,
        mapping,
        dagster_run_id=context.run.run_id,
        triggered_by=f"{who}; requested by {requested_by}" if requested_by else who,
    )
