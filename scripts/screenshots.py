"""Screenshots of what a finance reviewer sees in the Dagster UI (``make screenshots``).

Issue 13 is done when the README shows, from the real UI, a created, a blocked and a
waiting-for-approval partition. This script produces those pictures end to end, so they can be
re-taken after any change to the metadata instead of going stale:

1. a throwaway DAGSTER_HOME (``ml-connector home``) and the built-in sandbox on free ports, as
   ``make demo`` sets them up;
2. each scenario (one small function below) writes its own variant of the sandbox mapping and
   runs one pay period x company with the product's own command, ``ml-connector run`` (the way
   an operator or cron would): the runs land in the instance exactly as the UI shows them;
3. ``dagster-webserver`` (the real UI, no daemon: nothing runs by itself) on a free loopback
   port against that home and the project's workspace;
4. headless Chromium at 1600 px opens the pages a reviewer opens and writes PNGs to
   ``docs/screenshots/``.

Nothing is installed: without Chromium the script says which package to install. Every process
it starts runs in its own process group and is stopped on the way out, Ctrl-C included.

    .venv/bin/python scripts/screenshots.py                 # every scenario, every page
    .venv/bin/python scripts/screenshots.py --only blocked  # one scenario's pages (+ lineage)
    .venv/bin/python scripts/screenshots.py --serve         # then keep the UI up to look around
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "docs" / "screenshots"
WIDTH = 1600
MAX_PNG_BYTES = 400_000
INSTALL_HINT = "apt-get install -y chromium"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

JOURNALS = "ledger/labor_cost_journals"
POSTED = "dynamics/posted_journals"


# --- pure parts: URLs, scenario selection (tests/scripts/test_screenshots.py) ---------------


@dataclass(frozen=True)
class Ui:
    """Where the UI answers, and the project's code location in it (its pages' addresses)."""

    base: str
    repository: str = "__repository__"  # a Definitions object's repository name
    location: str = "ml_connector_dagster"

    def asset(
        self,
        asset_key: str,
        *,
        view: str | None = None,
        partition: str | None = None,
        check: str | None = None,
        event_time: str | None = None,
    ) -> str:
        """An asset's page (``ledger/labor_cost_journals``): one tab, and on it one partition,
        one check (Checks tab) or one event (Events tab, by its timestamp in ms).

        The key's parts are path segments; the partition key ``USMF|2026-11-15`` is a query
        value (its ``|`` escaped), as the UI writes it when a partition is clicked;
        ``checkDetail`` and ``time`` are the UI's own parameters.
        """
        path = "/".join(urllib.parse.quote(part, safe="") for part in asset_key.split("/"))
        pairs = (("view", view), ("partition", partition), ("checkDetail", check))
        query = {k: v for k, v in (*pairs, ("time", event_time)) if v is not None}
        suffix = f"?{urllib.parse.urlencode(query)}" if query else ""
        return f"{self.base.rstrip('/')}/assets/{path}{suffix}"

    def run(self, run_id: str) -> str:
        return f"{self.base.rstrip('/')}/runs/{urllib.parse.quote(run_id, safe='')}"

    def _location_path(self) -> str:
        address = urllib.parse.quote(f"{self.repository}@{self.location}", safe="@")
        return f"{self.base.rstrip('/')}/locations/{address}"

    def lineage(self, group: str) -> str:
        """The asset graph of one group: the lineage a reviewer follows from Rippling to F&O."""
        return f"{self._location_path()}/asset-groups/{urllib.parse.quote(group, safe='')}/lineage"

    def launchpad(self, job: str, run_config: dict[str, Any]) -> str:
        """A job's launchpad with its config filled in (the UI's ``playground/setup`` route)."""
        config = urllib.parse.quote(yaml.safe_dump(run_config, sort_keys=False), safe="")
        job_part = urllib.parse.quote(job, safe="")
        return f"{self._location_path()}/jobs/{job_part}/playground/setup?config={config}"


@dataclass(frozen=True)
class Selection:
    chosen: list[Callable[[Stage], Outcome]]
    skipped: dict[str, str]  # scenario name -> why it does not run here


def requirement_missing(scenario: Callable[..., Any], journal_fields: set[str]) -> str | None:
    """Why a scenario cannot run with this product version (a mapping field it needs), or None."""
    needed = getattr(scenario, "needs_journal_field", None)
    if needed and needed not in journal_fields:
        return (
            f"the mapping has no journal.{needed} field yet (JournalSpec.model_fields):"
            " this version of the product cannot show it"
        )
    return None


def select_scenarios(
    scenarios: list[Callable[..., Any]], only: list[str] | None, journal_fields: set[str]
) -> Selection:
    """The scenarios to run: those named (all by default) that this product version supports."""
    names = [s.__name__ for s in scenarios]
    unknown = sorted(set(only or []) - set(names))
    if unknown:
        raise SystemExit(f"unknown scenario {', '.join(unknown)}; known: {', '.join(names)}")
    chosen, skipped = [], {}
    for scenario in scenarios:
        if only and scenario.__name__ not in only:
            continue
        reason = requirement_missing(scenario, journal_fields)
        if reason:
            skipped[scenario.__name__] = reason
        else:
            chosen.append(scenario)
    return Selection(chosen, skipped)


def needs_journal_field(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a scenario as needing ``journal.<name>`` in the mapping model."""

    def mark(scenario: Callable[..., Any]) -> Callable[..., Any]:
        scenario.needs_journal_field = name  # type: ignore[attr-defined]
        return scenario

    return mark


