"""One person's pay is not shown in the UI unless finance chose the worker detail level (issue 11).

"Metadata shown in the UI carries totals and counts, never one person's pay unless the worker
detail level is chosen." At the mapping's default ``journal.detail_level: summary``:

- a check finding about one record or worker names the record, the worker and the field, but
  withholds the amounts (a bad record, a plausibility warning);
- a run of one worker withholds its totals (the balanced and reconciled findings, the posted
  journals' totals, matches_rippling's differences), and a partition of one worker, or with a
  run of one worker, withholds the partition's totals too (the other runs' rows would give the
  one run's back by subtraction).

The counts, journal numbers and statuses stay. With ``detail_level: worker`` every amount is
shown. The pipeline tests run the real assets against the sandbox and collect every number the
metadata of the three payroll assets and their checks shows.
"""

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from ledger_factories import mapping, record, run
from pipeline_support import USMF_LEGAL_NAME, admin, materialize, pipeline_env, table_rows

from ml_connector_dagster.audit.store import Outcome
from ml_connector_dagster.defs.payroll.assets import (
    ONE_WORKER_RUN,
    POSTED_COLUMNS,
    _rows,
    labor_cost_journals,
    payroll_cost_snapshot,
    posted_journals,
)
from ml_connector_dagster.defs.payroll.checks import (
    ONE_WORKER,
    findings_table,
    matches_rippling,
    pure_findings,
)
from ml_connector_dagster.ledger.checks import WITHHELD
from ml_connector_dagster.ledger.dimensions import WorkerContext
from ml_connector_dagster.ledger.inputs import PayrollRecord
from ml_connector_dagster.ledger.journal import JournalBuild, build_journal
from ml_connector_dagster.payroll.snapshot import PeriodSnapshot
from ml_connector_dagster.posting.lines import Difference
from ml_connector_dagster.posting.poster import PartResult, PostResult
from ml_connector_dagster.posting.status import JournalStatus
from ml_connector_dagster.rippling.models import PayrollRun
from ml_connector_sandbox.mapping import sandbox_mapping
from ml_connector_sandbox.server import Sandbox
from tests.pipeline.test_data_at_rest import numbers_shown

COMPANY = "USMF"
KEY = f"{COMPANY}|2026-11-15"
M = mapping()
WORKERS = {w: WorkerContext(w, department_key="D200") for w in ("w", "v")}


# --- the pure parts --------------------------------------------------------------------------
def _good(record_id: str = "p", worker: str = "w") -> PayrollRecord:
    return record(
        record_id,
        worker,
        [("SALARY", "1000.00")],
        ["100.00"],
        ["76.50"],
        [("50.00", "25.00")],
        ["10.00"],
    )


def _checked(records: list[PayrollRecord]) -> dict[str, list]:
    build = build_journal(run(), records, WORKERS, M, M.company(COMPANY))
    snapshot = PeriodSnapshot(
        "2026-11-15", COMPANY, runs=[PayrollRun(id="run_1")], records={"run_1": records}
    )
    return pure_findings(M, {KEY: [build]}, {KEY: snapshot})


def _cells(findings: list, detail_level: str) -> set[Decimal]:
    return numbers_shown(findings_table(findings, detail_level))


def test_the_totals_of_a_run_of_one_worker_are_withheld_from_balanced_and_reconciled() -> None:
    good = _good()
    bad = replace(
        good,
        net_pay=Decimal("840.01"),  # credits now exceed debits by a cent
        summary=replace(good.summary, employer_taxes=Decimal("80.00")),
    )
    found = _checked([bad])
    assert found["balanced"] and found["reconciled"]
    assert all(f.personal for f in found["balanced"] + found["reconciled"])
    for name in ("balanced", "reconciled"):
        # the journal's total debit (1101.50) is this one worker's employer cost
        assert _cells(found[name], "summary") == set(), name
        assert WITHHELD in str(table_rows(findings_table(found[name], "summary")))
        assert _cells(found[name], "worker"), name
    assert Decimal("1101.50") in _cells(found["balanced"], "worker")


