"""One pay period end to end through Dagster against the sandbox, with the requests it sends
against the fewest it needs, and the same for a backfill (issue 12, "Performance").

.venv/bin/python -m benchmarks.payperiod --workers 50000 --legal-entities 12 --latency-ms 50

Starts the sandbox with that company (``--pay-periods`` recent periods plus
``--backfill-periods`` earlier ones) and ``--latency-ms`` added to every request of every
service (the fault rule ``{"kind": "latency", "share": 1.0}``), then:

1. pay day: the newest period's runs still APPROVED become PAID (the generator leaves the first
   entity's newest run APPROVED), so every mapped company has something to post;
2. the pay period, the way the sensor does it: one tick of ``pay_run_sensor`` (it reads the runs
   list and every new run's records for its run keys) and the runs it asks for, one per
   company partition, each through ``defs.headless.run_partition`` (``dg.materialize`` in this
   process, on a test instance), one after another;
3. the backfill: the ``--backfill-periods`` periods before it, every company, one run per
   partition as a backfill of the payroll job launches them (``BackfillPolicy.multi_run(1)``).
   A real backfill needs the daemon, a run launcher and a code location; here the partitions
   run one after another through ``run_partition`` (``run_partition`` must not run from
   threads), as the JSON's ``backfill.note`` says.

``--no-dagster`` does the same work calling the product's functions as the assets do
(``read_snapshots``, ``source_sane``, ``journals_for``, ``journal_checks``, ``plausible``,
``JournalPoster``), without Dagster's runs, events and IO manager, and without the sensor.

Measured: requests counted by the sandbox per service and endpoint (``GET /_sandbox/requests``),
wall (``perf_counter``), this process's CPU (``process_time``: the connector and Dagster) and
peak RSS (``ru_maxrss``, the process's high-water mark so far: the backfill's includes the pay
period's), and the sandbox's own CPU, from its process (``benchmarks/sandbox_process.py``;
``--sandbox-in-process`` runs it on a thread here instead, as ``post_period.py`` does, and
then this process's CPU and RSS include it). Phases per run, summed over the runs: extract (the
snapshot step), build (the journals step without its checks), check (``journal_checks`` and
``plausible`` inside the journals step, timed by wrapping them), post (the posting step) and
Dagster's overhead (each run's wall time minus its steps' durations, from
``instance.get_run_step_stats``); the sensor tick apart.

The minimum (``benchmarks/minimal_requests.py``, which says what is a judgement) is computed
from the company's data and from the journals F&O holds afterwards (read back once the counts
are taken). Each measurement starts without a cached Entra token, as a new process would.

The company depends on the number of periods generated: ``--pay-periods 6 --backfill-periods
0`` measures the pay period alone on the company of a default run (2 + 4 periods).

Prints a table, then one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
from rich.console import Console
from rich.table import Table

from benchmarks.concurrent_runs import postgres_instance, run_concurrently
from benchmarks.minimal_requests import (
    CompanyShape,
    JournalShape,
    company_summary,
    journals_written,
    minimal_requests,
)
from ml_connector_dagster import connections
from ml_connector_dagster.audit.store import AuditStore
from ml_connector_dagster.config.mapping import load_mapping
from ml_connector_dagster.config.settings import current_settings
from ml_connector_dagster.connections import Connection
from ml_connector_dagster.defs.headless import run_partition
from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager
from ml_connector_dagster.defs.payroll import assets
from ml_connector_dagster.defs.payroll.checks import (
    journal_checks,
    plausible,
    source_sane,
)
from ml_connector_dagster.defs.payroll.partitions import PayrollPartition
from ml_connector_dagster.defs.payroll.sensors import pay_run_sensor
from ml_connector_dagster.defs.payroll.workforce import shared_workforce
from ml_connector_dagster.defs.resources import ConnectorResource
from ml_connector_dagster.dynamics.errors import DynamicsError
from ml_connector_dagster.payroll.journals import journals_for
from ml_connector_dagster.payroll.snapshot import PeriodWorkforce, read_snapshots
from ml_connector_dagster.posting.poster import JournalPoster, PostingError

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("rippling", "entra", "dynamics")
BACKFILL_NOTE = (
    "not a Dagster backfill: a backfill needs the daemon, a run launcher and a code location;"
    " its runs (one per partition, BackfillPolicy.multi_run(1)) ran one after another in this"
    " process through defs.headless.run_partition, as ml-connector run does"
)


# --- the sandbox ----------------------------------------------------------------------------------
@dataclass
class RunningSandbox:
    urls: dict[str, str]
    ca_file: str
    env: dict[str, str]
    summary: dict[str, Any]
    ready_s: float
    dynamics_page_size: int
    usage: Callable[[], dict[str, float] | None]  # the sandbox process's CPU and peak RSS

    def _admin(self) -> httpx.Client:
        return httpx.Client(verify=self.ca_file, timeout=120)

    def set_latency(self, latency_ms: int) -> None:
        rule = {"kind": "latency", "share": 1.0, "latency_ms": latency_ms}
        faults = {service: [rule] for service in SERVICES} if latency_ms > 0 else {}
        with self._admin() as admin:
            answer = admin.put(self.urls["dynamics"] + "/_sandbox/faults", json=faults)
        answer.raise_for_status()

    def pay(self, run_ids: list[str]) -> None:
        """Pay day: the runs become PAID (the Rippling stand-in's admin API)."""
        with self._admin() as admin:
            for run_id in run_ids:
                answer = admin.patch(
                    f"{self.urls['rippling']}/_sandbox/payroll-runs/{run_id}",
                    json={"run_state": "PAID"},
                )
                answer.raise_for_status()

    def counts(self) -> dict[str, Any]:
        with self._admin() as admin:
            answer = admin.get(self.urls["rippling"] + "/_sandbox/requests")
        answer.raise_for_status()
        return answer.json()

    def reset_counts(self) -> None:
        with self._admin() as admin:
            admin.delete(self.urls["rippling"] + "/_sandbox/requests").raise_for_status()


def _sandbox_arguments(args: argparse.Namespace, data_dir: Path) -> list[str]:
    return [
        "--data-dir",
        str(data_dir),
        "--workers",
        str(args.workers),
        "--legal-entities",
        str(args.legal_entities),
        "--departments",
        str(args.departments),
        "--pay-periods",
        str(args.pay_periods + args.backfill_periods),
        "--seed",
        str(args.seed),
    ]


@contextlib.contextmanager
def sandbox_process(args: argparse.Namespace, data_dir: Path) -> Iterator[RunningSandbox]:
    """The sandbox in a child process, so its CPU and memory are not the connector's."""
    command = [sys.executable, "-m", "benchmarks.sandbox_process"]
    process = subprocess.Popen(
        [*command, *_sandbox_arguments(args, data_dir)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    stdin, stdout = process.stdin, process.stdout
    try:
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"the sandbox process ended ({process.wait()}) before it was ready")
        ready = json.loads(line)

        def usage() -> dict[str, float]:
            stdin.write("usage\n")
            stdin.flush()
            return json.loads(stdout.readline())

        yield RunningSandbox(
            urls=ready["info"]["urls"],
            ca_file=ready["info"]["ca_file"],
            env=ready["env"],
            summary=ready["summary"],
            ready_s=ready["ready_s"],
            dynamics_page_size=int(ready["dynamics_page_size"]),
            usage=usage,
        )
    finally:
        with contextlib.suppress(OSError):
            stdin.write("stop\n")
            stdin.close()
        try:
            process.wait(120)
        except subprocess.TimeoutExpired:
            process.kill()  # our own child, by its handle
            process.wait()


@contextlib.contextmanager
def sandbox_in_process(args: argparse.Namespace, data_dir: Path) -> Iterator[RunningSandbox]:
    """The sandbox on a thread of this process (its CPU and memory count as this process's)."""
    from benchmarks.sandbox_process import argument_parser, config_from, fresh_state
    from ml_connector_sandbox.mapping import sandbox_mapping
    from ml_connector_sandbox.server import running_sandbox

    config = config_from(argument_parser().parse_args(_sandbox_arguments(args, data_dir)))
    fresh_state(config.data_dir)
    started = time.perf_counter()
    with running_sandbox(config, timeout=3600) as sandbox:
        yield RunningSandbox(
            urls=sandbox.info()["urls"],
            ca_file=str(sandbox.tls.ca_cert),
            env=sandbox.env(),
            summary=company_summary(sandbox.company, sandbox_mapping(sandbox.company)),
            ready_s=round(time.perf_counter() - started, 1),
            dynamics_page_size=sandbox.dynamics.page_size,
            usage=lambda: None,
        )


# --- measuring ------------------------------------------------------------------------------------
PHASES = ("sensor_s", "extract_s", "build_s", "check_s", "post_s", "dagster_overhead_s")


@dataclass
class Measurement:
    periods: list[str]
    partitions: list[tuple[str, str]] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))
    failures: list[str] = field(default_factory=list)
    sensor_requests: dict[str, Any] | None = None
    sensor_partitions: list[tuple[str, str]] | None = None
    wall_s: float = 0.0
    cpu_s: float = 0.0
    children_cpu_s: float = 0.0
    sandbox_cpu_s: float | None = None
    sandbox_peak_rss_mb: float | None = None
    peak_rss_mb: float = 0.0
    # Seconds inside product functions, summed over the runs (Dagster mode: the wrapped ones).
    inside: dict[str, float] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    journals: list[JournalShape] = field(default_factory=list)
    runs_peak_rss_mb: float = 0.0  # the largest run process's (concurrent runs only)


