"""The Dagster names of this code location's connection: asset keys, groups, jobs, automations.

One Dagster instance may serve several connections (a connections file,
``connections_file.py``), one code location each. Asset keys, pools and dynamic
partitions are global in an instance, and the UI lists jobs and sensors of every location side
by side, so a connection of a connections file prefixes them all with its name:
``acme/ledger/labor_cost_journals`` in group ``acme__payroll``, job ``acme__payroll_to_ledger``,
code location ``ml_connector_dagster__acme``. Stored step outputs follow the asset keys, so
they never mix either.

A deployment of one connection (no connections file) keeps the unprefixed names it always had:
its materializations, sensor cursors and schedules stay where they are.

Read once, when the definitions load: a process serves one connection
(``apply_selected_connection`` ran before this module was imported, see ``definitions.py``).
Commands import it only after ``--connection`` is applied (``cli/__init__.py``).
"""

import dagster as dg

from ml_connector_dagster.config.settings import (
    BASE_LOCATION_NAME,
    ConnectorSettings,
    current_settings,
)

__all__ = ["BASE_LOCATION_NAME"]


def location_name(settings: ConnectorSettings | None = None) -> str:
    """The code location of the connection (``workspace.yaml``, the commands' code server);
    read when called, so a command's ``--connection`` is already applied."""
    return (settings or current_settings()).location_name()


_SETTINGS = current_settings()
PREFIX = _SETTINGS.name_prefix()
KEY_PREFIX: list[str] = [] if PREFIX is None else [PREFIX]
# The commands, as messages of this code location tell an operator to call them.
COMMAND = _SETTINGS.command()


def asset_key(*path: str) -> dg.AssetKey:
    """The connection's asset key for ``path`` (``("ledger", "labor_cost_journals")``)."""
    return dg.AssetKey([*KEY_PREFIX, *path])


def key_prefix(*path: str) -> list[str]:
    """A ``key_prefix=`` for an asset decorator: the connection's prefix, then ``path``."""
    return [*KEY_PREFIX, *path]


def name(base: str) -> str:
    """A job, sensor, schedule or group name of the connection."""
    return _SETTINGS.dagster_name(base)


def own_run(run: dg.DagsterRun) -> bool:
    """Whether ``run`` belongs to this connection's code location.

    Partition keys (``USMF|2026-11-15``) are the same in every connection serving a company
    called USMF, so a query by partition tag alone would see the other connection's runs: its
    failure would be replayed here, its busy run would hold back a retry here. With one
    connection per instance every run is its own (runs of ``materialize`` in tests have no
    code location at all).
    """
    if PREFIX is None:
        return True
    origin = run.remote_job_origin
    return origin is not None and origin.location_name == location_name(_SETTINGS)
