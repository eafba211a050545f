"""The workforce triggers composed without Dagster, for tests of the sync behind them."""

import datetime as dt
from dataclasses import dataclass

from ml_connector_dagster.audit.store import AuditStore
from ml_connector_dagster.dynamics.client import DynamicsClient
from ml_connector_dagster.ledger.mapping import PayrollMapping
from ml_connector_dagster.rippling.client import RipplingClient
from ml_connector_dagster.workforce.settings import WorkforceSettings
from ml_connector_dagster.workforce.sync import SyncOutcome, sync_workers
from ml_connector_dagster.workforce.triggers import (
    PollCursor,
    inbox_worker_ids,
    poll_changes,
    reread_workers,
)


@dataclass
class Drained:
    events: int
    workers: int
    outcome: SyncOutcome | None


def drain(
    store: AuditStore,
    *,
    rippling: RipplingClient,
    dynamics: DynamicsClient,
    mapping: PayrollMapping,
    settings: WorkforceSettings,
    today: dt.date | None = None,
) -> Drained:
    """What the webhook sensor and the workforce assets do together, without Dagster: pending
    events -> the workers they name, re-read -> one sync -> events marked processed."""
    pending = store.pending_webhooks()
    if not pending:
        return Drained(0, 0, None)
    ids = inbox_worker_ids(pending)
    reread = reread_workers(rippling, ids)
    outcome = sync_workers(
        reread.workers,
        dynamics=dynamics,
        store=store,
        mapping=mapping,
        settings=settings,
        today=today,
        gone=reread.gone,
    )
    if outcome.result is not None and outcome.result.ok:
        store.mark_webhooks_processed(row["id"] for row in pending)
    return Drained(len(pending), len(ids), outcome)


def sync_by_polling(
    cursor: PollCursor | None,
    *,
    rippling: RipplingClient,
    dynamics: DynamicsClient,
    store: AuditStore,
    mapping: PayrollMapping,
    settings: WorkforceSettings,
    today: dt.date | None = None,
) -> tuple[SyncOutcome, PollCursor]:
    """What the poll sensor and the workforce assets do together, without Dagster."""
    polled = poll_changes(rippling, cursor)
    outcome = sync_workers(
        polled.workers,
        dynamics=dynamics,
        store=store,
        mapping=mapping,
        settings=settings,
        today=today,
        full=polled.full,
        gone=polled.gone,
    )
    return outcome, polled.cursor
