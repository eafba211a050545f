"""Lineage against the sandbox, through the code location's own jobs on a real instance: the
mapping file observed (its content hash its data version), reference data versions that change
only with the data, staleness of the journals, and F&O read back for the journals created."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.asset_graph_view.asset_graph_view import AssetGraphView, TemporalContext
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
from pipeline_support import admin, latest_paid_period, table_rows

from ml_connector_dagster import clock
from ml_connector_dagster.config.mapping import read_mapping_file
from ml_connector_dagster.connections import Connection
from ml_connector_dagster.definitions import defs
from ml_connector_dagster.defs.payroll.partitions import legal_entities, partition_key, pay_periods
from ml_connector_dagster.defs.resources import ConnectorResource
from ml_connector_sandbox.mapping import write_sandbox_mapping
from ml_connector_sandbox.server import Sandbox

COMPANY = "USMF"
MAPPING = dg.AssetKey(["finance", "payroll_mapping"])
JOURNALS = dg.AssetKey(["ledger", "labor_cost_journals"])
POSTED = dg.AssetKey(["dynamics", "posted_journals"])
REFERENCE = [
    dg.AssetKey(["rippling", "departments"]),
    dg.AssetKey(["rippling", "legal_entities"]),
    dg.AssetKey(["dynamics", "ledger_dimensions"]),
    dg.AssetKey(["rippling", "job_codes"]),
    dg.AssetKey(["rippling", "employment_types"]),
    dg.AssetKey(["rippling", "workers"]),
    dg.AssetKey(["ledger", "dimension_mapping"]),
]
DATA_VERSION = "dagster/data_version"


@pytest.fixture
def env(fresh_sandbox: Sandbox, sandbox_env, tmp_path: Path, monkeypatch) -> dict:
    home = tmp_path / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    mapping = write_sandbox_mapping(fresh_sandbox.company, tmp_path / "mapping.yaml")
    monkeypatch.setenv("ML_CONNECTOR_MAPPING", str(mapping))
    monkeypatch.delenv("ML_CONNECTOR_AUDIT_URL", raising=False)
    period, _ = latest_paid_period(fresh_sandbox)
    return {"sandbox": fresh_sandbox, "period": period, "mapping": mapping}


def _run_job(instance: dg.DagsterInstance, name: str, **kwargs) -> dg.ExecuteInProcessResult:
    result = defs.resolve_job_def(name).execute_in_process(instance=instance, **kwargs)
    assert result.success, name
    return result


def _pay_period(instance: dg.DagsterInstance, period: str) -> str:
    """The payroll job, as the sensor launches it, for USMF's newest paid period."""
    instance.add_dynamic_partitions(pay_periods.name, [period])
    instance.add_dynamic_partitions(legal_entities.name, [COMPANY])
    key = partition_key(period, COMPANY)
    _run_job(instance, "payroll_to_ledger", partition_key=key)
    return str(key)


def _version(instance: dg.DagsterInstance, key: dg.AssetKey) -> str:
    record = instance.get_latest_data_version_record(key, is_source=key == MAPPING)
    assert record is not None, key
    return record.event_log_entry.tags[DATA_VERSION]


def _status(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str) -> StaleStatus:
    graph = defs.resolve_asset_graph()
    view = AssetGraphView(
        temporal_context=TemporalContext(effective_dt=clock.now(), last_event_id=None),
        instance=instance,
        asset_graph=graph,
    )
    return CachingStaleStatusResolver(instance, graph, view).get_status(key, partition)


# --- the mapping file ------------------------------------------------------------------------


