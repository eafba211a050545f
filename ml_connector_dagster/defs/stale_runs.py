"""Runs whose process died: find them, mark them failed, free their pool slots.

Why this exists: Dagster's DefaultRunLauncher cannot health-check run workers, and a run
executed in a script's own process (``dg.materialize``: ``defs/headless.run_partition``, the
benchmarks) is never checked at all. When the process running a run is killed together with
the code server that started it (SIGKILL of an ``ml-connector run`` and its process group, the
OOM killer, a lost container or SSH session) the run
stays STARTED for ever and keeps the slot its posting step claimed in the
``dynamics__<connection>`` pool (limit 1), so every later run waits "blocked by limit for pool"
for ever. ``run_monitoring.free_slots_after_run_end_seconds`` cannot help: it frees the slots of
runs that have *ended*, and nothing ever ends this one.

So every run the connector executes carries tags naming the process that runs it (host, pid and
the process's start time, so a recycled pid is not taken for the original process). A run is
*dead* when it is not finished, it was run on this host, and its process is gone: no such pid,
a zombie, a pid now belonging to a younger process, or the host rebooted since. Each dead run is
reported failed, with a message in its event log saying what happened, and its pool slots are
freed. A run of a live process, or of another host (we cannot see its processes), is never
touched; ``free_run`` is the operator's tool for those.

``ml-connector run`` and ``replay`` call ``free_dead_runs`` before they start, the pay-run
sensor calls it every tick, and ``ml-connector runs stale --free`` calls it on demand.
"""

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
from dagster._core.events import JobFailureData, RunFailureReason

TRIGGER_TAG = "ml_connector/trigger"
HOST_TAG = "ml_connector/host"
PID_TAG = "ml_connector/pid"
# "<boot id>/<start time in clock ticks since boot>" from /proc; absent where there is no /proc.
PROCESS_START_TAG = "ml_connector/process_start"

# Not finished: these can hold a pool slot or wait for one. QUEUED runs have no process yet (the
# run queue owns them) and are left to Dagster.
UNFINISHED = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


class Process:
    """What we can tell about the process a run's tags name."""

    ALIVE = "alive"
    DEAD = "dead"
    OTHER_HOST = "other host"  # its processes are out of our sight: never touched automatically
    UNTAGGED = "untagged"  # e.g. launched from the UI before this release, or by `dagster` itself


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat from the state on (field 3), or None without /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ...": comm may hold spaces and parentheses; split after the last ")".
    return stat.rpartition(")")[2].split()


def _process_start(pid: int) -> str | None:
    fields = _stat_fields(pid)
    boot = _boot_id()
    if not fields or len(fields) < 20 or not boot:
        return None
    return f"{boot}/{fields[19]}"  # field 22, starttime


def process_tags(pid: int | None = None) -> dict[str, str]:
    """The tags naming this process (or ``pid``) as the one running a run."""
    pid = os.getpid() if pid is None else pid
    tags = {HOST_TAG: socket.gethostname(), PID_TAG: str(pid)}
    start = _process_start(pid)
    if start:
        tags[PROCESS_START_TAG] = start
    return tags


def process_state(tags: dict[str, str], host: str | None = None) -> tuple[str, str]:
    """(``Process.*``, why) for the process a run's tags name, seen from ``host`` (this one)."""
    host = host or socket.gethostname()
    run_host, pid_text = tags.get(HOST_TAG), tags.get(PID_TAG, "")
    if not run_host or not pid_text.isdigit() or int(pid_text) <= 0:
        return Process.UNTAGGED, "no ml-connector process tags"
    pid = int(pid_text)
    if run_host != host:
        return Process.OTHER_HOST, f"process {pid} on host {run_host}"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return Process.DEAD, f"process {pid} no longer exists"
    except PermissionError:
        pass  # exists, owned by another user
    except OverflowError:
        return Process.DEAD, f"pid {pid} cannot exist"
    fields = _stat_fields(pid)
    if fields and fields[0] == "Z":
        return Process.DEAD, f"process {pid} has exited (a zombie)"
    recorded = tags.get(PROCESS_START_TAG)
    if recorded and fields is not None:
        boot = recorded.partition("/")[0]
        if boot != _boot_id():
            return Process.DEAD, f"host {host} rebooted since process {pid} started"
        if recorded != _process_start(pid):
            return Process.DEAD, f"process {pid} exited; the pid now belongs to another process"
    return Process.ALIVE, f"process {pid} is running"


