"""Submit a run of a real job through the instance's run queue and follow it to its end.

Why: the commands (`ml-connector run`, `replay`, `correct`, `workforce sync`) are a front door to
Dagster, not a second engine. A run submitted here is created the way `dagster job launch` and
the UI create one (the job's snapshot and execution plan from the code location, the job's name,
its partition tags) and handed to ``instance.submit_run``: it shows under its job name on the
Overview timeline, counts against ``max_concurrent_runs``, and executes in a run worker launched
by the instance's run launcher, never in the command's process.

The code location is served to this process by a code server it starts (``ModuleTarget`` under
``LOCATION_NAME``, or ``LOCATION_NAME__<connection>`` for a connection of a connections file
(``naming.location_name``): the one name ``workspace.yaml``, ``[tool.dagster]``, ``[tool.dg]`` and
``ml-connector-dev`` use too, so the daemon finds a submitted run's location and sensor cursors
carry over). Dagster 1.13 has no public Python API for this; these are the calls its own
``dagster job launch`` makes (``dagster._cli.job``), kept in this one module.

The queue. With the ``QueuedRunCoordinator`` (this project's instances: both templates set
``concurrency.runs``) a submitted run is QUEUED and the daemon dequeues it. When the daemon is
running (a fresh heartbeat), the command waits for it, saying so. When no daemon runs (a SQLite
instance on one machine without ``dagster dev``), the command dequeues *its own* run the way the
daemon does (a STARTING event, then the run launcher) once fewer than ``max_concurrent_runs``
runs are in progress, printing why it waits; it never dequeues anyone else's run. If a daemon's
heartbeat goes stale while our run waits for it, following stops with ``QueueStalled`` (the run
stays queued, for the daemon to start when it is back).
"""

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import dagster as dg

from ml_connector_dagster import clock
from ml_connector_dagster.defs import naming

LOCATION_NAME = naming.BASE_LOCATION_NAME
DEFINITIONS_MODULE = "ml_connector_dagster.definitions"
QUEUE_DAEMON = "QUEUED_RUN_COORDINATOR"
POLL_SECONDS = 0.5


class SubmitError(RuntimeError):
    """The code location could not be loaded, or the job is not in it."""


class QueueStalled(RuntimeError):
    """The run waits in the queue for a daemon whose heartbeat stopped."""


@dataclass(frozen=True)
class QueueState:
    """Why a submitted run is still waiting, for the progress line."""

    run_id: str
    in_progress: int
    limit: int | None
    by_daemon: bool

    def describe(self) -> str:
        limit = f" of {self.limit}" if self.limit is not None else ""
        text = f"queued: {self.in_progress}{limit} runs in progress, waiting for "
        if self.by_daemon:
            return text + "the Dagster daemon to start it"
        return (
            text + "a free run slot (no Dagster daemon runs; `ml-connector runs stale` lists"
            " runs whose process died)"
        )


def code_location_target():
    """The workspace load target of this connection's code location (``naming.location_name``)."""
    from dagster._core.workspace.load_target import ModuleTarget

    return ModuleTarget(
        module_name=DEFINITIONS_MODULE,
        attribute=None,
        working_directory=None,
        location_name=naming.location_name(),
    )


@contextmanager
def code_location(instance: dg.DagsterInstance, log_level: str = "warning") -> Iterator[object]:
    """A workspace process context serving this project's code location (a code server child).

    The code server and the run workers it starts inherit this process's stdout and stderr at
    the moment the context is entered (see ``cli/noise.py``, which points them at a log file).
    """
    from dagster import __version__
    from dagster._core.workspace.context import WorkspaceProcessContext

    with WorkspaceProcessContext(
        instance,
        code_location_target(),
        version=__version__,
        read_only=False,
        code_server_log_level=log_level,
    ) as context:
        yield context