def test_the_mapping_version_changes_exactly_when_its_content_does(env) -> None:
    path: Path = env["mapping"]
    with dg.instance_for_test() as instance:
        _run_job(instance, "observe_payroll_mapping")
        first = _version(instance, MAPPING)
        assert first == read_mapping_file(path).content_hash
        record = instance.fetch_observations(MAPPING, limit=1).records[0]
        metadata = record.asset_observation.metadata
        assert metadata["path"].value == str(path.resolve())
        assert metadata["content_hash"].value == first
        assert [row["company"] for row in table_rows(metadata["companies"])] == list(
            read_mapping_file(path).companies
        )
        assert metadata["dimension_format"].value.startswith("MainAccount")
        assert metadata["journal"].value["name"] == read_mapping_file(path).journal.name

        path.write_text(path.read_text() + "\n# reviewed by finance, nothing changed\n")
        _run_job(instance, "observe_payroll_mapping")
        assert _version(instance, MAPPING) == first  # a comment is not a new mapping

        data = yaml.safe_load(path.read_text())
        data["journal"]["max_lines_per_journal"] = 4000
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        _run_job(instance, "observe_payroll_mapping")
        assert _version(instance, MAPPING) not in (first, "")
        assert _version(instance, MAPPING) == read_mapping_file(path).content_hash


def test_a_mapping_that_does_not_load_fails_the_observation_saying_why(env) -> None:
    env["mapping"].write_text("version: 1\njournal: [\n")
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("observe_payroll_mapping").execute_in_process(
            instance=instance, raise_on_error=False
        )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "the mapping file does not load" in str(failure.step_failure_data.error)


# --- reference data versions and staleness ---------------------------------------------------


def _rename_department(sandbox: Sandbox) -> None:
    """A department renamed in Rippling (what HR does), stamped by the sandbox clock."""
    store = sandbox.rippling.store
    department = dict(store.all("departments")[0])
    department["name"] = department["name"] + " (renamed)"
    department["updated_at"] = store.tick()
    with store.transaction():
        store.put("departments", department)


def test_an_unchanged_refresh_keeps_versions_and_the_journals_fresh_a_change_does_not(
    env,
) -> None:
    with dg.instance_for_test() as instance:
        _run_job(instance, "observe_payroll_mapping")
        _run_job(instance, "refresh_reference_data")
        before = {key: _version(instance, key) for key in REFERENCE}
        partition = _pay_period(instance, env["period"])
        assert _status(instance, JOURNALS, partition) is StaleStatus.FRESH

        # the journals recorded the versions they were built against, the mapping's among them
        journals = instance.get_latest_materialization_event(JOURNALS)
        tags = journals.asset_materialization.tags
        mapping_version = _version(instance, MAPPING)
        assert tags[f"dagster/input_data_version/{MAPPING.to_user_string()}"] == mapping_version
        shown = journals.asset_materialization.metadata["mapping_hash"].value
        assert mapping_version.startswith(shown)
        for key in REFERENCE[:3]:
            assert tags[f"dagster/input_data_version/{key.to_user_string()}"] == before[key]

        _run_job(instance, "refresh_reference_data")
        _run_job(instance, "observe_payroll_mapping")
        assert {key: _version(instance, key) for key in REFERENCE} == before
        assert _status(instance, JOURNALS, partition) is StaleStatus.FRESH
        assert _status(instance, REFERENCE[-1], None) is StaleStatus.FRESH  # dimension_mapping

        _rename_department(env["sandbox"])
        _run_job(instance, "refresh_reference_data")
        after = {key: _version(instance, key) for key in REFERENCE}
        changed = {key for key in REFERENCE if after[key] != before[key]}
        assert REFERENCE[0] in changed  # departments
        assert REFERENCE[1] not in changed and REFERENCE[2] not in changed
        assert _status(instance, JOURNALS, partition) is StaleStatus.STALE


# --- F&O read back -----------------------------------------------------------------------------


def _observe_fo(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return _run_job(instance, "observe_posted_journals")


def _observation(result: dg.ExecuteInProcessResult, partition: str) -> dict:
    [event] = [
        e.asset_observation_data.asset_observation
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_OBSERVATION
        and e.asset_observation_data.asset_observation.partition == partition
    ]
    return event.metadata


def _check(result: dg.ExecuteInProcessResult, partition: str) -> dg.AssetCheckEvaluation:
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.partition == partition]
    assert evaluation.asset_key == POSTED and evaluation.check_name == "unchanged_in_fo"
    return evaluation


def _created_headers() -> list[dict]:
    with Connection.from_environment().dynamics() as client:
        return [
            h for h in client.list_entities("LedgerJournalHeaders") if h["dataAreaId"] == "usmf"
        ]