@dataclass(frozen=True)
class Shot:
    """One PNG: a page, how tall the window is, and the README's one-line caption."""

    file: str
    url: str
    height: int
    caption: str


# --- processes: own group, always stopped -----------------------------------------------------


class Processes:
    """Children started in their own process group; ``stop_all`` ends each group, TERM then KILL.

    A process group, not just the child: ``dagster-webserver`` starts its own code-server
    processes, which must not outlive the script.
    """

    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []

    def start(self, command: list[str], **kwargs: Any) -> subprocess.Popen:
        process = subprocess.Popen(command, start_new_session=True, **kwargs)
        self.started.append(process)
        return process

    def run(self, command: list[str], timeout: float, **kwargs: Any) -> tuple[int, str]:
        """Run to the end (output captured), or stop it after ``timeout`` seconds."""
        process = self.start(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs
        )
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop(process)
            raise SystemExit(f"{' '.join(command[:3])} did not finish in {timeout:.0f} s") from None
        return process.returncode, output

    @staticmethod
    def stop(process: subprocess.Popen) -> None:
        for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            if process.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            wait_for_exit(process, grace)
        with contextlib.suppress(ProcessLookupError):  # the group's other members, if any
            os.killpg(process.pid, signal.SIGKILL)

    def stop_all(self) -> None:
        for process in reversed(self.started):
            self.stop(process)


def wait_for_exit(process: subprocess.Popen, seconds: float) -> bool:
    """Whether the process ended within ``seconds``. Polled with an Event, not
    ``Popen.wait(timeout)``: that sleeps with ``time.sleep``, which libfaketime breaks."""
    waiter = threading.Event()
    deadline = time.monotonic() + seconds
    while process.poll() is None:
        if time.monotonic() >= deadline:
            return False
        waiter.wait(0.05)
    return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """This checkout's code first on the path, so the pictures show the code being reviewed."""
    path = os.pathsep.join(
        p for p in (str(ROOT), str(ROOT / "sandbox"), os.environ.get("PYTHONPATH")) if p
    )
    return {**os.environ, **extra, "PYTHONPATH": path}


# --- the stage: home, sandbox, one command per partition --------------------------------------


@dataclass
class Outcome:
    scenario: str
    company: str
    pay_period: str
    exit_code: int
    output: str

    @property
    def partition(self) -> str:
        return f"{self.company}|{self.pay_period}"  # Dagster's order: legal_entity|pay_period


