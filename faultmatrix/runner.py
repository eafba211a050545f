"""Runs a list of cells on one sandbox, one after another (each cell resets it)."""

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from faultmatrix.catalogue import fault, stage
from faultmatrix.cells import CellResult, payroll_scenario, run_payroll_cell, run_workforce_cell
from faultmatrix.webhook_intake import run_webhook_cell
from ml_connector_sandbox.server import SandboxConfig, running_sandbox

# The sandbox company of the matrix: the test suite's small company, its calendar pinned.
AS_OF = dt.date(2026, 11, 20)


def run_cells(
    pairs: Sequence[tuple[str, str]],
    root: Path,
    *,
    workers: int = 40,
    on_cell: Callable[[str], None] = lambda label: None,
) -> list[CellResult]:
    config = SandboxConfig(
        data_dir=root / "sandbox",
        ports={"rippling": 0, "entra": 0, "dynamics": 0},
        as_of=AS_OF,
        workers=workers,
        legal_entities=3,
        departments=5,
        pay_periods=4,
    )
    results = []
    with running_sandbox(config) as sandbox:
        # The sandbox logs the connections its faults cut (uvicorn sets its loggers' levels
        # when it starts, so this comes after); the table says what matters.
        for name in ("uvicorn.error", "ml_connector_sandbox"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        scenario = payroll_scenario(sandbox)
        for fault_name, stage_name in pairs:
            f, s = fault(fault_name), stage(stage_name)
            workdir = root / "cells" / f"{stage_name}--{fault_name}"
            if s.flow == "payroll":
                result = run_payroll_cell(sandbox, f, s, scenario, workdir)
            elif s.flow == "workforce":
                result = run_workforce_cell(sandbox, f, s, workdir)
            else:
                result = run_webhook_cell(sandbox, fault_name, workdir)
            results.append(result)
            on_cell(
                f"{fault_name} at {stage_name}: {result.verdict} ({result.seconds:.0f} s)"
                + (f": {'; '.join(result.problems)}" if result.problems else "")
            )
    return results