def test_the_totals_of_a_run_of_two_workers_stay_in_the_findings() -> None:
    bad = replace(_good(), net_pay=Decimal("840.01"))
    found = _checked([bad, _good("q", "v")])
    assert found["balanced"] and not any(f.personal for f in found["balanced"])
    assert Decimal("2203.00") in _cells(found["balanced"], "summary")  # two workers' debits


def test_differences_and_posted_totals_of_a_withheld_run_show_no_amount() -> None:
    difference = Difference("600100-001-D200", "USD", Decimal("1000.00"), Decimal("1010.00"))
    check = matches_rippling({"run_1": [difference], "run_2": [difference]}, 2, {"run_1"})
    one, two = table_rows(check.metadata["details"])
    assert (one["in F&O"], one["now"], one["difference"]) == (None, None, None)
    assert ONE_WORKER in one["run"] and one["account and dimensions"] == "600100-001-D200"
    assert (two["in F&O"], two["now"], two["difference"]) == (1000.0, 1010.0, 10.0)
    exact = check.metadata["differences_exact"].value
    assert exact[0]["in_dynamics"] == exact[0]["now"] == exact[0]["difference"] == ONE_WORKER
    assert exact[1]["difference"] == "10.00"
    part = PartResult("d", "USMF-000007", "created", 8, Decimal("1101.50"), Decimal("1101.50"))
    message = "Rippling data differs: 600100 USD: F&O 1000.00, Rippling now 1010.00"
    results = [
        PostResult("k1", "run_1", COMPANY, Outcome.CREATED, [part], message),
        PostResult("k2", "run_2", COMPANY, Outcome.CREATED, [part], message),
    ]
    hidden, shown = (
        dict(zip([c.name for c in POSTED_COLUMNS], row, strict=True))
        for row in _rows(results, {"run_1"}, "USD")
    )
    assert (hidden.pop("run"), shown.pop("run")) == ("run_1", "run_2")
    kept = ("status", "JournalBatchNumber", "lines", "currency")
    assert (
        [hidden[k] for k in kept]
        == [shown[k] for k in kept]
        == [
            JournalStatus.CREATED.value,
            "USMF-000007",
            8,
            "USD",
        ]
    )
    totals = ("debit (Dynamics)", "credit (Dynamics)")
    assert [hidden[k] for k in totals] == [None, None]
    assert [shown[k] for k in totals] == [Decimal("1101.50")] * 2
    assert "1000.00" not in hidden["why"] and "1010.00" not in hidden["why"]
    assert ONE_WORKER in hidden["why"] and shown["why"] == message


# --- through the real assets -------------------------------------------------------------------
@pytest.fixture
def env(fresh_sandbox: Sandbox, sandbox_env, tmp_path: Path, monkeypatch) -> dict:
    return pipeline_env(fresh_sandbox, tmp_path, monkeypatch)


def _detail_level(env: dict, level: str) -> None:
    data = sandbox_mapping(env["sandbox"].company)
    data["journal"]["detail_level"] = level
    env["mapping"].write_text(yaml.safe_dump(data, sort_keys=False))


def _run(env: dict, period: str | None = None) -> dg.ExecuteInProcessResult:
    with dg.instance_for_test() as instance:
        return materialize(instance, env["resources"], period or env["period"], COMPANY)


def _shown(result: dg.ExecuteInProcessResult) -> dict[str, set[Decimal]]:
    """Every number shown, by where: each metadata entry of the three assets and their checks."""
    shown: dict[str, set[Decimal]] = {}
    for event in result.get_asset_materialization_events():
        for name, value in event.materialization.metadata.items():
            shown[f"{event.asset_key.to_user_string()} {name}"] = numbers_shown(value)
    for check in result.get_asset_check_evaluations():
        for name, value in check.metadata.items():
            shown[f"check {check.check_name} {name}"] = numbers_shown(value)
    return shown