class Timers:
    """Seconds spent in functions of the assets module, wrapped for the run's duration."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()

    @contextlib.contextmanager
    def wrapped(self, module: Any, names: tuple[str, ...]) -> Iterator[None]:
        originals = {name: getattr(module, name) for name in names}
        for name, original in originals.items():
            setattr(module, name, self._timed(name, original))
        try:
            yield
        finally:
            for name, original in originals.items():
                setattr(module, name, original)

    @contextlib.contextmanager
    def into(self, measurement: Measurement) -> Iterator[None]:
        """The seconds spent inside the wrapped functions meanwhile, into ``measurement``."""
        before = Counter(self.seconds)
        yield
        measurement.inside = {
            f"{name}_s": round(self.seconds[name] - before[name], 2)
            for name in sorted(self.seconds)
        }

    def _timed(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started

        return timed


def forget_entra_tokens() -> None:
    """Start without this process's shared Entra token, as a new process (or run worker) does."""
    with connections._ENTRA_TOKENS_LOCK:
        connections._ENTRA_TOKENS.clear()


def fo_journals() -> dict[tuple[str, str], tuple[str, int]]:
    """(company, JournalBatchNumber) -> (IntegrationKey, lines) of every journal in F&O."""
    with Connection.from_environment().dynamics() as client:
        headers = client.list_entities(
            "LedgerJournalHeaders", select=["dataAreaId", "JournalBatchNumber", "IntegrationKey"]
        )
        lines = client.list_entities(
            "LedgerJournalLines", select=["dataAreaId", "JournalBatchNumber"]
        )
    per_batch = Counter(
        (str(row["dataAreaId"]).upper(), str(row["JournalBatchNumber"])) for row in lines
    )
    return {
        (str(h["dataAreaId"]).upper(), str(h["JournalBatchNumber"])): (
            str(h.get("IntegrationKey") or h["JournalBatchNumber"]),
            per_batch[(str(h["dataAreaId"]).upper(), str(h["JournalBatchNumber"]))],
        )
        for h in headers
    }


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextlib.contextmanager
def measuring(sandbox: RunningSandbox, measurement: Measurement) -> Iterator[None]:
    """Counts, wall, CPU and RSS around one measurement; F&O read back after the counts."""
    before = fo_journals()
    forget_entra_tokens()
    sandbox.reset_counts()
    usage = sandbox.usage()
    cpu, children = time.process_time(), resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    yield
    measurement.wall_s = time.perf_counter() - started
    measurement.cpu_s = time.process_time() - cpu
    done = resource.getrusage(resource.RUSAGE_CHILDREN)
    measurement.children_cpu_s = (done.ru_utime + done.ru_stime) - (
        children.ru_utime + children.ru_stime
    )
    measurement.peak_rss_mb = _peak_rss_mb()
    measurement.counts = sandbox.counts()
    finished = sandbox.usage()
    if usage is not None and finished is not None:
        measurement.sandbox_cpu_s = finished["cpu_s"] - usage["cpu_s"]
        measurement.sandbox_peak_rss_mb = finished["peak_rss_mb"]
    measurement.journals = journals_written(before, fo_journals())


