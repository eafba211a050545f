"""A year's backfill of every pay period x company through a real Dagster daemon on PostgreSQL
(issue 14: "a backfill of a year of pay periods for all companies finishes with the run count
and time the README states").

.venv/bin/python -m benchmarks.backfill_year --workers 400 --legal-entities 3 --year --latency-ms 50

What it starts, all torn down at the end (also on Ctrl-C or SIGTERM):

- the sandbox in its own process (``benchmarks/sandbox_process.py``) with a company whose pay
  calendar holds ``--periods`` bi-weekly periods (``--year``: 26, a year), the newest period's
  APPROVED runs made PAID first (pay day), and ``--latency-ms`` added to every request;
- a Dagster instance on a new PostgreSQL database from the shipped ``dagster.postgres.yaml``
  (``QueuedRunCoordinator``, ``max_concurrent_runs`` 10, pool granularity ``run``, the Dynamics
  pool at one slot) and an audit database beside it (``benchmarks/concurrent_runs.py``); step
  outputs kept in the audit database (``ML_CONNECTOR_STORAGE_URL=audit``) as ``deploy/`` does.
  Both databases are dropped afterwards;
- ``dagster-daemon run -w workspace.yaml``: the run queue, the backfill daemon and the code
  location's own code server, which starts each run worker. The pay periods and companies are
  added as dynamic partitions first, as the pay-run sensor and the mapping would have.

Then ONE asset backfill of the payroll job's three assets over every (pay period, company) with
something to post, launched the way the UI launches it: the GraphQL mutation
``launchPartitionBackfill`` (``dagster_graphql.client.query.LAUNCH_PARTITION_BACKFILL_MUTATION``)
executed on Dagster's own GraphQL schema against a workspace of this code location, in this
process (``DagsterGraphQLClient`` has no backfill call, and a webserver would add only HTTP).
The backfill daemon turns it into one run per partition (``BackfillPolicy.multi_run(1)``), the
queue daemon starts them under the pool limits; the benchmark waits (bounded by
``--timeout-s``) until the backfill reaches a terminal status.

Printed: partitions, runs launched, succeeded and failed, wall time (the backfill's own
timestamps, and the first run's start to the last run's end), peak runs in progress at once
(from the runs' start and end times), the journals F&O gained (each identity must be one
header: at these sizes no journal reaches ``max_lines_per_journal``), requests per service as
the sandbox counts them against the minimum computed from the data
(``benchmarks/minimal_requests.py``), and the sandbox's CPU; one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import dagster as dg
from rich.console import Console
from rich.table import Table

from benchmarks.concurrent_runs import postgres_instance
from benchmarks.minimal_requests import CompanyShape, journals_written, minimal_requests
from benchmarks.payperiod import SERVICES, fo_journals, sandbox_process
from ml_connector_dagster import clock
from ml_connector_dagster.config.settings import current_settings
from ml_connector_dagster.defs.payroll.assets import (
    labor_cost_journals,
    payroll_cost_snapshot,
    posted_journals,
)
from ml_connector_dagster.defs.payroll.partitions import (
    legal_entities,
    partition_key,
    pay_periods,
    run_partition_key,
)
from ml_connector_dagster.defs.submit import QUEUE_DAEMON, code_location

ROOT = Path(__file__).resolve().parent.parent
WORKSPACE = ROOT / "workspace.yaml"
YEAR_PERIODS = 26  # bi-weekly, the sandbox's pay calendar
BACKFILL_DAEMON = "BACKFILL"
BACKFILL_TAG = "dagster/backfill"
PAYROLL_ASSETS = (payroll_cost_snapshot.key, labor_cost_journals.key, posted_journals.key)
TERMINAL = {
    "COMPLETED",
    "COMPLETED_SUCCESS",
    "COMPLETED_FAILED",
    "FAILED",
    "CANCELED",
}


class Stopped(Exception):
    """SIGTERM: unwind like Ctrl-C so the daemon is stopped and the databases dropped."""


def _on_sigterm(_signum: int, _frame: Any) -> None:
    raise Stopped("SIGTERM")


# --- the daemon -----------------------------------------------------------------------------------
@contextlib.contextmanager
def running_daemon(home: Path, log: Path, timeout_s: float = 180) -> Iterator[subprocess.Popen]:
    """``dagster-daemon run`` on this process's environment, in a process group of its own (its
    code server and the run workers that server starts are in it), healthy before yielding;
    stopped with SIGTERM to that group, then SIGKILL if it has not ended within 60 s."""
    daemon_bin = Path(sys.executable).parent / "dagster-daemon"
    with log.open("w") as out:
        daemon = subprocess.Popen(
            [str(daemon_bin), "run", "-w", str(WORKSPACE)],
            env=dict(os.environ),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=home,
            start_new_session=True,  # its own group: stopping it stops its children too
        )
    try:
        from dagster._daemon.controller import get_daemon_statuses

        deadline = time.monotonic() + timeout_s
        with dg.DagsterInstance.get() as instance:
            while True:
                statuses = get_daemon_statuses(instance, [QUEUE_DAEMON, BACKFILL_DAEMON])
                if all(status.healthy for status in statuses.values()):
                    break
                if daemon.poll() is not None:
                    raise RuntimeError(f"dagster-daemon ended ({daemon.returncode}); see {log}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"dagster-daemon not healthy after {timeout_s} s; see {log}")
                clock.sleep(0.5)
        yield daemon
    finally:
        _stop_group(daemon)


def _stop_group(process: subprocess.Popen) -> None:
    """SIGTERM to the daemon's group (our own child's, by its pid), SIGKILL after 60 s."""
    for sig, wait_s in ((signal.SIGTERM, 60.0), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        deadline = time.monotonic() + wait_s
        while process.poll() is None and time.monotonic() < deadline:
            clock.sleep(0.2)
        if process.poll() is not None:
            # The group may outlive its leader for a moment (a run worker ending).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            return


# --- the backfill ---------------------------------------------------------------------------------
def launch_backfill(instance: dg.DagsterInstance, partitions: list[str], title: str) -> str:
    """The UI's ``launchPartitionBackfill`` mutation, run on Dagster's GraphQL schema against a
    workspace of this code location; the backfill's id."""
    from dagster_graphql.client.query import LAUNCH_PARTITION_BACKFILL_MUTATION
    from dagster_graphql.schema import create_schema

    params = {
        "assetSelection": [{"path": list(key.path)} for key in PAYROLL_ASSETS],
        "partitionNames": partitions,
        "title": title,
        "tags": [{"key": "ml_connector/benchmark", "value": "backfill_year"}],
    }
    with code_location(instance) as workspace:
        result = asyncio.run(
            create_schema().execute_async(
                LAUNCH_PARTITION_BACKFILL_MUTATION,
                context_value=workspace.create_request_context(),
                variable_values={"backfillParams": params},
            )
        )
    if result.errors:
        raise RuntimeError(f"launchPartitionBackfill: {result.errors[0]}")
    answer = result.data["launchPartitionBackfill"]
    if answer["__typename"] != "LaunchBackfillSuccess":
        raise RuntimeError(f"launchPartitionBackfill: {answer.get('message', answer)}")
    return str(answer["backfillId"])