def _showing(shown: dict[str, set[Decimal]], amounts: set[Decimal]) -> dict[str, set[Decimal]]:
    return {where: numbers & amounts for where, numbers in shown.items() if numbers & amounts}


def _metadata(result: dg.ExecuteInProcessResult, asset: dg.AssetsDefinition) -> dict[str, Any]:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == asset.key]
    return event.materialization.metadata


def _sandbox_amounts(data: dict) -> set[Decimal]:
    """Every amount of a record as the sandbox holds it, and the sums a check compares."""
    d = Decimal
    summary = {k: d(v) for k, v in data["summary"].items()}
    amounts = {d(data["gross_pay"]), d(data["net_pay"]), *summary.values()}
    amounts |= {d(e["amount"]) for e in data["earnings"]}
    amounts |= {d(t["amount"]) for t in data["taxes"] if t["amount"] is not None}
    amounts |= {d(x[k]) for x in data["deductions"] for k in ("employee_amount", "employer_amount")}
    amounts |= {d(g["amount"]) for g in data["garnishments"]}
    amounts.add(
        d(data["net_pay"])
        + summary["employee_taxes"]
        + summary["employee_deductions"]
        + summary["total_garnishments"]
    )
    amounts.add(sum((d(t["amount"]) for t in data["taxes"] if t["paid_by"] == "EMPLOYER"), d(0)))
    return _telling(amounts)


def _telling(amounts: set[Decimal]) -> set[Decimal]:
    """Amounts that cannot be mistaken for a count (a line count, a worker count)."""
    return {a for a in amounts if a != a.to_integral_value() or abs(a) >= 1000}


def _records_of_period(env: dict) -> list[dict]:
    ids = {r["id"] for r in env["runs"]}
    return [
        r
        for r in env["sandbox"].company["rippling"]["worker_payroll_records"]
        if r["run_id"] in ids
    ]


def _corrupt_a_record(env: dict) -> dict:
    """One record of the period with an employer tax summary above its items and a net pay a
    unit too high (gross no longer equals net + deductions): two source_sane findings."""
    source = next(
        dict(r)
        for r in _records_of_period(env)
        if any(t["paid_by"] == "EMPLOYER" for t in r["taxes"])
    )
    summary = dict(source["summary"])
    summary["employer_taxes"] = str(Decimal(summary["employer_taxes"]) + Decimal("7.77"))
    bad = {**source, "summary": summary, "net_pay": str(Decimal(source["net_pay"]) + 1)}
    with admin(env["sandbox"], "rippling") as rippling:
        answer = rippling.put(
            f"/_sandbox/payroll-runs/{bad['run_id']}/worker-payroll-records/{bad['id']}", json=bad
        )
        assert answer.status_code == 200, answer.text
    return bad


def _source_sane_details(result: dg.ExecuteInProcessResult) -> dg.TableMetadataValue:
    [check] = [c for c in result.get_asset_check_evaluations() if c.check_name == "source_sane"]
    assert not check.passed
    return check.metadata["details"]


def test_a_bad_record_is_named_by_record_worker_and_field_without_its_amounts(env) -> None:
    bad = _corrupt_a_record(env)
    result = _run(env)
    assert not result.success
    details = _source_sane_details(result)
    rows = [r for r in table_rows(details) if bad["id"] in r["subject"]]
    assert {r["item"] for r in rows} >= {"gross_pay", "summary.employer_taxes"}
    assert all(bad["worker_id"] in r["subject"] for r in rows)
    amounts = _sandbox_amounts(bad)
    assert Decimal(bad["summary"]["employer_taxes"]) in amounts
    assert not numbers_shown(details) & amounts
    assert WITHHELD in str(rows)


def test_the_same_bad_record_shows_its_amounts_at_the_worker_detail_level(env) -> None:
    _detail_level(env, "worker")
    bad = _corrupt_a_record(env)
    result = _run(env)
    assert not result.success
    shown = numbers_shown(_source_sane_details(result))
    assert Decimal(bad["summary"]["employer_taxes"]) in shown  # as reported
    assert Decimal(bad["gross_pay"]) in shown