@dataclass
class Stage:
    """The sandbox company, the DAGSTER_HOME and the way to run one partition through it."""

    sandbox: Any  # ml_connector_sandbox.server.Sandbox
    home: Path
    work: Path
    processes: Processes
    env: dict[str, str] = field(default_factory=dict)

    def base_mapping(self) -> dict[str, Any]:
        """The complete mapping the sandbox serves (every department, account and company)."""
        from ml_connector_sandbox.mapping import sandbox_mapping

        return sandbox_mapping(self.sandbox.company)

    def companies(self) -> list[str]:
        return [le["company"] for le in self.base_mapping()["legal_entities"]]

    def latest_paid_period(self, company: str) -> str:
        return max(r["pay_period"]["end_date"] for r in self._paid_runs(company))

    def departments_paid(self, company: str, pay_period: str) -> list[str]:
        """Department codes of the workers paid by ``company`` in ``pay_period``, most first."""
        rippling = self.sandbox.company["rippling"]
        runs = {
            r["id"] for r in self._paid_runs(company) if r["pay_period"]["end_date"] == pay_period
        }
        workers = {w["id"]: w for w in rippling["workers"]}
        codes = {d["id"]: d.get("reference_code") or d["id"] for d in rippling["departments"]}
        counts: dict[str, int] = {}
        for record in rippling["worker_payroll_records"]:
            if record["run_id"] in runs:
                department = workers[record["worker_id"]].get("department_id")
                if department:
                    counts[codes[department]] = counts.get(codes[department], 0) + 1
        return sorted(counts, key=lambda code: (-counts[code], code))

    def _paid_runs(self, company: str) -> list[dict[str, Any]]:
        mapping = next(
            le for le in self.base_mapping()["legal_entities"] if le["company"] == company
        )
        entities = set(mapping["rippling_company_entity_ids"])
        return [
            r
            for r in self.sandbox.company["rippling"]["payroll_runs"]
            if r["run_state"] == "PAID" and r["company_entity_id"] in entities
        ]

    def run(self, scenario: str, company: str, mapping: dict[str, Any]) -> Outcome:
        """``ml-connector run`` for the company's newest paid period, with this mapping."""
        period = self.latest_paid_period(company)
        path = self.work / f"mapping-{scenario}.yaml"
        path.write_text(yaml.safe_dump(mapping, sort_keys=False))
        command = [
            str(Path(sys.executable).parent / "ml-connector"),
            "run",
            "--pay-period",
            period,
            "--legal-entity",
            company,
        ]
        env = child_env({**self.env, "ML_CONNECTOR_MAPPING": str(path), "COLUMNS": "200"})
        code, output = self.processes.run(command, timeout=240, env=env, cwd=self.home)
        return Outcome(scenario, company, period, code, output)


# --- scenarios: one small function each -------------------------------------------------------


def created(stage: Stage) -> Outcome:
    """Every check passes: the journals are created in F&O (not posted: finance posts them)."""
    return stage.run("created", "USMF", stage.base_mapping())


def blocked(stage: Stage) -> Outcome:
    """A department of the period is missing from the mapping: fully_mapped fails, nothing is
    written to Dynamics."""
    company = stage.companies()[1]  # another company and currency than `created`
    mapping = stage.base_mapping()
    used = stage.departments_paid(company, stage.latest_paid_period(company))
    mapping["departments"].pop(used[0])
    return stage.run("blocked", company, mapping)


@needs_journal_field("approval")
def awaiting_approval(stage: Stage) -> Outcome:
    """``journal.approval: required``: checks pass, the journals wait for finance's approval."""
    company = stage.companies()[2]
    mapping = stage.base_mapping()
    mapping["journal"]["approval"] = "required"
    return stage.run("awaiting_approval", company, mapping)


# `blocked` runs last: the Checks tab shows each check's latest execution, which must be its.
SCENARIOS: list[Callable[[Stage], Outcome]] = [created, awaiting_approval, blocked]
# What `ml-connector run` exits with when the scenario did what it should (README "Exit codes").
EXPECTED_EXIT = {"created": {0}, "blocked": {1}, "awaiting_approval": {4}}


@dataclass(frozen=True)
class Facts:
    """What the UI knows of a partition once it is up (GraphQL): its latest run, and the time
    of the posting asset's latest event for it (an observation when nothing was posted)."""

    run_id: str | None = None
    posted_event_time: str | None = None