@dataclass
class Outcome:
    status: str
    seconds: float  # launch to the terminal status, as this process saw it
    backfill_s: float | None  # the backfill's own timestamps
    runs: list[dg.RunRecord]
    created: float  # the backfill's timestamp (epoch seconds)
    ended: float | None


def wait_for_backfill(
    instance: dg.DagsterInstance, backfill_id: str, timeout_s: float, console: Console
) -> Outcome:
    """Poll the backfill (every second) until a terminal status or ``timeout_s``."""
    started = time.perf_counter()
    deadline = time.monotonic() + timeout_s
    last = ""
    while True:
        backfill = instance.get_backfill(backfill_id)
        assert backfill is not None
        status = backfill.status.value
        runs = instance.get_run_records(filters=dg.RunsFilter(tags={BACKFILL_TAG: backfill_id}))
        done = sum(r.dagster_run.is_finished for r in runs)
        line = f"{status}: {len(runs)} runs launched, {done} finished"
        if line != last:
            console.print(f"[{time.perf_counter() - started:7.1f} s] {line}")
            last = line
        if status in TERMINAL or time.monotonic() > deadline:
            end = backfill.backfill_end_timestamp
            return Outcome(
                status if status in TERMINAL else f"TIMED OUT ({status})",
                time.perf_counter() - started,
                end - backfill.backfill_timestamp if end else None,
                runs,
                backfill.backfill_timestamp,
                end,
            )
        clock.sleep(1.0)