# A pay period of its own: no seeded run ends on 2026-11-07.
ALONE = {"start_date": "2026-11-01", "end_date": "2026-11-07", "check_date": "2026-11-11"}


def _employees(env: dict) -> list[str]:
    """Workers of the period's records that are not contractors (an off-cycle run pays those)."""
    rippling = env["sandbox"].company["rippling"]
    contractor = {t["id"] for t in rippling["employment_types"] if t["type"] == "CONTRACTOR"}
    workers = {w["id"]: w for w in rippling["workers"]}
    ids = sorted({r["worker_id"] for r in _records_of_period(env)})
    return [w for w in ids if workers[w]["employment_type_id"] not in contractor]


def _paid_run(env: dict, worker_ids: list[str], **body: str) -> str:
    """A PAID run of USMF for exactly ``worker_ids``; its id."""
    entity = next(
        e["id"]
        for e in env["sandbox"].company["rippling"]["company_legal_entities"]
        if e["legal_name"] == USMF_LEGAL_NAME
    )
    with admin(env["sandbox"], "rippling") as rippling:
        created = rippling.post(
            "/_sandbox/payroll-runs",
            json={"company_entity_id": entity, "run_state": "APPROVED", "worker_ids": worker_ids}
            | body,
        )
        assert created.status_code == 201, created.text
        assert created.json()["records"] == len(worker_ids)
        run_id = created.json()["run"]["id"]
        paid = rippling.patch(f"/_sandbox/payroll-runs/{run_id}", json={"run_state": "PAID"})
        assert paid.status_code == 200, paid.text
    return run_id


def _outputs(result: dg.ExecuteInProcessResult) -> tuple[PeriodSnapshot, list[JournalBuild]]:
    [snapshot] = result.output_for_node("rippling__payroll_cost_snapshot").values()
    [builds] = result.output_for_node("ledger__labor_cost_journals").values()
    return snapshot, builds


def _pay(records: list[PayrollRecord], builds: list[JournalBuild]) -> set[Decimal]:
    """One worker's gross, net and employer cost (what the journals debit for them)."""
    amounts = set()
    for r in records:
        s = r.summary
        amounts |= {r.gross_pay, r.net_pay, r.gross_pay + s.employer_taxes}
        amounts.add(r.gross_pay + s.employer_taxes + s.employer_contributions)
    amounts |= {b.journal.total_debit for b in builds}
    return _telling(amounts)


def test_a_partition_of_one_worker_shows_counts_and_journal_numbers_not_their_pay(env) -> None:
    run_id = _paid_run(env, _employees(env)[:1], **ALONE)
    result = _run(env, ALONE["end_date"])
    assert result.success
    snapshot, builds = _outputs(result)
    records = snapshot.all_records()
    assert len({r.worker_id for r in records}) == 1
    pay = _pay(records, builds)
    assert next(iter(records)).gross_pay in pay
    assert _showing(_shown(result), pay) == {}

    snap = _metadata(result, payroll_cost_snapshot)
    assert (snap["worker_count"].value, snap["record_count"].value) == (1, 1)
    assert set(snap["totals_exact"].value.values()) == {ONE_WORKER}
    totals = table_rows(snap["totals_by_category"])
    assert totals and all(r["Rippling total"] is None and r["note"] == ONE_WORKER for r in totals)
    journals = _metadata(result, labor_cost_journals)
    assert journals["journals"].value == 1 and journals["line_count"].value > 0
    assert journals["total_debit_exact"].value == {"USD": ONE_WORKER}
    assert "total_debit_USD" not in journals  # no plot of one person's pay either
    posted = _metadata(result, posted_journals)
    [numbers] = posted["journal_batch_numbers"].value.values()
    assert numbers and posted["created"].value == 1
    rows = table_rows(posted["journals"])
    assert [r["JournalBatchNumber"] for r in rows] == numbers
    assert all(r["run"] == run_id and r["lines"] > 0 for r in rows)
    assert all(r["currency"] == "USD" for r in rows)  # the company's, even with amounts hidden
    assert all(r["debit (Dynamics)"] is None and ONE_WORKER in r["why"] for r in rows)


