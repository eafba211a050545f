"""The Dagster names that belong to one connection: its pool of Dynamics writers, and its limit.

Payroll posting, corrections and the workforce sync all write to the same F&O environment, so
they share one pool. Pool and dynamic-partition names are global in an instance, so they carry
the connection name (``ML_CONNECTOR_CONNECTION``), read once when the definitions load.

Why the limit is set explicitly (``apply_pool_limits``) and not left to ``concurrency.pools.
default_limit`` in ``dagster.yaml``: when a step claims a slot of a pool the instance has no row
for, Dagster initialises the pool to the default limit itself, and on dagster-postgres 0.29.27
two processes doing that at once crash a run with ``UniqueViolation`` then
``InFailedSqlTransaction`` (upstream issue 33552). A pool whose limit was *set* (not defaulted)
is never initialised again, so every place that starts an instance for this code location (the
code location load, ``ml-connector`` preparing DAGSTER_HOME) sets it first; the yaml default
stays as the fallback for a pool nothing has set yet.
"""

import logging
from dataclasses import dataclass

import dagster as dg
import sqlalchemy.exc
from dagster._core.errors import DagsterHomeNotSetError

from ml_connector_dagster.config.settings import ConnectorSettings, current_settings

log = logging.getLogger(__name__)

CONNECTION = current_settings().connection
# Every step that writes to F&O takes a slot of this pool.
DYNAMICS_POOL = f"dynamics__{CONNECTION}"

# Two processes setting a pool that does not exist yet both try to insert its row; the loser's
# transaction fails with IntegrityError and a retry finds the row (then updates it under a lock).
SET_ATTEMPTS = 5


def dynamics_pool(connection: str) -> str:
    """The pool of the connection's Dynamics writers."""
    return f"dynamics__{connection}"


def pool_limits(settings: ConnectorSettings | None = None) -> dict[str, int]:
    """Every pool of this code location and the limit the settings give it."""
    settings = settings or current_settings()
    return {dynamics_pool(settings.connection): settings.dynamics_pool_limit}


@dataclass(frozen=True)
class PoolLimitChange:
    """What ``apply_pool_limits`` found for one pool and did about it."""

    pool: str
    limit: int
    before: int | None  # None: the instance had no limit for it
    was_default: bool  # the limit came from ``default_limit``, not from a set
    changed: bool


def _current(instance: dg.DagsterInstance, pool: str) -> tuple[int | None, bool, int]:
    """(limit, from the default?, live slots) of ``pool`` as the instance holds it now."""
    storage = instance.event_log_storage
    limits = {p.name: p for p in storage.get_pool_limits()}
    found = limits.get(pool)
    slots = storage.get_concurrency_info(pool).slot_count if found else 0
    return (found.limit, found.from_default, slots) if found else (None, False, 0)


def apply_pool_limits(
    instance: dg.DagsterInstance, limits: dict[str, int] | None = None
) -> list[PoolLimitChange]:
    """Set each pool's limit on ``instance`` unless it already is exactly that (idempotent).

    Safe to call from several processes at once, on SQLite and PostgreSQL: a process whose
    insert lost the race retries and finds the pool set. An instance without pool support
    (no global concurrency limits) is left alone.
    """
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    changes = []
    for pool, limit in sorted((limits if limits is not None else pool_limits()).items()):
        before, was_default, slots = _current(instance, pool)
        if before == limit and not was_default and slots == limit:
            changes.append(PoolLimitChange(pool, limit, before, was_default, changed=False))
            continue
        for attempt in range(1, SET_ATTEMPTS + 1):
            try:
                storage.set_concurrency_slots(pool, limit)
                break
            except sqlalchemy.exc.IntegrityError:
                if attempt == SET_ATTEMPTS:
                    raise
        changes.append(PoolLimitChange(pool, limit, before, was_default, changed=True))
    return changes


def apply_pool_limits_at_load() -> None:
    """Set the pool limits on the instance of ``DAGSTER_HOME`` as the code location loads.

    Every process that serves or runs this code location loads it first (``dagster dev``, the
    code server, each run worker), so the pool is set before any step of it can claim a slot.
    Without DAGSTER_HOME (``dg check defs``, tests) there is no instance to set. A failure is
    logged and does not stop the code location: the yaml's ``default_limit`` still limits the
    pool, only the start-up race is not ruled out then.
    """
    try:
        with dg.DagsterInstance.get() as instance:
            for change in apply_pool_limits(instance):
                if change.changed:
                    log.info(
                        "pool %s: limit %s (was %s%s)",
                        change.pool,
                        change.limit,
                        change.before,
                        ", from default_limit" if change.was_default else "",
                    )
    except DagsterHomeNotSetError:
        return
    except Exception as exc:  # the code location must load regardless
        log.warning("could not set the pool limits at start-up: %s", type(exc).__name__)