@dataclass(frozen=True)
class SlotUse:
    """One step holding (or waiting for) a slot of a pool, and the run behind it."""

    pool: str
    limit: int | None
    run_id: str
    step_key: str
    holds: bool  # False: waiting for a slot
    run_status: str  # "" when the run no longer exists
    trigger: str
    process: str  # "host:pid" or ""
    process_state: str
    why: str


def slot_uses(instance: dg.DagsterInstance) -> list[SlotUse]:
    """Every claimed slot and every waiting step, in every pool of the instance."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    infos = storage.get_concurrency_infos(sorted(storage.get_concurrency_keys()))
    rows: list[tuple[str, int | None, str, str, bool]] = []
    for pool, info in sorted(infos.items()):
        claimed = {(s.run_id, s.step_key) for s in info.claimed_slots}
        rows.extend((pool, info.limit, run, step, True) for run, step in sorted(claimed))
        rows.extend(
            (pool, info.limit, p.run_id, p.step_key, False)
            for p in info.pending_steps
            if p.assigned_timestamp is None and (p.run_id, p.step_key) not in claimed
        )
    run_ids = sorted({row[2] for row in rows})
    runs = (
        {r.run_id: r for r in instance.get_runs(filters=dg.RunsFilter(run_ids=run_ids))}
        if run_ids
        else {}
    )
    uses = []
    for pool, limit, run_id, step_key, holds in rows:
        run = runs.get(run_id)
        tags = dict(run.tags) if run is not None else {}
        state, why = process_state(tags)
        process = (
            f"{tags[HOST_TAG]}:{tags[PID_TAG]}" if HOST_TAG in tags and PID_TAG in tags else ""
        )
        uses.append(
            SlotUse(
                pool=pool,
                limit=limit,
                run_id=run_id,
                step_key=step_key,
                holds=holds,
                run_status=run.status.value if run is not None else "",
                trigger=tags.get(TRIGGER_TAG, ""),
                process=process,
                process_state=state,
                why=why if run is not None else "the run no longer exists",
            )
        )
    return uses


@dataclass
class DeadRun:
    """A run whose process is gone, and what was (or would be) done about it."""

    run_id: str
    job_name: str
    status: str  # as found
    partition: str
    host: str
    pid: str
    why: str
    slots: list[str] = field(default_factory=list)  # "pool (step)" held or waited for
    marked: str = ""  # "failed" / "canceled" once marked, "" when it had already ended
    freed: bool = False
    by_hand: bool = False  # an operator vouched for it (``free_run``): not seen dead by us

    def describe(self) -> str:
        was = f"was {self.status}"
        did = []
        if self.marked:
            did.append(f"marked {self.marked}")
        if self.freed:
            did.append(f"slots freed: {', '.join(self.slots) or 'none held'}")
        partition = f" {self.partition}" if self.partition else ""
        action = f"; {'; '.join(did)}" if did else ""
        return f"run {self.run_id[:8]}{partition} ({was}): {self.why}{action}"


def _holdings(instance: dg.DagsterInstance) -> dict[str, list[str]]:
    held: dict[str, list[str]] = {}
    for use in slot_uses(instance):
        label = f"{use.pool} ({use.step_key}{'' if use.holds else ', waiting'})"
        held.setdefault(use.run_id, []).append(label)
    return held


def find_dead_runs(instance: dg.DagsterInstance, host: str | None = None) -> list[DeadRun]:
    """Runs of this host whose process is gone and that are unfinished or still hold a slot."""
    host = host or socket.gethostname()
    held = _holdings(instance)
    candidates = {
        r.run_id: r
        for r in instance.get_runs(
            filters=dg.RunsFilter(statuses=UNFINISHED, tags={HOST_TAG: host})
        )
    }
    # Ended runs that still hold a slot (e.g. force-terminated in the UI, or a reaper that died
    # between marking and freeing): freed here too once their process is known to be gone.
    ended = [run_id for run_id in held if run_id not in candidates]
    if ended:
        for run in instance.get_runs(filters=dg.RunsFilter(run_ids=ended, tags={HOST_TAG: host})):
            candidates[run.run_id] = run
    dead = []
    for run in sorted(candidates.values(), key=lambda r: r.run_id):
        tags = dict(run.tags)
        state, why = process_state(tags, host)
        if state != Process.DEAD:
            continue
        dead.append(
            DeadRun(
                run_id=run.run_id,
                job_name=run.job_name,
                status=run.status.value,
                partition=tags.get("dagster/partition", ""),
                host=tags[HOST_TAG],
                pid=tags[PID_TAG],
                why=why,
                slots=held.get(run.run_id, []),
            )
        )
    return dead


def failure_message(dead: DeadRun, actor: str, verb: str = "failed") -> str:
    """What the run's event log says (and the UI shows) when it is marked ended."""
    slots = ", ".join(dead.slots) if dead.slots else "none held"
    if dead.by_hand:
        what = f"{actor} marked this run {verb} by hand: {dead.why}."
    else:
        what = (
            f"The process running this run is gone: {dead.why} (pid {dead.pid} on host"
            f" {dead.host}). {actor} marked the run {verb}."
        )
    return (
        f"{what} It was {dead.status}; its concurrency slots ({slots}) are freed. What reached"
        " Dynamics is in the audit trail (`ml-connector audit`); `ml-connector replay` finishes"
        " the partition idempotently."
    )