def submit_job_run(
    workspace_context,
    job_name: str,
    *,
    tags: Mapping[str, str],
    run_config: Mapping[str, object] | None = None,
) -> dg.DagsterRun:
    """Create a run of ``job_name`` as `dagster job launch` does and submit it to the queue."""
    instance: dg.DagsterInstance = workspace_context.instance
    request = workspace_context.create_request_context()
    location_name = naming.location_name()
    error = request.get_code_location_error(location_name)
    if error is not None:
        raise SubmitError(f"code location {location_name} failed to load: {error.message}")
    location = request.get_code_location(location_name)
    [repository] = location.get_repositories().values()
    if not repository.has_job(job_name):
        raise SubmitError(f"code location {location_name} has no job {job_name}")
    remote_job = repository.get_full_job(job_name)
    config = dict(run_config or {})
    plan = location.get_execution_plan(
        remote_job, config, step_keys_to_execute=None, known_state=None, instance=instance
    ).execution_plan_snapshot
    run = instance.create_run(
        job_name=job_name,
        run_id=None,
        run_config=config,
        resolved_op_selection=None,
        step_keys_to_execute=plan.step_keys_to_execute,
        op_selection=None,
        status=None,
        root_run_id=None,
        parent_run_id=None,
        tags={**remote_job.tags, **tags},
        job_snapshot=remote_job.job_snapshot,
        execution_plan_snapshot=plan,
        parent_job_snapshot=remote_job.parent_job_snapshot,
        remote_job_origin=remote_job.get_remote_origin(),
        job_code_origin=remote_job.get_python_origin(),
        asset_selection=None,
        asset_check_selection=None,
        asset_graph=repository.asset_graph,
    )
    return instance.submit_run(run.run_id, request)


def daemon_alive(instance: dg.DagsterInstance) -> bool:
    """Whether the daemon that dequeues runs has a fresh heartbeat in this instance."""
    from dagster._daemon.controller import get_daemon_statuses

    status = get_daemon_statuses(instance, [QUEUE_DAEMON], ignore_errors=True).get(QUEUE_DAEMON)
    return bool(status and status.healthy)


def _queue_limit(instance: dg.DagsterInstance) -> int | None:
    queue = instance.get_concurrency_config().run_queue_config
    return queue.max_concurrent_runs if queue is not None else None


def _in_progress(instance: dg.DagsterInstance, but: str) -> int:
    from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES

    runs = instance.get_run_records(filters=dg.RunsFilter(statuses=IN_PROGRESS_RUN_STATUSES))
    return sum(1 for r in runs if r.dagster_run.run_id != but)


def _dequeue_own(workspace_context, run: dg.DagsterRun) -> None:
    """What the daemon does to a queued run it picks: a STARTING event, then the launcher."""
    from dagster._core.events import DagsterEvent, DagsterEventType
    from dagster._core.launcher import LaunchRunContext

    instance: dg.DagsterInstance = workspace_context.instance
    instance.report_dagster_event(
        DagsterEvent(
            event_type_value=DagsterEventType.PIPELINE_STARTING.value, job_name=run.job_name
        ),
        run_id=run.run_id,
    )
    started = instance.get_run_by_id(run.run_id)
    assert started is not None
    instance.run_launcher.launch_run(
        LaunchRunContext(dagster_run=started, workspace=workspace_context.create_request_context())
    )


def follow_run(
    workspace_context,
    run_id: str,
    on_event: Callable[[object], None],
    on_queue: Callable[[QueueState], None] | None = None,
    poll_seconds: float = POLL_SECONDS,
) -> dg.DagsterRun:
    """Wait for the run to end, handing every new event record's ``dagster_event`` to
    ``on_event`` in order; dequeue it ourselves when no daemon runs (module docstring)."""
    instance: dg.DagsterInstance = workspace_context.instance
    cursor = None
    daemon_seen = daemon_alive(instance)
    last_state: QueueState | None = None
    while True:
        run = instance.get_run_by_id(run_id)
        assert run is not None, f"run {run_id} vanished"
        while True:
            page = instance.get_records_for_run(run_id, cursor=cursor, limit=500)
            for record in page.records:
                event = record.event_log_entry.dagster_event
                if event is not None:
                    on_event(event)
            cursor = page.cursor
            if not page.has_more:
                break
        if run.is_finished:
            return run
        if run.status == dg.DagsterRunStatus.QUEUED:
            in_progress = _in_progress(instance, run_id)
            limit = _queue_limit(instance)
            alive = daemon_alive(instance)
            if daemon_seen and not alive:
                raise QueueStalled(
                    f"run {run_id} is queued and the Dagster daemon of this instance stopped"
                    " sending heartbeats: the run stays queued and starts when the daemon is back"
                    " (`dagster-daemon run`, or `dagster dev`)"
                )
            daemon_seen = daemon_seen or alive
            state = QueueState(run_id, in_progress, limit, by_daemon=alive)
            if not alive and (limit is None or in_progress < limit):
                _dequeue_own(workspace_context, run)
            elif on_queue is not None and state != last_state:
                on_queue(state)
            last_state = state
        clock.sleep(poll_seconds)
