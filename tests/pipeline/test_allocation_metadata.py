"""The journals say which source allocated each worker (issue 15): counts and amounts per
source, checked against the sandbox's seed records, classified here on their own.

The newest paid USMF period of the test company has workers of every kind: hours logged in the
period (one more with a DRAFT entry only, which must not count), an enabled time split, job
assignments, and neither (department).
"""

from collections import defaultdict
from decimal import Decimal
from typing import Any

import dagster as dg
import pytest
import yaml
from pipeline_support import materialize, pipeline_env, resources, table_rows

from ml_connector_dagster.defs.payroll.allocation_table import FEW_WORKERS
from ml_connector_dagster.defs.payroll.assets import labor_cost_journals
from ml_connector_sandbox.server import Sandbox

COMPANY = "USMF"


@pytest.fixture
def env(fresh_sandbox: Sandbox, sandbox_env, tmp_path, monkeypatch) -> dict:
    return pipeline_env(fresh_sandbox, tmp_path, monkeypatch)


def _expected(rippling: dict[str, Any], runs: list[dict]) -> dict[tuple[str, str], dict]:
    """(run, source) -> workers, records and expense, from the seed file alone."""
    enabled = {s["worker_id"] for s in rippling["worker_time_splits"] if s["is_enabled"]}
    assigned = {a["worker_id"] for a in rippling["job_assignments"] if a.get("job_code_id")}
    out: dict[tuple[str, str], dict] = defaultdict(
        lambda: {"workers": set(), "records": 0, "expense": Decimal("0.00")}
    )
    for run in runs:
        start = run["pay_period"]["start_date"]
        logged = {
            e["worker_id"]
            for e in rippling["time_entries"]
            if e["status"] != "DRAFT"
            and e["pay_period"]["start_date"] == start
            and any(s["end_time"] > s["start_time"] for s in e["job_shifts"])
        }
        for record in rippling["worker_payroll_records"]:
            if record["run_id"] != run["id"]:
                continue
            worker = record["worker_id"]
            if worker in logged:
                source = "time_entries"
            elif worker in enabled:
                source = "time_split"
            elif worker in assigned:
                source = "job_assignments"
            else:
                source = "department"
            row = out[(run["id"], source)]
            row["workers"].add(worker)
            row["records"] += 1
            row["expense"] += sum(Decimal(e["amount"]) for e in record["earnings"])
            row["expense"] += sum(
                Decimal(t["amount"]) for t in record["taxes"] if t["paid_by"] == "EMPLOYER"
            )
            row["expense"] += sum(Decimal(d["employer_amount"]) for d in record["deductions"])
    return out


def _allocation(result: dg.ExecuteInProcessResult) -> list[dict]:
    [event] = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == labor_cost_journals.key
    ]
    return table_rows(event.materialization.metadata["allocation"])


def test_the_journals_count_and_sum_each_allocation_source(env, tmp_path) -> None:
    rippling = env["sandbox"].company["rippling"]
    expected = _expected(rippling, env["runs"])
    assert {source for _, source in expected} == {
        "time_entries",
        "time_split",
        "job_assignments",
        "department",
    }, "the test company should hold every kind of worker in this period"
    with dg.instance_for_test() as instance:
        summary = materialize(instance, env["resources"], env["period"], COMPANY)
    assert summary.success
    rows = _allocation(summary)
    assert {(r["run"], r["source"]): (r["workers"], r["records"]) for r in rows} == {
        key: (len(row["workers"]), row["records"]) for key, row in expected.items()
    }
    if any(len(row["workers"]) < 2 for row in expected.values()):  # one person's pay: withheld
        assert all(r["expense"] is None and r["note"] == FEW_WORKERS for r in rows)

    # At the worker detail level (finance's opt-in to per-person amounts) the amounts show.
    document = yaml.safe_load(env["mapping"].read_text())
    document["journal"]["detail_level"] = "worker"
    detailed = tmp_path / "mapping-worker.yaml"
    detailed.write_text(yaml.safe_dump(document))
    with dg.instance_for_test() as instance:
        result = materialize(
            instance, resources(tmp_path / "detail", detailed), env["period"], COMPANY
        )
    assert result.success
    shown = {(r["run"], r["source"]): r["expense"] for r in _allocation(result)}
    assert shown == {key: float(row["expense"]) for key, row in expected.items()}