@dataclass
class Measured:
    """What the backfill's measurement read: the outcome, the sandbox's counts and CPU, F&O
    before and after."""

    outcome: Outcome
    counts: dict[str, Any]
    usage: dict[str, float] | None
    finished: dict[str, float] | None
    before: dict[tuple[str, str], tuple[str, int]]
    after: dict[tuple[str, str], tuple[str, int]]
    dynamics_page: int


def peak_in_progress(runs: list[dg.RunRecord]) -> int:
    """The most runs between their start and end at one moment (from their timestamps)."""
    edges: list[tuple[float, int]] = []
    for record in runs:
        if record.start_time is None:
            continue
        edges.append((record.start_time, 1))
        edges.append((record.end_time or float("inf"), -1))
    peak = now = 0
    for _, step in sorted(edges):  # an end sorts before a start at the same instant
        now += step
        peak = max(peak, now)
    return peak


def _mean_gap(runs: list[dg.RunRecord]) -> float | None:
    """Mean seconds from one run's end to the next run's start (runs in start order)."""
    spans = sorted((r.start_time, r.end_time) for r in runs if r.start_time and r.end_time)
    gaps = [b[0] - a[1] for a, b in pairwise(spans)]
    return round(sum(gaps) / len(gaps), 1) if gaps else None


# --- the measurement ------------------------------------------------------------------------------
def _sandbox_args(args: argparse.Namespace, periods: int) -> argparse.Namespace:
    return argparse.Namespace(
        workers=args.workers,
        legal_entities=args.legal_entities,
        departments=args.departments,
        pay_periods=periods,
        backfill_periods=0,
        seed=args.seed,
    )