# How a reviewer approves in the UI (the approval feature's job; its op's config).
APPROVAL_JOB = "approve_journals"
APPROVER = "Jane Controller"


def approval_config(outcome: Outcome) -> dict[str, Any]:
    config = {
        "pay_period": outcome.pay_period,
        "legal_entity": outcome.company,
        "decision": "approved",
        "by": APPROVER,
        "note": "checked against the Rippling payroll register",
    }
    return {"ops": {"record_approval": {"config": config}}}


def shots_for(outcome: Outcome, ui: Ui, facts: Facts) -> list[Shot]:
    """The pages a reviewer opens for one scenario's partition."""
    p = outcome.partition
    if outcome.scenario == "created":
        return [
            Shot(
                "created-posted-journals.png",
                ui.asset(POSTED, view="partitions", partition=p),
                1050,
                f"{p}: created in F&O, not posted - the journal number F&O gave, lines and"
                " currency per pay run.",
            ),
            Shot(
                "created-labor-cost-journals.png",
                ui.asset(JOURNALS, view="partitions", partition=p),
                1300,
                f"{p}: the journals as built and checked - totals per currency, lines by pay"
                " run, account and department.",
            ),
        ]
    if outcome.scenario == "blocked":
        shots = [
            Shot(
                "blocked-labor-cost-journals.png",
                ui.asset(JOURNALS, view="partitions", partition=p),
                700,
                f"{p}: blocked - the partition is red, the run did not materialize the journals.",
            ),
            Shot(
                "blocked-checks.png",
                ui.asset(JOURNALS, view="checks", check="fully_mapped"),
                1100,
                f"{p}: the Checks tab - fully_mapped failed, naming the department missing from"
                " the mapping.",
            ),
        ]
        if facts.run_id:
            shots.append(
                Shot(
                    "blocked-run.png",
                    ui.run(facts.run_id),
                    1000,
                    f"{p}: the blocked run - which checks stopped it, and that nothing was"
                    " written to Dynamics.",
                )
            )
        return shots
    if outcome.scenario == "awaiting_approval":
        shots = []
        if facts.posted_event_time:
            shots.append(
                Shot(
                    "awaiting-approval-posted-journals.png",
                    ui.asset(POSTED, view="events", event_time=facts.posted_event_time),
                    1000,
                    f"{p}: every check passed; the journals wait for finance's approval, nothing"
                    " is written to F&O until then.",
                )
            )
        return [
            *shots,
            Shot(
                "awaiting-approval-labor-cost-journals.png",
                ui.asset(JOURNALS, view="partitions", partition=p),
                1100,
                f"{p}: the journals finance is asked to approve.",
            ),
            Shot(
                "awaiting-approval-launchpad.png",
                ui.launchpad(APPROVAL_JOB, approval_config(outcome)),
                900,
                f"{p}: approving from the UI - the {APPROVAL_JOB} job's launchpad, filled in"
                " (or `ml-connector approve`).",
            ),
        ]
    return []


def overview_shots(ui: Ui) -> list[Shot]:
    return [
        Shot(
            "lineage.png",
            ui.lineage("payroll"),
            760,
            "Lineage: from the Rippling workforce and payroll snapshots through the journals and"
            " their checks to the journals in F&O.",
        )
    ]


def markdown(shots: list[Shot], out_dir: Path) -> str:
    """README lines embedding the pictures, each under its caption (paths from the README)."""
    lines = []
    for shot in shots:
        path = out_dir / shot.file
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        lines += [shot.caption, "", f"![{Path(shot.file).stem}]({shown.as_posix()})", ""]
    return "\n".join(lines)


# --- the UI and the browser -------------------------------------------------------------------


def find_chromium() -> str:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit(f"Chromium is not installed; install it with: {INSTALL_HINT}")


