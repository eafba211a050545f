"""Money that would post wrong without a word is stopped by name (issue 11), through the real
Dagster assets against the sandbox: a record in another currency than its company's, and an
employer tax Rippling sent as null or left out. Nothing reaches F&O in either case. And the
plausibility warnings, which never block."""

from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from ledger_factories import record
from pipeline_support import (
    admin,
    materialize,
    payroll_materializations,
    pipeline_env,
    resources,
    sandbox_writes,
    table_text,
)

from ml_connector_dagster.defs.payroll.assets import posted_journals
from ml_connector_dagster.defs.payroll.checks import PLAUSIBILITY_CHECKS, plausible
from ml_connector_dagster.ledger.inputs import PayrollRecord
from ml_connector_dagster.payroll.snapshot import PeriodSnapshot
from ml_connector_dagster.rippling.models import PayrollRun
from ml_connector_sandbox.server import Sandbox

COMPANY = "USMF"


@pytest.fixture
def env(fresh_sandbox: Sandbox, sandbox_env, tmp_path: Path, monkeypatch) -> dict:
    return pipeline_env(fresh_sandbox, tmp_path, monkeypatch)


def _run(env) -> dg.ExecuteInProcessResult:
    with dg.instance_for_test() as instance:
        return materialize(instance, env["resources"], env["period"], COMPANY)


def _evaluation(result: dg.ExecuteInProcessResult, name: str) -> Any:
    [evaluation] = [c for c in result.get_asset_check_evaluations() if c.check_name == name]
    return evaluation


def _posted(result: dg.ExecuteInProcessResult) -> list:
    return [
        e for e in result.get_asset_materialization_events() if e.asset_key == posted_journals.key
    ]


def _record_with_employer_tax(env) -> dict:
    """A record of the period's USMF runs that carries an employer-paid tax."""
    ids = {r["id"] for r in env["runs"]}
    return next(
        dict(r)
        for r in env["sandbox"].company["rippling"]["worker_payroll_records"]
        if r["run_id"] in ids and any(t["paid_by"] == "EMPLOYER" for t in r["taxes"])
    )


def _put(env, record: dict) -> None:
    with admin(env["sandbox"], "rippling") as rippling:
        answer = rippling.put(
            f"/_sandbox/payroll-runs/{record['run_id']}/worker-payroll-records/{record['id']}",
            json=record,
        )
        assert answer.status_code == 200, answer.text


def test_a_eur_record_in_a_usd_company_blocks_by_name_and_nothing_is_written(env) -> None:
    source = _record_with_employer_tax(env)
    assert source["currency"] == "USD"
    _put(env, {**source, "currency": "EUR"})  # still balanced, summaries still equal items
    before = sandbox_writes(env["sandbox"])
    result = _run(env)
    assert not result.success
    assert _evaluation(result, "source_sane").passed  # the record itself is sane ...
    mapped = _evaluation(result, "fully_mapped")  # ... but has no place in a USD ledger
    assert not mapped.passed
    details = table_text(mapped.metadata["details"])
    assert source["id"] in details and "EUR" in details and "USD" in details
    assert f"{COMPANY} books in USD" in details
    assert _posted(result) == [] and sandbox_writes(env["sandbox"]) == before


def test_an_employer_tax_summary_left_out_blocks_naming_record_and_field(env) -> None:
    source = _record_with_employer_tax(env)
    summary = {k: v for k, v in source["summary"].items() if k != "employer_taxes"}
    _put(env, {**source, "summary": summary})
    before = sandbox_writes(env["sandbox"])
    result = _run(env)
    assert not result.success
    sane = _evaluation(result, "source_sane")
    assert not sane.passed
    details = table_text(sane.metadata["details"])
    assert source["id"] in details and "summary.employer_taxes" in details
    assert "absent" in details and "a missing amount is not zero" in details
    assert payroll_materializations(result) == []
    assert sandbox_writes(env["sandbox"]) == before


def test_a_null_employer_tax_blocks_naming_record_and_field(env) -> None:
    source = _record_with_employer_tax(env)
    position = next(n for n, t in enumerate(source["taxes"]) if t["paid_by"] == "EMPLOYER")
    taxes = [dict(t) for t in source["taxes"]]
    taxes[position]["amount"] = None
    _put(env, {**source, "taxes": taxes})
    before = sandbox_writes(env["sandbox"])
    result = _run(env)
    assert not result.success
    sane = _evaluation(result, "source_sane")
    assert not sane.passed
    details = table_text(sane.metadata["details"])
    assert source["id"] in details
    assert payroll_materializations(result) == []
    assert sandbox_writes(env["sandbox"]) == before
    assert f"taxes[{position}].amount" in details and "null" in details


