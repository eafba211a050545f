"""One cell of the matrix: a clean sandbox, the fault, the product, the fault cleared,
``ml-connector replay``, then everything read back.

The product runs as separate processes (``product``), the sandbox in this one, so the harness
sees every fault rule fire and can wait for late commits before it clears them.
"""

import datetime as dt
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from faultmatrix import readback
from faultmatrix.catalogue import KILL_HOLD_MS, KNOWN_LIMITS, Fault, Stage, sandbox_rule
from faultmatrix.product import Finished, Product, kill, pause, product_env
from ml_connector_sandbox.server import Sandbox

# Waiting for a fault to fire (the product reaching the stage) gives up after this long.
REACH_DEADLINE_SECONDS = 300


@dataclass
class CellResult:
    fault: str
    stage: str
    verdict: str  # "holds", "BROKEN", "not reached", "known limit", "n/a"
    first: str = ""  # what the faulted command did: "exit 0", "exit 1", "killed"
    replay: str = ""
    fired: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    workdir: str = ""

    @property
    def holds(self) -> bool:
        return self.verdict in ("holds", "n/a", "known limit")


@dataclass
class Scenario:
    """What every payroll cell posts: one company's newest paid pay period."""

    company: str
    legal_name: str
    period: str


def payroll_scenario(sandbox: Sandbox, company: str = "USMF") -> Scenario:
    legal_name = next(
        row["Name"]
        for row in sandbox.company["dynamics"]["LegalEntities"]
        if row["LegalEntityId"].upper() == company
    )
    entity = next(
        e["id"]
        for e in sandbox.company["rippling"]["company_legal_entities"]
        if e["legal_name"] == legal_name
    )
    period = max(
        r["pay_period"]["end_date"]
        for r in sandbox.company["rippling"]["payroll_runs"]
        if r["run_state"] == "PAID" and r["company_entity_id"] == entity
    )
    return Scenario(company, legal_name, period)


def _fired(sandbox: Sandbox, service: str) -> int:
    return sum(rule["fired"] for rule in sandbox.faults.describe(service)["rules"])


def _settle(sandbox: Sandbox, service: str, hold_ms: int) -> None:
    """Let what the fault set in motion land before the faults are cleared (clearing drops
    late commits still waiting): pending late commits, and a request still being held."""
    pause(hold_ms / 1000 + 0.5)
    deadline = time.monotonic() + 30
    while sandbox.faults.describe(service)["late_commits"]["pending"] and (
        time.monotonic() < deadline
    ):
        pause(0.1)


def _outcome(finished: Finished) -> str:
    return "hung" if finished.returncode == -1 else f"exit {finished.returncode}"


def _faulted_run(
    sandbox: Sandbox, fault: Fault, stage: Stage, product: Product, args: tuple[str, ...]
) -> str:
    """Run the command under the fault; for ``kill``, SIGKILL it once the stage's request is
    being held at the service. What it did, in a few words."""
    if fault.name != "kill":
        return _outcome(product.run(*args))
    process, _ = product.start(*args)
    deadline = time.monotonic() + REACH_DEADLINE_SECONDS
    while not _fired(sandbox, stage.service) and process.poll() is None:
        if time.monotonic() > deadline:
            break
        pause(0.05)
    if process.poll() is not None:
        return f"exit {process.returncode} before the stage"
    pause(0.2)  # the request is being held at the service now
    kill(process)
    return "killed"


def _fresh_cell(sandbox: Sandbox, workdir: Path) -> tuple[dict[str, str], Product]:
    """The sandbox back at its seed, an empty working directory, the product's environment."""
    sandbox.reset()
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    env = product_env(sandbox, workdir)
    return env, Product(env, workdir)


def _judge(result: CellResult, product: Product) -> None:
    """The verdict from the fault's firing and the problems found (``KNOWN_LIMITS``: a break
    that is the real service's limit, and that the product named as such)."""
    if result.fired == 0:
        result.verdict = "not reached"
        result.problems.insert(0, f"the fault never fired at {result.stage}: nothing was tested")
        return
    if not result.problems:
        result.verdict = "holds"
        return
    limit = KNOWN_LIMITS.get((result.fault, result.stage))
    if limit is not None and limit[1] in product.output():
        result.verdict = "known limit"
        result.problems.insert(0, limit[0])
        return
    result.verdict = "BROKEN"