def _mark_and_free(instance: dg.DagsterInstance, dead: DeadRun, actor: str) -> DeadRun:
    run = instance.get_run_by_id(dead.run_id)
    if run is not None and not run.is_finished:
        if run.status == dg.DagsterRunStatus.CANCELING:
            instance.report_run_canceled(run, failure_message(dead, actor, "canceled"))
            dead.marked = "canceled"
        else:
            instance.report_run_failed(
                run,
                failure_message(dead, actor),
                JobFailureData(error=None, failure_reason=RunFailureReason.UNEXPECTED_TERMINATION),
            )
            dead.marked = "failed"
    instance.event_log_storage.free_concurrency_slots_for_run(dead.run_id)
    dead.freed = True
    return dead


def _actor(actor: str | None) -> str:
    return f"{actor or 'ml-connector'} (pid {os.getpid()} on {socket.gethostname()})"


def free_dead_runs(
    instance: dg.DagsterInstance, actor: str | None = None, host: str | None = None
) -> list[DeadRun]:
    """Mark every dead run of this host failed and free its slots; returns what was done.

    ``actor`` names who did it in the run's event log (e.g. "ml-connector run").
    """
    return [_mark_and_free(instance, d, _actor(actor)) for d in find_dead_runs(instance, host)]


class RunStillAlive(RuntimeError):
    """``free_run`` refused: the run's process is running on this host."""


def free_run(instance: dg.DagsterInstance, run_id: str, actor: str | None = None) -> DeadRun:
    """An operator frees one run by id: marks it failed if unfinished, frees its slots.

    Refuses (``RunStillAlive``) when its process runs on this host, even if the run was marked
    ended (a run force-terminated in the UI can still be writing). For a run of another
    host, or without process tags, the caller must have made sure its process is gone.
    """
    held = _holdings(instance)
    run = instance.get_run_by_id(run_id)
    if run is None:
        if run_id not in held:
            raise LookupError(f"no run {run_id} in this instance, and it holds no slot")
        dead = DeadRun(run_id, "", "deleted", "", "", "", "the run no longer exists")
        dead.slots = held[run_id]
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)
        dead.freed = True
        return dead
    tags = dict(run.tags)
    state, why = process_state(tags)
    if state == Process.ALIVE:
        raise RunStillAlive(f"run {run_id}: {why} on this host; stop that process first")
    by_hand = state in (Process.OTHER_HOST, Process.UNTAGGED)
    if by_hand:
        why = f"this host cannot see its process ({why})"
    dead = DeadRun(
        run_id=run.run_id,
        job_name=run.job_name,
        status=run.status.value,
        partition=tags.get("dagster/partition", ""),
        host=tags.get(HOST_TAG, "?"),
        pid=tags.get(PID_TAG, "?"),
        why=why,
        slots=held.get(run.run_id, []),
        by_hand=by_hand,
    )
    return _mark_and_free(instance, dead, _actor(actor))
