"""The connector resource: the mapping, both clients and the audit store, built at run time.

No secret is a resource field: credentials are resolved from the environment and the
encrypted store inside the run, so they never appear in run config, the UI or the event log.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from ml_connector_dagster.audit.store import AuditStore
from ml_connector_dagster.config.mapping import PayrollMapping, load_mapping
from ml_connector_dagster.config.settings import ConnectorSettings, current_settings
from ml_connector_dagster.connections import Connection
from ml_connector_dagster.dynamics.client import DynamicsClient
from ml_connector_dagster.rippling.client import RipplingClient


class ConnectorResource(dg.ConfigurableResource):
    """One connection: Rippling, Dynamics, the finance mapping, the audit store."""

    mapping_path: str = ""  # default: $ML_CONNECTOR_MAPPING
    audit_url: str = ""  # default: $ML_CONNECTOR_AUDIT_URL or SQLite under DAGSTER_HOME

    # Read once per resource instance (a step, or a sensor tick), so the journals of a step
    # and the checks guarding them are built from the same file even if it changes meanwhile.
    _settings: ConnectorSettings | None = PrivateAttr(default=None)
    _mapping: PayrollMapping | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Tag the run with the process executing it (``stale_runs``), however it was launched.

        Runs of ``ml-connector run`` carry these tags from the start; a run launched by the
        daemon or the UI gets them here, from its run worker (the code location executes steps
        in process), so a worker that dies with its code server is found and freed as well.
        """
        from ml_connector_dagster.defs.stale_runs import process_tags

        run, instance = context.dagster_run, context.instance
        if run is None or instance is None:
            return  # a sensor or a script: no run to tag
        tags = process_tags()
        if any(run.tags.get(key) != value for key, value in tags.items()):
            instance.add_run_tags(run.run_id, tags)

    def settings(self) -> ConnectorSettings:
        if self._settings is None:
            self._settings = current_settings()
        return self._settings

    def mapping(self) -> PayrollMapping:
        """The mapping of this connection, loaded once for this resource instance."""
        if self._mapping is None:
            path = Path(self.mapping_path) if self.mapping_path else None
            self._mapping = load_mapping(self.settings(), path)
        return self._mapping

    def connection(self) -> Connection:
        return Connection.from_environment()

    @contextmanager
    def rippling(self) -> Iterator[RipplingClient]:
        with self.connection().rippling() as client:
            yield client

    @contextmanager
    def dynamics(self) -> Iterator[DynamicsClient]:
        with self.connection().dynamics() as client:
            yield client

    @contextmanager
    def audit(self) -> Iterator[AuditStore]:
        settings = self.settings()
        store = AuditStore(
            self.audit_url or settings.audit_database_url(), connection=settings.connection
        )
        try:
            yield store
        finally:
            store.dispose()