def measure(args: argparse.Namespace, root: Path, console: Console) -> dict[str, Any]:
    periods = YEAR_PERIODS if args.year else args.periods
    data_dir = args.data_dir or root / "sandbox"
    notes: list[str] = []
    with sandbox_process(_sandbox_args(args, periods), data_dir) as sandbox:
        os.environ.update(sandbox.env)
        shape = CompanyShape.from_summary(sandbox.summary)
        newest = shape.periods()[0]
        waiting = [
            r.id
            for r in shape.runs
            if r.period == newest and r.company is not None and r.state == "APPROVED"
        ]
        sandbox.pay(waiting)
        shape = shape.paid(waiting)
        if waiting:
            notes.append(f"pay day: {len(waiting)} APPROVED run(s) of {newest} made PAID")
        year = sorted(shape.periods())
        wanted = shape.partitions(year)
        console.print(
            f"sandbox ready in {sandbox.ready_s} s: {len(year)} pay periods"
            f" ({year[0]} .. {year[-1]}), {len(shape.companies)} companies,"
            f" {len(wanted)} partitions to backfill"
        )
        with postgres_instance(root / "dagster_home") as pg:
            os.environ["ML_CONNECTOR_AUDIT_URL"] = pg.audit_url
            os.environ["ML_CONNECTOR_STORAGE_URL"] = "audit"
            instance = pg.instance
            databases = [os.environ["DAGSTER_PG_DB"], pg.audit_url.rsplit("/", 1)[1]]
            instance.add_dynamic_partitions(pay_periods.name, year)
            instance.add_dynamic_partitions(legal_entities.name, sorted(shape.companies))
            log = root / "daemon.log"
            try:
                with running_daemon(root / "dagster_home", log):
                    console.print("dagster-daemon healthy (queue, backfill)")
                    before = fo_journals()
                    sandbox.set_latency(args.latency_ms)
                    sandbox.reset_counts()
                    usage = sandbox.usage()
                    keys = [str(partition_key(p, c)) for p, c in wanted]
                    backfill_id = launch_backfill(
                        instance, keys, f"benchmark: {len(year)} pay periods"
                    )
                    console.print(f"backfill {backfill_id} launched: {len(keys)} partitions")
                    outcome = wait_for_backfill(instance, backfill_id, args.timeout_s, console)
                    counts = sandbox.counts()
                    finished = sandbox.usage()
                    sandbox.set_latency(0)
                    after = fo_journals()
            except BaseException:
                if log.exists():
                    console.print(f"daemon log (last lines):\n{log.read_text()[-4000:]}")
                raise
            if args.keep_log:
                args.keep_log.write_text(log.read_text())
    measured = Measured(outcome, counts, usage, finished, before, after, sandbox.dynamics_page_size)
    return _result(args, shape, year, wanted, measured) | {
        "sandbox_ready_s": sandbox.ready_s,
        "databases_dropped": databases,
        "notes": notes,
    }


def _result(
    args: argparse.Namespace,
    shape: CompanyShape,
    year: list[str],
    wanted: list[tuple[str, str]],
    measured: Measured,
) -> dict[str, Any]:
    outcome, counts, usage, finished = (
        measured.outcome,
        measured.counts,
        measured.usage,
        measured.finished,
    )
    runs = outcome.runs
    statuses = [r.dagster_run.status for r in runs]
    starts = [r.start_time for r in runs if r.start_time is not None]
    ends = [r.end_time for r in runs if r.end_time is not None]
    journals = journals_written(measured.before, measured.after)
    run_partitions = [run_partition_key(r.dagster_run.tags) for r in runs]
    minimum = minimal_requests(
        shape,
        year,
        journals,
        changeset_size=current_settings().dynamics_changeset_size,
        dynamics_page=measured.dynamics_page,
    )
    return {
        "workers": args.workers,
        "legal_entities": args.legal_entities,
        "companies": len(shape.companies),
        "latency_ms": args.latency_ms,
        "pay_periods": len(year),
        "first_period": year[0],
        "last_period": year[-1],
        "partitions": len(wanted),
        "backfill_status": outcome.status,
        "runs_launched": len(runs),
        "runs_succeeded": statuses.count(dg.DagsterRunStatus.SUCCESS),
        "runs_failed": statuses.count(dg.DagsterRunStatus.FAILURE),
        "runs_other": len(runs)
        - statuses.count(dg.DagsterRunStatus.SUCCESS)
        - statuses.count(dg.DagsterRunStatus.FAILURE),
        "runs_distinct_partitions": len({key for key in run_partitions if key}),
        "runs_of_one_partition": sum(key is not None for key in run_partitions),
        "wall_s": round(outcome.seconds, 1),
        "backfill_s": None if outcome.backfill_s is None else round(outcome.backfill_s, 1),
        "runs_span_s": round(max(ends) - min(starts), 1) if starts and ends else None,
        "mean_run_s": round(
            sum(r.end_time - r.start_time for r in runs if r.start_time and r.end_time)
            / max(1, len(ends)),
            1,
        ),
        # Where the wall goes besides the runs: the backfill daemon's first pass, the gaps the
        # queue leaves between one run's end and the next one's start, the daemon's last pass.
        "first_run_start_after_s": round(min(starts) - outcome.created, 1) if starts else None,
        "mean_gap_between_runs_s": _mean_gap(runs),
        "completed_after_last_run_s": (
            round(outcome.ended - max(ends), 1) if ends and outcome.ended else None
        ),
        "peak_runs_in_progress": peak_in_progress(runs),
        "payroll_runs": len(shape.posted_runs(year)),
        "journal_identities": len(journals),
        "journal_headers": sum(len(j.parts) for j in journals),
        "identities_with_several_headers": sum(len(j.parts) > 1 for j in journals),
        "journal_lines": sum(j.lines for j in journals),
        "requests_by_service": {s: counts.get("totals", {}).get(s, 0) for s in SERVICES},
        "requests_total": counts.get("total", 0),
        "requests": counts.get("requests", {}),
        "minimal_requests_by_service": minimum.by_service,
        "minimal_requests_total": minimum.total,
        "sandbox_cpu_s": (
            round(finished["cpu_s"] - usage["cpu_s"], 1) if usage and finished else None
        ),
    }