def graphql(base: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"{base}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # loopback only
        return json.loads(answer.read())["data"]


LOCATIONS = """{ workspaceOrError { __typename ... on Workspace { locationEntries {
  name locationOrLoadError { __typename ... on PythonError { message } } } } } }"""

REPOSITORIES = """{ repositoriesOrError { __typename ... on RepositoryConnection {
  nodes { name location { name } } } } }"""

RUNS = """query ($tags: [ExecutionTag!]) { runsOrError(filter: {tags: $tags}, limit: 1) {
  __typename ... on Runs { results { runId status } } } }"""


def wait_for_ui(base: str, webserver: subprocess.Popen, timeout: float = 180.0) -> None:
    """Until the webserver answers and the project's code location is loaded (or failed)."""
    waiter = threading.Event()  # not time.sleep: a faketime'd environment breaks it
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if webserver.poll() is not None:
            raise SystemExit(f"dagster-webserver exited with {webserver.returncode}")
        with contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError, KeyError):
            entries = graphql(base, LOCATIONS)["workspaceOrError"]["locationEntries"]
            loaded = [e["locationOrLoadError"] for e in entries if e["locationOrLoadError"]]
            errors = [e["message"] for e in loaded if e["__typename"] == "PythonError"]
            if errors:
                raise SystemExit(f"the code location failed to load: {errors[0]}")
            if entries and len(loaded) == len(entries):
                return
        waiter.wait(1.0)
    raise SystemExit(f"dagster-webserver did not answer within {timeout:.0f} s")


def ui_address(base: str) -> Ui:
    """The UI with the project's repository and code location as the webserver names them."""
    nodes = graphql(base, REPOSITORIES)["repositoriesOrError"]["nodes"]
    return Ui(base, nodes[0]["name"], nodes[0]["location"]["name"])


POSTED_EVENTS = """query ($key: AssetKeyInput!, $partitions: [String!]) {
  assetOrError(assetKey: $key) { __typename ... on Asset {
    assetMaterializations(partitions: $partitions, limit: 1) { timestamp }
    assetObservations(partitions: $partitions, limit: 1) { timestamp } } } }"""


def partition_facts(base: str, partition: str) -> Facts:
    answer = graphql(base, RUNS, {"tags": [{"key": "dagster/partition", "value": partition}]})
    runs = answer["runsOrError"].get("results") or []
    variables = {"key": {"path": POSTED.split("/")}, "partitions": [partition]}
    asset = graphql(base, POSTED_EVENTS, variables)["assetOrError"]
    times = [
        e["timestamp"]
        for kind in ("assetMaterializations", "assetObservations")
        for e in asset.get(kind) or []
    ]
    return Facts(
        run_id=runs[0]["runId"] if runs else None,
        posted_event_time=max(times, key=int) if times else None,
    )


def screenshot(chromium: str, shot: Shot, out_dir: Path, budget_ms: int) -> Path:
    """One page, rendered: the UI is a JS app fed by GraphQL, so Chromium's virtual time runs
    ``budget_ms`` (it does not advance while requests are pending) before the picture."""
    target = out_dir / shot.file
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    command = [
        chromium,
        "--headless=new",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        f"--user-data-dir={profile}",
        f"--window-size={WIDTH},{shot.height}",
        f"--virtual-time-budget={budget_ms}",
        f"--screenshot={target}",
        shot.url,
    ]
    if os.geteuid() == 0:
        command.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
    processes = Processes()
    try:
        code, output = processes.run(command, timeout=120)
    finally:
        processes.stop_all()
        shutil.rmtree(profile, ignore_errors=True)
    if code != 0 or not target.exists():
        raise SystemExit(f"chromium could not take {shot.file} ({code}): {output[-500:]}")
    size = target.stat().st_size
    if size > MAX_PNG_BYTES:
        print(f"warning: {shot.file} is {size // 1000} KB (> {MAX_PNG_BYTES // 1000} KB)")
    return target


# --- the whole run ----------------------------------------------------------------------------


