"""The CI rows of the fault matrix (``catalogue.FAST_CELLS``), each a real cell: the product's
own commands in their own processes against the sandbox, the fault, replay, F&O read back.

``make fault-matrix`` runs every cell; these are the ones CI can afford.
"""

from pathlib import Path

import pytest

from faultmatrix.catalogue import FAST_CELLS, fault, stage
from faultmatrix.cells import payroll_scenario, run_payroll_cell, run_workforce_cell
from faultmatrix.webhook_intake import run_webhook_cell
from ml_connector_sandbox.server import Sandbox


@pytest.mark.parametrize(
    ("fault_name", "stage_name"), FAST_CELLS, ids=[f"{f}@{s}" for f, s in FAST_CELLS]
)
def test_the_cell_holds(fresh_sandbox: Sandbox, tmp_path: Path, fault_name, stage_name) -> None:
    f, s = fault(fault_name), stage(stage_name)
    if s.flow == "payroll":
        result = run_payroll_cell(
            fresh_sandbox, f, s, payroll_scenario(fresh_sandbox), tmp_path / "cell"
        )
    elif s.flow == "workforce":
        result = run_workforce_cell(fresh_sandbox, f, s, tmp_path / "cell")
    else:
        result = run_webhook_cell(fresh_sandbox, fault_name, tmp_path / "cell")
    assert result.fired >= 1, "the fault never fired: the cell tested nothing"
    assert result.verdict == "holds", result.problems
