"""The matrix's axes: every cell is either a valid sandbox rule, played by the harness, or
named not applicable with a reason; the CI rows are real cells."""

import pytest

from faultmatrix.catalogue import (
    FAST_CELLS,
    FAULTS,
    NOT_APPLICABLE,
    STAGES,
    WEBHOOK_FAULTS,
    sandbox_rule,
)
from ml_connector_sandbox.faults import SERVICES, FaultRule

PAIRS = [(f, s) for f in FAULTS for s in STAGES]


@pytest.mark.parametrize(("fault", "stage"), PAIRS, ids=[f"{f.name}@{s.name}" for f, s in PAIRS])
def test_every_cell_is_a_valid_rule_a_played_fault_or_not_applicable(fault, stage) -> None:
    if (fault.name, stage.name) in NOT_APPLICABLE:
        assert NOT_APPLICABLE[(fault.name, stage.name)].strip()
        return
    if stage.service == "receiver":
        assert WEBHOOK_FAULTS[fault.name], "a webhook fault the harness plays needs a text"
        return
    assert stage.service in SERVICES
    rule = FaultRule.from_mapping(sandbox_rule(fault, stage))  # the sandbox accepts it
    assert rule.path_prefix == stage.path_prefix
    assert rule.method == stage.method
    assert rule.times is not None and rule.times >= 1  # the fault clears by itself
    if fault.name == "latency":
        assert rule.latency_ms > stage.timeout_ms  # really past the client's timeout


def test_the_ci_rows_are_applicable_cells_covering_every_fault_and_flow() -> None:
    names = {(f.name, s.name) for f, s in PAIRS}
    assert set(FAST_CELLS) <= names - set(NOT_APPLICABLE)
    assert {f for f, _ in FAST_CELLS} == {f.name for f in FAULTS}
    flows = {s.flow for s in STAGES if s.name in {stage for _, stage in FAST_CELLS}}
    assert flows == {"payroll", "workforce", "webhooks"}


def test_the_issue_s_faults_and_stages_are_all_there() -> None:
    assert {f.name for f in FAULTS} == {
        "429",
        "5xx",
        "drop-before",
        "drop-after",
        "late-commit",
        "latency",
        "token-expiry",
        "kill",
    }
    assert {s.name for s in STAGES} >= {
        "rippling-reads",
        "token-issue",
        "header-create",
        "lines-batch",
        "read-back",
        "worker-writes",
        "webhook-intake",
    }
    # Rippling throttles without Retry-After, Entra and F&O with it: the sandbox's services do
    # (fault_middleware), the catalogue only names the service.
    services = {s.name: s.service for s in STAGES}
    assert services["rippling-reads"] == "rippling"
    assert services["token-issue"] == "entra"