@contextlib.contextmanager
def staged(processes: Processes, work: Path) -> Iterator[Stage]:
    """A fresh DAGSTER_HOME and the sandbox on free ports, as ``make demo`` prepares them."""
    from ml_connector_sandbox.server import SandboxConfig, running_sandbox

    home_cmd = [str(Path(sys.executable).parent / "ml-connector"), "home", str(work / "home")]
    code, output = processes.run(home_cmd, timeout=60, env=child_env({}))
    if code != 0:
        raise SystemExit(f"ml-connector home failed: {output}")
    home = Path(output.strip().splitlines()[-1])
    # The UI's first-visit "Join the Dagster community" dialog would cover every picture (each
    # is a fresh browser profile): a reviewer dismisses it once, this instance never shows it.
    with (home / "dagster.yaml").open("a") as instance_file:
        instance_file.write("\nnux:\n  enabled: false\n")
    config = SandboxConfig(
        data_dir=work / "sandbox", ports={"rippling": 0, "entra": 0, "dynamics": 0}
    )
    with running_sandbox(config) as sandbox:
        env = {**sandbox.env(), "DAGSTER_HOME": str(home)}
        yield Stage(sandbox, home, work, processes, env)


def start_webserver(processes: Processes, stage: Stage, port: int) -> subprocess.Popen:
    """The real UI on the project's workspace, against the stage's home, on loopback."""
    command = [
        str(Path(sys.executable).parent / "dagster-webserver"),
        "-w", str(ROOT / "workspace.yaml"),
        "-h", "127.0.0.1",
        "-p", str(port),
    ]  # fmt: skip
    env = child_env({**stage.env, "ML_CONNECTOR_MAPPING": str(stage.sandbox.mapping_path)})
    log = (stage.work / "webserver.log").open("w")
    return processes.start(command, env=env, cwd=stage.home, stdout=log, stderr=log)


def journal_fields() -> set[str]:
    from ml_connector_dagster.config.mapping import JournalSpec

    return set(JournalSpec.model_fields)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", help="comma-separated scenarios: " + ", ".join(s.__name__ for s in SCENARIOS)
    )
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--budget-ms", type=int, default=20_000, help="Chromium virtual time")
    parser.add_argument("--serve", action="store_true", help="keep the UI up until Ctrl-C")
    args = parser.parse_args(argv)
    # This checkout's code, also in this process (the mapping model decides the scenarios).
    sys.path[:0] = [str(ROOT), str(ROOT / "sandbox")]

    chromium = find_chromium()
    selection = select_scenarios(
        SCENARIOS, args.only.split(",") if args.only else None, journal_fields()
    )
    for name, reason in selection.skipped.items():
        print(f"skipped {name}: {reason}")
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    # SIGTERM (a CI timeout, `kill`) ends the script through the same finally as Ctrl-C.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    processes = Processes()
    work = Path(tempfile.mkdtemp(prefix="ml-connector-screenshots-"))
    try:
        with staged(processes, work) as stage:
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            webserver = None
            outcomes = []
            for scenario in selection.chosen:
                outcome = scenario(stage)
                if webserver is None:
                    # After the first run: that run created the instance's storages. Two
                    # processes creating a fresh SQLite storage at once race in its migrations.
                    webserver = start_webserver(processes, stage, port)
                expected = EXPECTED_EXIT.get(outcome.scenario)
                print(
                    f"{outcome.scenario}: {outcome.partition} -> exit {outcome.exit_code}"
                    f" ({time.monotonic() - started:.0f} s)"
                )
                if expected is not None and outcome.exit_code not in expected:
                    print(outcome.output)
                    raise SystemExit(f"{outcome.scenario}: expected exit {sorted(expected)}")
                outcomes.append(outcome)
            if webserver is None:
                webserver = start_webserver(processes, stage, port)
            wait_for_ui(base, webserver)
            ui = ui_address(base)
            shots = overview_shots(ui)
            for outcome in outcomes:
                shots += shots_for(outcome, ui, partition_facts(base, outcome.partition))
            for shot in shots:
                path = screenshot(chromium, shot, args.out, args.budget_ms)
                print(
                    f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}"
                    f" ({path.stat().st_size // 1000} KB): {shot.url}"
                )
            print(f"\nREADME lines for these pictures:\n\n{markdown(shots, args.out)}")
            print(f"done in {time.monotonic() - started:.0f} s")
            if args.serve:
                print(f"serving {base} (DAGSTER_HOME={stage.home}); Ctrl-C stops")
                with contextlib.suppress(KeyboardInterrupt):
                    webserver.wait()
    except KeyboardInterrupt:
        print("interrupted: stopping the webserver and the sandbox")
        return 130
    finally:
        processes.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