def print_table(console: Console, result: dict[str, Any]) -> None:
    table = Table(
        title=f"a backfill of {result['pay_periods']} pay periods: {result['workers']:,} workers,"
        f" {result['companies']} companies, {result['latency_ms']} ms per request"
    )
    table.add_column("")
    table.add_column("", justify="right")
    rows = [
        ("backfill status", result["backfill_status"]),
        ("partitions", result["partitions"]),
        (
            "runs launched / succeeded / failed",
            f"{result['runs_launched']} / {result['runs_succeeded']} / {result['runs_failed']}",
        ),
        ("wall s (backfill's own)", f"{result['wall_s']} ({result['backfill_s']})"),
        ("first run start to last run end s", result["runs_span_s"]),
        ("mean run s", result["mean_run_s"]),
        ("first run started after s", result["first_run_start_after_s"]),
        ("mean gap between runs s", result["mean_gap_between_runs_s"]),
        ("completed after the last run s", result["completed_after_last_run_s"]),
        ("peak runs in progress", result["peak_runs_in_progress"]),
        ("payroll runs posted", result["payroll_runs"]),
        (
            "journal identities / headers (several)",
            f"{result['journal_identities']} / {result['journal_headers']}"
            f" ({result['identities_with_several_headers']})",
        ),
        ("journal lines", f"{result['journal_lines']:,}"),
        (
            "requests / minimum",
            f"{result['requests_total']:,} / {result['minimal_requests_total']:,}",
        ),
        *(
            (
                f"  {service}",
                f"{result['requests_by_service'][service]:,}"
                f" / {result['minimal_requests_by_service'].get(service, 0):,}",
            )
            for service in SERVICES
        ),
        ("sandbox cpu s", result["sandbox_cpu_s"]),
    ]
    for label, value in rows:
        table.add_row(label, str(value))
    console.print(table)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=400)
    parser.add_argument("--legal-entities", type=int, default=3, help="companies")
    parser.add_argument("--departments", type=int, default=12)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--periods", type=int, default=4, help="bi-weekly pay periods generated")
    size.add_argument("--year", action="store_true", help=f"{YEAR_PERIODS} pay periods")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--seed", type=int, default=20261120)
    parser.add_argument("--timeout-s", type=float, default=3600, help="give up waiting after")
    parser.add_argument("--data-dir", type=Path, help="keep the generated company here")
    parser.add_argument("--keep-log", type=Path, help="copy the daemon's log here")
    args = parser.parse_args(argv)
    console = Console(width=130)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        with tempfile.TemporaryDirectory(prefix="backfill-year-") as directory:
            result = measure(args, Path(directory), console)
    finally:
        signal.signal(signal.SIGTERM, previous)
    print_table(console, result)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