def test_created_not_posted_then_posted_by_finance(env) -> None:
    with dg.instance_for_test() as instance:
        partition = _pay_period(instance, env["period"])
        first = _observe_fo(instance)
        metadata = _observation(first, partition)
        assert metadata["status"].value == "created in F&O, not posted"
        rows = table_rows(metadata["journals_in_fo"])
        headers = _created_headers()
        assert {r["JournalBatchNumber"] for r in rows} == {h["JournalBatchNumber"] for h in headers}
        assert all(r["status"] == "created in F&O, not posted" for r in rows)
        assert all(r["F&O debit"] == r["created debit"] for r in rows)
        assert _check(first, partition).passed

        with admin(env["sandbox"], "dynamics") as fo:
            for header in headers:  # finance posts every journal of the partition
                answer = fo.post(f"/_sandbox/journals/usmf/{header['JournalBatchNumber']}/post")
                assert answer.status_code == 200 and answer.json()["IsPosted"] == "Yes"
        second = _observe_fo(instance)
        metadata = _observation(second, partition)
        assert metadata["status"].value == "posted by finance in F&O"
        assert metadata["posted_by_finance"].value == len(headers)
        assert _check(second, partition).passed
        # the UI reads the latest: the check's record for the partition is the second one
        [record] = instance.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(POSTED, "unchanged_in_fo"), limit=1
        )
        assert record.partition == partition and record.run_id == second.run_id


def test_the_check_fails_naming_the_journal_after_finance_edits_a_line_in_fo(env) -> None:
    with dg.instance_for_test() as instance:
        partition = _pay_period(instance, env["period"])
        assert _check(_observe_fo(instance), partition).passed
        header = _created_headers()[0]
        batch = header["JournalBatchNumber"]
        with Connection.from_environment().dynamics() as client:
            line = next(
                line
                for line in client.list_entities("LedgerJournalLines")
                if line["JournalBatchNumber"] == batch and line["DebitAmount"] > 0
            )
            client.patch(
                "LedgerJournalLines",
                {
                    "dataAreaId": "usmf",
                    "JournalBatchNumber": batch,
                    "LineNumber": line["LineNumber"],
                },
                {"DebitAmount": line["DebitAmount"] + Decimal("48.75")},
            )
        result = _observe_fo(instance)
        check = _check(result, partition)
        assert not check.passed
        assert check.severity is dg.AssetCheckSeverity.ERROR
        created = header["JournalTotalDebit"]
        assert batch in check.description
        assert f"created debit {created}" in check.description
        assert f"F&O now debit {created + Decimal('48.75')}" in check.description
        [row] = table_rows(check.metadata["details"])
        assert row["JournalBatchNumber"] == batch and row["created by"]
        # the journals created in the same partition but not edited are not named
        others = [h["JournalBatchNumber"] for h in _created_headers()[1:]]
        assert not any(other in check.description for other in others)

        # the check of the partition, run on its own (the UI's "Execute" on one partition)
        check = dg.AssetCheckKey(POSTED, "unchanged_in_fo")
        job = defs.resolve_implicit_global_asset_job_def()
        single = job.get_subset(asset_selection=set(), asset_check_selection={check})
        company, period = partition.split("|")
        single = single.execute_in_process(  # a partition as the UI tags a run launched for one
            instance=instance,
            tags={
                "dagster/partition": partition,
                "dagster/partition/legal_entity": company,
                "dagster/partition/pay_period": period,
            },
        )
        [evaluation] = single.get_asset_check_evaluations()
        assert not evaluation.passed and batch in evaluation.description