def _snapshot(records: list[PayrollRecord]) -> PeriodSnapshot:
    run = PayrollRun(id="run_1")
    return PeriodSnapshot("2026-11-15", COMPANY, runs=[run], records={"run_1": records})


def test_the_plausibility_check_is_a_non_blocking_warning() -> None:
    [spec] = PLAUSIBILITY_CHECKS
    assert spec.name == "plausible" and not spec.blocking
    regular = record("r1", "w", [("SALARY", "1000.00")])
    bonus = record("r2", "w", [("BONUS", "3500.00")])
    negative = record("r3", "v", [("SALARY", "10.00")], ["20.00"])
    key = f"{COMPANY}|2026-11-15"
    result = plausible({key: _snapshot([regular, bonus, negative])}, {key: []})
    assert not result.passed and result.severity is dg.AssetCheckSeverity.WARN
    details = table_text(result.metadata["details"])
    assert "record r2" in details and "gross_pay" in details and "record r3" in details
    quiet = plausible({key: _snapshot([regular])}, {key: []})
    assert quiet.passed and quiet.severity is dg.AssetCheckSeverity.WARN


def test_a_gross_far_above_the_worker_s_earlier_periods_is_a_warning_naming_them(
    env, tmp_path
) -> None:
    """Issue 11: "a worker's gross far above their history". The history is the worker's gross
    in earlier pay periods this deployment stored; without it the same record passes."""
    sandbox = env["sandbox"]
    ids = {r["id"] for r in env["runs"]}
    rippling = sandbox.company["rippling"]
    counts: dict[str, int] = {}
    for r in rippling["worker_payroll_records"]:
        if r["run_id"] in ids:
            counts[r["worker_id"]] = counts.get(r["worker_id"], 0) + 1
    paid_periods = sorted(
        {
            run["pay_period"]["end_date"]
            for run in rippling["payroll_runs"]
            if run["run_state"] == "PAID"
            and run["company_entity_id"] == env["runs"][0]["company_entity_id"]
        }
    )
    earlier = paid_periods[-2]
    assert earlier < env["period"]
    earlier_runs = {
        run["id"]
        for run in rippling["payroll_runs"]
        if run["pay_period"]["end_date"] == earlier
        and run["company_entity_id"] == env["runs"][0]["company_entity_id"]
    }
    paid_before = {
        r["worker_id"]
        for r in rippling["worker_payroll_records"]
        if r["run_id"] in earlier_runs and Decimal(r["gross_pay"]) > 0
    }
    source = next(
        dict(r)
        for r in rippling["worker_payroll_records"]
        if r["run_id"] in ids
        and counts[r["worker_id"]] == 1  # no earlier run of this period to compare with
        and r["worker_id"] in paid_before  # but a gross in the earlier period
        and Decimal(r["gross_pay"]) > 0
    )
    before = max(
        Decimal(r["gross_pay"])
        for r in rippling["worker_payroll_records"]
        if r["run_id"] in earlier_runs and r["worker_id"] == source["worker_id"]
    )
    extra = before * 4  # the new gross is more than 3 x the earlier period's
    raised = {
        **source,
        "earnings": [
            *source["earnings"],
            {
                "earning_code": "BONUS",
                "earning_category": "BONUS",
                "display_name": "Bonus keyed wrong",
                "amount": str(extra),
                "hours": None,
                "rate": None,
                "time_labels": [],
            },
        ],
        "gross_pay": str(Decimal(source["gross_pay"]) + extra),
        "net_pay": str(Decimal(source["net_pay"]) + extra),
    }
    _put(env, raised)

    def plausibility(instance) -> Any:
        result = materialize(instance, env["resources"], env["period"], COMPANY)
        assert result.success  # a warning never blocks
        return _evaluation(result, "plausible")

    # Without history: nothing earlier to compare with, no warning for this record.
    with dg.instance_for_test() as instance:
        alone = plausibility(instance)
    assert alone.metadata["history_periods"].value == []
    assert source["id"] not in table_text(alone.metadata["details"])

    # With the earlier period materialized (its snapshot stored), the record is named.
    sandbox.reset()
    _put(env, raised)
    (tmp_path / "second").mkdir()
    fresh = resources(tmp_path / "second", env["mapping"])
    with dg.instance_for_test() as instance:
        assert materialize(instance, fresh, earlier, COMPANY).success
        result = materialize(instance, fresh, env["period"], COMPANY)
        assert result.success
        warned = _evaluation(result, "plausible")
    assert warned.metadata["history_periods"].value == [earlier]
    assert not warned.passed and warned.severity is dg.AssetCheckSeverity.WARN
    details = table_text(warned.metadata["details"])
    assert source["id"] in details and "gross_pay" in details
    assert str(extra) not in details  # summary detail level: the amount is withheld