def test_a_partition_of_one_worker_shows_their_pay_at_the_worker_detail_level(env) -> None:
    _detail_level(env, "worker")
    _paid_run(env, _employees(env)[:1], **ALONE)
    result = _run(env, ALONE["end_date"])
    assert result.success
    snapshot, [build] = _outputs(result)
    [one] = snapshot.all_records()
    snap = _metadata(result, payroll_cost_snapshot)
    assert snap["totals_exact"].value["USD earnings"] == str(one.gross_pay)
    assert snap["totals_exact"].value["USD net_pay"] == str(one.net_pay)
    journals = _metadata(result, labor_cost_journals)
    assert journals["total_debit_exact"].value == {"USD": str(build.journal.total_debit)}
    [row] = table_rows(_metadata(result, posted_journals)["journals"])
    assert row["debit (Dynamics)"] == float(build.journal.total_debit)


def test_a_partition_of_two_workers_shows_its_totals(env) -> None:
    _paid_run(env, _employees(env)[:2], **ALONE)
    result = _run(env, ALONE["end_date"])
    assert result.success
    snapshot, [build] = _outputs(result)
    records = snapshot.all_records()
    assert len({r.worker_id for r in records}) == 2
    gross = sum((r.gross_pay for r in records), Decimal("0.00"))
    snap = _metadata(result, payroll_cost_snapshot)
    assert snap["totals_exact"].value["USD earnings"] == str(gross)
    assert {r["note"] for r in table_rows(snap["totals_by_category"])} == {""}
    journals = _metadata(result, labor_cost_journals)
    assert journals["total_debit_exact"].value == {"USD": str(build.journal.total_debit)}
    # a number per currency, so the asset's plots show the totals over pay periods
    assert journals["total_debit_USD"].value == float(build.journal.total_debit)
    [row] = table_rows(_metadata(result, posted_journals)["journals"])
    assert row["debit (Dynamics)"] == float(build.journal.total_debit)
    # and still no single worker's own gross or net
    shown = _shown(result)
    for r in records:
        assert _showing(shown, _telling({r.gross_pay, r.net_pay})) == {}


def test_a_run_of_one_worker_beside_larger_runs_withholds_it_and_the_partition_totals(
    env,
) -> None:
    """An off-cycle run for one worker in the period of the regular runs: its totals are that
    person's pay, and the partition's totals minus the regular runs' would give them back."""
    period = dt.date.fromisoformat(env["period"])
    alone = _paid_run(
        env,
        _employees(env)[:1],
        run_type="OFF_CYCLE",
        start_date=(period - dt.timedelta(days=13)).isoformat(),
        end_date=env["period"],
        check_date=(period + dt.timedelta(days=12)).isoformat(),
    )
    result = _run(env)
    assert result.success
    snapshot, builds = _outputs(result)
    assert len(snapshot.runs) == len(env["runs"]) + 1
    pay = _pay(snapshot.records[alone], [b for b in builds if b.journal.identity.run_id == alone])
    assert pay and _showing(_shown(result), pay) == {}

    snap = _metadata(result, payroll_cost_snapshot)
    assert set(snap["totals_exact"].value.values()) == {ONE_WORKER_RUN}
    journals = _metadata(result, labor_cost_journals)
    assert set(journals["total_debit_exact"].value.values()) == {ONE_WORKER_RUN}
    assert "total_debit_USD" not in journals
    rows = table_rows(_metadata(result, posted_journals)["journals"])
    hidden = [r for r in rows if r["run"] == alone]
    assert hidden and all(r["debit (Dynamics)"] is None for r in hidden)
    assert all(r["JournalBatchNumber"] for r in hidden)
    others = [r for r in rows if r["run"] != alone]
    assert others and all(r["debit (Dynamics)"] > 0 for r in others)  # many workers each