def test_journals_unposted_n_days_after_their_pay_date_are_listed(env, monkeypatch) -> None:
    monkeypatch.setenv("ML_CONNECTOR_ALERT_UNPOSTED_DAYS", "5")
    from ml_connector_dagster.defs.payroll.fo_observation import observe_fo

    with dg.instance_for_test() as instance:  # its DAGSTER_HOME holds the audit trail
        _pay_period(instance, env["period"])
        pay_dates = {
            dt.date.fromisoformat(h["Description"].split()[1]) for h in _created_headers()
        }  # "Payroll <check date> <type> mlc-..."
        latest = max(pay_dates)
        four_days = dt.datetime.combine(latest + dt.timedelta(days=4), dt.time(12), dt.UTC)
        with clock.pinned(four_days):
            early = observe_fo(ConnectorResource())
        with clock.pinned(four_days + dt.timedelta(days=1)):
            late = observe_fo(ConnectorResource())
    due = {d for d in pay_dates if (four_days.date() - d).days >= 5}
    assert latest not in due
    assert {j.pay_date for j in early.unposted} == due
    assert {j.pay_date for j in late.unposted} == pay_dates
    assert len(late.unposted) == len(_created_headers())
    assert all(j.days_unposted >= 5 and j.company == COMPANY for j in late.unposted)


def test_a_journal_whose_lines_a_correction_replaced_is_compared_with_the_correction(
    env,
) -> None:
    """The connector's own correction is not a change by someone else in F&O."""
    from click.testing import CliRunner

    from ml_connector_dagster.cli import main
    from ml_connector_dagster.defs.payroll.fo_observation import observe_fo

    def cli(*args: str) -> None:
        done = CliRunner().invoke(main, list(args), catch_exceptions=False)
        assert done.exit_code == 0, done.output

    period = env["period"]
    cli("run", "--pay-period", period, "--legal-entity", COMPANY)
    before = observe_fo(ConnectorResource())
    [partition] = before.partitions
    assert partition.changed == ()
    run_id = partition.journals[0].created.payroll_run_id
    record = next(
        dict(r)
        for r in env["sandbox"].company["rippling"]["worker_payroll_records"]
        if r["run_id"] == run_id
    )
    first = record["earnings"][0]
    record["earnings"] = [
        {**first, "amount": str(Decimal(first["amount"]) + Decimal("48.75"))},
        *record["earnings"][1:],
    ]
    for field in ("gross_pay", "net_pay"):
        record[field] = str(Decimal(record[field]) + Decimal("48.75"))
    with admin(env["sandbox"], "rippling") as rippling:
        answer = rippling.put(
            f"/_sandbox/payroll-runs/{run_id}/worker-payroll-records/{record['id']}", json=record
        )
        assert answer.status_code in (200, 201), answer.text
    cli("correct", "--pay-period", period, "--legal-entity", COMPANY, "--apply")

    after = observe_fo(ConnectorResource())
    [partition] = after.partitions
    assert partition.changed == ()  # compared with what the correction wrote
    corrected = next(j for j in partition.journals if j.created.payroll_run_id == run_id)
    old = next(j for j in before.partitions[0].journals if j.created.payroll_run_id == run_id)
    assert corrected.fo_debit == old.fo_debit + Decimal("48.75")
    assert corrected.created.total_debit == corrected.fo_debit


def test_an_unposted_journal_alerts_finance_once(env, monkeypatch) -> None:
    """The daily read-back raises one "unposted" alert per journal, not one per day."""
    monkeypatch.setenv("ML_CONNECTOR_ALERT_UNPOSTED_DAYS", "5")
    from ml_connector_dagster.alerts.outbox import outbox_rows
    from ml_connector_dagster.defs.payroll.fo_observation import observe_posted_journals

    with dg.instance_for_test() as instance:
        _pay_period(instance, env["period"])
        headers = _created_headers()
        latest = max(dt.date.fromisoformat(h["Description"].split()[1]) for h in headers)
        late = dt.datetime.combine(latest + dt.timedelta(days=6), dt.time(12), dt.UTC)
        for day in range(2):  # two daily read-backs
            with clock.pinned(late + dt.timedelta(days=day)):
                done = observe_posted_journals.execute_in_process(
                    instance=instance, resources={"connector": ConnectorResource()}
                )
            assert done.success
        with ConnectorResource().audit() as audit:
            alerts = [a for a in outbox_rows(audit) if a["kind"] == "unposted"]
    assert len(alerts) == len(headers)
    assert {a["company"] for a in alerts} == {COMPANY}
    batches = {h["JournalBatchNumber"] for h in headers}
    assert {next(b for b in batches if b in a["summary"]) for a in alerts} == batches
    assert all("not posted" in a["summary"] for a in alerts)