# --- through Dagster ------------------------------------------------------------------------------
TIMED = ("read_snapshots", "journals_for", "journal_checks", "plausible")


def _step_seconds(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    return {
        stat.step_key: stat.end_time - stat.start_time
        for stat in instance.get_run_step_stats(run_id)
        if stat.start_time is not None and stat.end_time is not None
    }


def dagster_runs(
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    timers: Timers,
    measurement: Measurement,
    requests: list[tuple[str, str, dict[str, str]]],
) -> None:
    """Each (pay period, company, tags) as one run, the phases summed into ``measurement``."""
    for pay_period, company, tags in requests:
        checks_before = timers.seconds["journal_checks"] + timers.seconds["plausible"]
        started = time.perf_counter()
        outcome = run_partition(instance, pay_period, company, resources, tags=tags)
        wall = time.perf_counter() - started
        checks = timers.seconds["journal_checks"] + timers.seconds["plausible"] - checks_before
        steps = _step_seconds(instance, outcome.run_id)

        def step(name: str, steps: dict[str, float] = steps) -> float:
            return sum(seconds for key, seconds in steps.items() if key.endswith(name))

        phases = measurement.phases
        phases["extract_s"] += step("payroll_cost_snapshot")
        phases["build_s"] += step("labor_cost_journals") - checks
        phases["check_s"] += checks
        phases["post_s"] += step("posted_journals")
        phases["dagster_overhead_s"] += wall - sum(steps.values())
        measurement.partitions.append((pay_period, company))
        if not outcome.success:
            measurement.failures.append(
                f"{company} {pay_period}: {outcome.error or outcome.failed_checks}"
            )


def concurrent_dagster_runs(
    instance: dg.DagsterInstance,
    storage: Path,
    audit_url: str,
    concurrency: int,
    measurement: Measurement,
    requests: list[tuple[str, str, dict[str, str]]],
) -> None:
    """The runs at the same time, each in its own process (``concurrent_runs.py``); phases
    from the instance's step statistics (the wrapped timers live in the runs' processes)."""
    results = run_concurrently(requests, storage, audit_url, concurrency)
    phases = measurement.phases
    for result in results:
        steps = _step_seconds(instance, result.run_id)

        def step(name: str, steps: dict[str, float] = steps) -> float:
            return sum(seconds for key, seconds in steps.items() if key.endswith(name))

        phases["extract_s"] += step("payroll_cost_snapshot")
        phases["build_s"] += step("labor_cost_journals")  # the checks included
        phases["post_s"] += step("posted_journals")
        run = instance.get_run_record_by_id(result.run_id)
        if run is not None and run.start_time and run.end_time:
            phases["dagster_overhead_s"] += run.end_time - run.start_time - sum(steps.values())
        measurement.partitions.append((result.pay_period, result.company))
        measurement.runs_peak_rss_mb = max(measurement.runs_peak_rss_mb, result.peak_rss_mb)
        if not result.success:
            measurement.failures.append(
                f"{result.company} {result.pay_period}: {result.error or result.failed_checks}"
            )


def sensor_tick(
    instance: dg.DagsterInstance, connector: ConnectorResource, sandbox: RunningSandbox
) -> tuple[list[tuple[str, str, dict[str, str]]], dict[str, Any]]:
    """One tick of the pay-run sensor: the runs it asks for, and the requests it sent."""
    context = dg.build_sensor_context(instance=instance, resources={"connector": connector})
    result = pay_run_sensor(context)
    counts = sandbox.counts()
    run_requests = getattr(result, "run_requests", None) or []
    asked = []
    for request in run_requests:
        partition = PayrollPartition.parse(str(request.partition_key))
        asked.append((partition.pay_period, partition.company, dict(request.tags)))
    return asked, counts


def measure_dagster(
    sandbox: RunningSandbox,
    shape: CompanyShape,
    root: Path,
    period: str,
    backfill: list[str],
    use_sensor: bool,
    concurrency: int = 1,
) -> tuple[Measurement, Measurement | None]:
    """Sequential runs in this process on a test instance; with ``concurrency`` above 1, runs
    in processes of their own on PostgreSQL, that many at a time."""
    storage = root / "storage"
    with contextlib.ExitStack() as stack:
        if concurrency > 1:
            pg = stack.enter_context(postgres_instance(root / "pg_home"))
            instance, audit_url = pg.instance, pg.audit_url
        else:
            instance = stack.enter_context(dg.instance_for_test())
            audit_url = f"sqlite:///{root / 'audit.sqlite'}"
        connector = ConnectorResource(audit_url=audit_url)
        resources = {
            "connector": connector,
            "io_manager": PartitionFilesIOManager(base_dir=str(storage)),
        }

        def runs(measurement: Measurement, asked: list[tuple[str, str, dict[str, str]]]) -> None:
            if concurrency > 1:
                concurrent_dagster_runs(
                    instance, storage, audit_url, concurrency, measurement, asked
                )
            else:
                dagster_runs(instance, resources, timers, measurement, asked)

        timers = Timers()
        return _measure_dagster(
            sandbox, shape, instance, connector, timers, runs, period, backfill, use_sensor
        )


def _measure_dagster(
    sandbox: RunningSandbox,
    shape: CompanyShape,
    instance: dg.DagsterInstance,
    connector: ConnectorResource,
    timers: Timers,
    runs: Callable[[Measurement, list[tuple[str, str, dict[str, str]]]], None],
    period: str,
    backfill: list[str],
    use_sensor: bool,
) -> tuple[Measurement, Measurement | None]:
    main = Measurement([period])
    filled: Measurement | None = None
    with timers.wrapped(assets, TIMED):
        with measuring(sandbox, main), timers.into(main):
            if use_sensor:
                started = time.perf_counter()
                asked, main.sensor_requests = sensor_tick(instance, connector, sandbox)
                main.phases["sensor_s"] = time.perf_counter() - started
                main.sensor_partitions = [(p, c) for p, c, _ in asked]
            else:
                asked = [(p, c, {}) for p, c in shape.partitions([period])]
            runs(main, asked)
        if backfill:
            filled = Measurement(list(backfill))
            with measuring(sandbox, filled), timers.into(filled):
                asked = [
                    (p, c, {"ml_connector/benchmark": "backfill"})
                    for p, c in shape.partitions(backfill)
                ]
                runs(filled, asked)
    return main, filled


# --- without Dagster ------------------------------------------------------------------------------
def direct_partition(
    pay_period: str,
    company: str,
    audit_url: str,
    store: PartitionFilesIOManager,
    measurement: Measurement,
) -> None:
    """One partition as the three assets do it, calling the product's functions directly
    (the period's workforce shared through ``store`` as the snapshot asset shares it)."""
    settings = current_settings()
    mapping = load_mapping(settings, None)
    max_age = dt.timedelta(seconds=settings.workforce_max_age_seconds)
    connection = Connection.from_environment()
    key = str(PayrollPartition(pay_period, company).key())
    detail = mapping.journal.detail_level
    phases = measurement.phases
    started = time.perf_counter()
    with connection.rippling() as rippling:

        def workforce(needed: set[str]) -> PeriodWorkforce:
            return shared_workforce(
                store, rippling, pay_period, needed, max_age, settings.rippling_concurrency
            )[0]

        snapshot = read_snapshots(rippling, mapping, [(pay_period, company)], workforce)[
            (pay_period, company)
        ]
    checks = [source_sane({key: snapshot}, detail_level=detail)]
    extracted = time.perf_counter()
    builds = journals_for(snapshot, mapping)
    built = time.perf_counter()
    with connection.dynamics() as dynamics:
        checks += journal_checks(dynamics, mapping, {key: builds}, {key: snapshot})
    checks.append(plausible({key: snapshot}, {key: builds}, detail_level=detail, history=None))
    checked = time.perf_counter()
    blocked = [
        c.check_name for c in checks if not c.passed and c.severity is dg.AssetCheckSeverity.ERROR
    ]
    if blocked:
        measurement.failures.append(f"{company} {pay_period}: blocked by {blocked}")
    else:
        audit = AuditStore(audit_url)
        try:
            with connection.dynamics() as dynamics:
                poster = JournalPoster(dynamics, audit, mapping, dagster_run_id=None)
                for build in builds:
                    records = snapshot.records.get(build.journal.identity.run_id, [])
                    try:
                        poster.post(build, records, partition_key=key, pay_period=pay_period)
                    except (DynamicsError, PostingError) as exc:
                        measurement.failures.append(f"{company} {pay_period}: {exc}")
        finally:
            audit.dispose()
    posted = time.perf_counter()
    phases["extract_s"] += extracted - started
    phases["build_s"] += built - extracted
    phases["check_s"] += checked - built
    phases["post_s"] += posted - checked
    measurement.partitions.append((pay_period, company))


def measure_direct(
    sandbox: RunningSandbox, shape: CompanyShape, root: Path, period: str, backfill: list[str]
) -> tuple[Measurement, Measurement | None]:
    audit_url = f"sqlite:///{root / 'audit.sqlite'}"
    store = PartitionFilesIOManager(base_dir=str(root / "direct-storage"))
    main = Measurement([period])
    with measuring(sandbox, main):
        for pay_period, company in shape.partitions([period]):
            direct_partition(pay_period, company, audit_url, store, main)
    filled: Measurement | None = None
    if backfill:
        filled = Measurement(list(backfill))
        with measuring(sandbox, filled):
            for pay_period, company in shape.partitions(backfill):
                direct_partition(pay_period, company, audit_url, store, filled)
    return main, filled


# --- the report -----------------------------------------------------------------------------------
def report(
    measurement: Measurement,
    shape: CompanyShape,
    latency_ms: int,
    changeset_size: int,
    dynamics_page: int,
) -> dict[str, Any]:
    minimum = minimal_requests(
        shape,
        measurement.periods,
        measurement.journals,
        changeset_size=changeset_size,
        dynamics_page=dynamics_page,
    )
    runs = shape.posted_runs(measurement.periods)
    counts = measurement.counts
    latency_s = latency_ms / 1000
    result: dict[str, Any] = {
        "pay_periods": measurement.periods,
        "partitions": len(measurement.partitions),
        "payroll_runs": len(runs),
        "records": sum(run.records for run in runs),
        "journals": sum(len(j.parts) for j in measurement.journals),
        "journal_identities": len(measurement.journals),
        "journal_lines": sum(j.lines for j in measurement.journals),
        "requests": counts.get("requests", {}),
        "requests_by_service": counts.get("totals", {}),
        "requests_total": counts.get("total", 0),
        "statuses": counts.get("statuses", {}),
        "minimal_requests": minimum.by_service,
        "minimal_requests_detail": minimum.detail,
        "minimal_requests_total": minimum.total,
        "chain": [{"step": step, "requests": n} for step, n in minimum.chain],
        "bound_s": round(minimum.bound_s(latency_s), 2),
        "chain_bound_s": round(minimum.chain_bound_s(latency_s), 2),
        "wall_s": round(measurement.wall_s, 2),
        "cpu_s": round(measurement.cpu_s + measurement.children_cpu_s, 2),
        "sandbox_cpu_s": _round(measurement.sandbox_cpu_s),
        "peak_rss_mb": round(measurement.peak_rss_mb, 1),
        "runs_peak_rss_mb": _round(measurement.runs_peak_rss_mb or None, 1),
        "sandbox_peak_rss_mb": _round(measurement.sandbox_peak_rss_mb, 1),
        "phases": {name: round(seconds, 2) for name, seconds in measurement.phases.items()},
        "inside_steps": measurement.inside,
        "failures": measurement.failures,
    }
    if measurement.sensor_requests is not None:
        result["requests_sensor"] = measurement.sensor_requests.get("requests", {})
        result["requests_sensor_total"] = measurement.sensor_requests.get("total", 0)
        expected = shape.partitions(measurement.periods)
        if sorted(measurement.sensor_partitions or []) != expected:
            result["sensor_note"] = (
                f"the sensor asked for {measurement.sensor_partitions}, the data says {expected}"
            )
    return result


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def print_tables(console: Console, result: dict[str, Any]) -> None:
    columns = [("pay period", result)]
    if result.get("backfill"):
        columns.append(("backfill", result["backfill"]))
    summary = Table(
        title=f"{result['workers']:,} workers, {result['legal_entities']} legal entities,"
        f" {result['latency_ms']} ms per request ({result['mode']})"
    )
    summary.add_column("")
    for name, _ in columns:
        summary.add_column(name, justify="right")
    rows: list[tuple[str, Callable[[dict[str, Any]], Any]]] = [
        ("pay periods", lambda r: ", ".join(r["pay_periods"])),
        ("partitions (runs)", lambda r: r["partitions"]),
        ("payroll runs / records", lambda r: f"{r['payroll_runs']} / {r['records']:,}"),
        ("journals / lines", lambda r: f"{r['journals']} / {r['journal_lines']:,}"),
        (
            "requests / minimum",
            lambda r: f"{r['requests_total']:,} / {r['minimal_requests_total']:,}",
        ),
        ("wall s / bound s", lambda r: f"{r['wall_s']:,.1f} / {r['bound_s']:,.1f}"),
        ("chain bound s", lambda r: f"{r['chain_bound_s']:,.2f}"),
        ("cpu s (sandbox)", lambda r: f"{r['cpu_s']:,.1f} ({r['sandbox_cpu_s']})"),
        (
            "peak RSS MB (sandbox)",
            lambda r: f"{r['peak_rss_mb']:,.0f} ({r['sandbox_peak_rss_mb']})",
        ),
    ]
    rows += [(name, lambda r, name=name: f"{r['phases'][name]:,.1f}") for name in PHASES]
    for label, value in rows:
        summary.add_row(label, *(str(value(r)) for _, r in columns))
    console.print(summary)
    endpoints = Table(title="requests per endpoint: measured / minimum")
    endpoints.add_column("service")
    endpoints.add_column("endpoint")
    for name, _ in columns:
        endpoints.add_column(name, justify="right")
    for service in SERVICES:
        names = sorted(
            {
                name
                for _, r in columns
                for name in (
                    *r["requests"].get(service, {}),
                    *r["minimal_requests_detail"][service],
                )
            }
        )
        for name in names:
            cells = [
                f"{r['requests'].get(service, {}).get(name, 0):,} /"
                f" {r['minimal_requests_detail'][service].get(name, 0):,}"
                for _, r in columns
            ]
            endpoints.add_row(service, name, *cells)
    console.print(endpoints)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=400)
    parser.add_argument("--legal-entities", type=int, default=3)
    parser.add_argument("--departments", type=int, default=12)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--pay-periods", type=int, default=2, help="recent periods generated")
    parser.add_argument(
        "--backfill-periods", type=int, default=4, help="earlier periods backfilled (0: none)"
    )
    parser.add_argument("--seed", type=int, default=20261120)
    parser.add_argument("--no-dagster", action="store_true", help="the same work without Dagster")
    parser.add_argument(
        "--concurrent-runs",
        type=int,
        default=1,
        help="company runs at the same time, each in its own process, on PostgreSQL"
        " (benchmarks/concurrent_runs.py); 1: one after another in this process",
    )
    parser.add_argument("--no-sensor", action="store_true", help="skip the pay-run sensor tick")
    parser.add_argument(
        "--sandbox-in-process",
        action="store_true",
        help="run the sandbox on a thread of this process (its CPU and RSS then count here)",
    )
    parser.add_argument(
        "--data-dir", type=Path, help="keep the generated company here between runs"
    )
    args = parser.parse_args()
    console = Console(width=150)
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="payperiod-") as directory:
        root = Path(directory)
        data_dir = args.data_dir or root / "sandbox"
        home = root / "dagster_home"
        home.mkdir()
        start = sandbox_in_process if args.sandbox_in_process else sandbox_process
        with start(args, data_dir) as sandbox:
            os.environ.update(sandbox.env)
            os.environ["DAGSTER_HOME"] = str(home)
            shape = CompanyShape.from_summary(sandbox.summary)
            period = shape.periods()[0]
            waiting = [
                r.id
                for r in shape.runs
                if r.period == period and r.company is not None and r.state == "APPROVED"
            ]
            sandbox.pay(waiting)
            shape = shape.paid(waiting)
            if waiting:
                notes.append(f"pay day: {len(waiting)} APPROVED run(s) of {period} made PAID")
            backfill = shape.periods()[1 : 1 + args.backfill_periods]
            if len(backfill) < args.backfill_periods:
                notes.append(f"only {len(backfill)} earlier period(s) to backfill")
            sandbox.set_latency(args.latency_ms)
            if args.no_dagster:
                main_m, backfill_m = measure_direct(sandbox, shape, root, period, backfill)
            else:
                main_m, backfill_m = measure_dagster(
                    sandbox,
                    shape,
                    root,
                    period,
                    backfill,
                    use_sensor=not args.no_sensor,
                    concurrency=args.concurrent_runs,
                )
            sandbox.set_latency(0)
        changeset = current_settings().dynamics_changeset_size
        result: dict[str, Any] = {
            "workers": args.workers,
            "legal_entities": args.legal_entities,
            "latency_ms": args.latency_ms,
            "mode": "no-dagster" if args.no_dagster else "dagster",
            "concurrent_runs": 1 if args.no_dagster else args.concurrent_runs,
            "sandbox": "in-process" if args.sandbox_in_process else "process",
            "sandbox_ready_s": sandbox.ready_s,
            **report(main_m, shape, args.latency_ms, changeset, sandbox.dynamics_page_size),
            "backfill": None,
            "notes": notes,
        }
        if backfill_m is not None:
            result["backfill"] = {
                **report(backfill_m, shape, args.latency_ms, changeset, sandbox.dynamics_page_size),
                "note": BACKFILL_NOTE
                if not args.no_dagster
                else "without Dagster: the partitions one after another",
            }
    print_tables(console, result)
    print(json.dumps(result, sort_keys=False), flush=True)


if __name__ == "__main__":
    main()