def run_payroll_cell(
    sandbox: Sandbox, fault: Fault, stage: Stage, scenario: Scenario, workdir: Path
) -> CellResult:
    """The payroll flow (``ml-connector run``) under the fault, then ``replay``."""
    started = time.monotonic()
    env, product = _fresh_cell(sandbox, workdir)
    rule = sandbox_rule(fault, stage)
    sandbox.faults.load({stage.service: [rule]})
    args = ("run", "--pay-period", scenario.period, "--legal-entity", scenario.company)
    result = CellResult(fault.name, stage.name, "holds", workdir=str(workdir))
    result.first = _faulted_run(sandbox, fault, stage, product, args)
    result.fired = _fired(sandbox, stage.service)
    _settle(sandbox, stage.service, KILL_HOLD_MS if fault.name == "kill" else 0)
    sandbox.faults.clear()
    replayed = product.run("replay")
    result.replay = f"replay {_outcome(replayed)}"
    if replayed.returncode not in (0, 3):
        result.problems.append(f"replay ended {_outcome(replayed)}: {replayed.tail()}")

    def read_back() -> list[str]:
        return readback.check_payroll(
            sandbox, env, scenario.period, scenario.company, scenario.legal_name
        )

    problems = read_back()
    if problems and result.first != "exit 0":
        # A command that failed before it started any Dagster run (a pay period it could not
        # check in Rippling) left nothing to replay: the operator runs it again, which must
        # finish the work and duplicate nothing.
        again = product.run(*args)
        result.replay += f"; run again {_outcome(again)}"
        problems = read_back()
    result.problems += problems
    _judge(result, product)
    result.seconds = time.monotonic() - started
    return result


# The hires every workforce cell brings over: a new employee and a new contractor (a vendor).
HIRES = (
    {"given_name": "Matrix", "family_name": "Employee", "employment_type": "SALARIED"},
    {"given_name": "Matrix", "family_name": "Contractor", "employment_type": "CONTRACTOR"},
)


def _hire(sandbox: Sandbox) -> dict[str, dict]:
    """Hire ``HIRES`` in the Rippling stand-in; Rippling worker id -> what the cell checks."""
    hires: dict[str, dict] = {}
    with httpx.Client(
        base_url=sandbox.urls["rippling"], verify=sandbox.client_ssl_context(), timeout=60
    ) as admin:
        for body in HIRES:
            answer = admin.post("/_sandbox/workers", json=body)
            answer.raise_for_status()
            worker = answer.json()["worker"]
            hires[worker["id"]] = {
                "work_email": worker["work_email"],
                "employment_type": body["employment_type"],
            }
    return hires


def sandbox_today(sandbox: Sandbox) -> dt.date:
    return dt.date.fromisoformat(sandbox.company["meta"]["as_of"])


def run_workforce_cell(sandbox: Sandbox, fault: Fault, stage: Stage, workdir: Path) -> CellResult:
    """The workforce sync (``ml-connector workforce sync``) under the fault, then once more."""
    started = time.monotonic()
    env, product = _fresh_cell(sandbox, workdir)
    hires = _hire(sandbox)
    today = sandbox_today(sandbox)
    args = ("workforce", "sync", "--today", today.isoformat())
    sandbox.faults.load({stage.service: [sandbox_rule(fault, stage)]})
    result = CellResult(fault.name, stage.name, "holds", workdir=str(workdir))
    result.first = _faulted_run(sandbox, fault, stage, product, args)
    result.fired = _fired(sandbox, stage.service)
    _settle(sandbox, stage.service, KILL_HOLD_MS if fault.name == "kill" else 0)
    sandbox.faults.clear()
    again = product.run(*args)
    result.replay = f"sync again {_outcome(again)}"
    if again.returncode != 0:
        result.problems.append(f"the second sync ended {result.replay}: {again.tail()}")
    result.problems += readback.check_workforce(env, today, hires)
    _judge(result, product)
    result.seconds = time.monotonic() - started
    return result
