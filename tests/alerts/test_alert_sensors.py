"""The Dagster side: a failed run raises an alert; the delivery sensor sends what is pending."""

import dagster as dg
import pytest
from alert_support import blocked_alert, webhook_receiver

from ml_connector_dagster.alerts import enqueue
from ml_connector_dagster.alerts.outbox import outbox_rows
from ml_connector_dagster.audit.store import AuditStore
from ml_connector_dagster.defs.alerts.sensors import alert_on_run_failure, deliver_alerts
from ml_connector_dagster.defs.payroll.partitions import partition_key
from ml_connector_dagster.defs.resources import ConnectorResource

DAGSTER_URL = "https://dagster.acme.test"


@dg.op
def read_pay_period() -> None:
    raise RuntimeError("Rippling answered 503 for /payroll-runs/ three times")


@dg.job
def payroll_like() -> None:
    read_pay_period()


def _failed_run(instance: dg.DagsterInstance, partition: str | None) -> dg.RunFailureSensorContext:
    tags = {"dagster/partition": partition} if partition else {}
    result = payroll_like.execute_in_process(instance=instance, raise_on_error=False, tags=tags)
    assert not result.success
    return result


def _sensor_context(instance, result, audit_url: str) -> dg.RunFailureSensorContext:
    return dg.build_run_status_sensor_context(
        sensor_name="alert_on_run_failure",
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources={"connector": ConnectorResource(audit_url=audit_url)},
    ).for_run_failure()


@pytest.fixture
def audit_url(empty_database, clean_env, monkeypatch) -> str:
    monkeypatch.setenv("ML_CONNECTOR_DAGSTER_URL", DAGSTER_URL + "/")
    with empty_database("sqlite") as url:
        yield url


def test_a_failed_payroll_run_raises_one_alert_with_its_partition(audit_url: str) -> None:
    with dg.instance_for_test() as instance:
        result = _failed_run(instance, str(partition_key("2026-11-15", "USMF")))
        context = _sensor_context(instance, result, audit_url)
        alert_on_run_failure(context)
        alert_on_run_failure(context)  # the sensor seeing the run again tells nobody twice
    store = AuditStore(audit_url)
    [row] = outbox_rows(store)
    store.dispose()
    run_id = result.dagster_run.run_id
    assert (row["kind"], row["company"], row["pay_period"]) == ("run-failed", "USMF", "2026-11-15")
    assert "payroll_like" in row["summary"] and "Rippling answered 503" in row["summary"]
    assert row["run_url"] == f"{DAGSTER_URL}/runs/{run_id}" and row["dagster_run_id"] == run_id


def test_a_run_without_a_partition_still_raises_one(audit_url: str) -> None:
    with dg.instance_for_test() as instance:
        result = _failed_run(instance, None)
        alert_on_run_failure(_sensor_context(instance, result, audit_url))
    store = AuditStore(audit_url)
    [row] = outbox_rows(store)
    store.dispose()
    assert row["company"] is None and row["pay_period"] is None


def test_a_single_run_backfill_of_one_partition_names_it(audit_url: str) -> None:
    key = str(partition_key("2026-11-15", "USMF"))
    tags = {"dagster/asset_partition_range_start": key, "dagster/asset_partition_range_end": key}
    with dg.instance_for_test() as instance:
        result = payroll_like.execute_in_process(instance=instance, raise_on_error=False, tags=tags)
        alert_on_run_failure(_sensor_context(instance, result, audit_url))
    store = AuditStore(audit_url)
    [row] = outbox_rows(store)
    store.dispose()
    assert (row["company"], row["pay_period"]) == ("USMF", "2026-11-15")


def test_a_run_that_already_said_it_was_blocked_is_not_told_again(audit_url: str) -> None:
    with dg.instance_for_test() as instance:
        result = _failed_run(instance, str(partition_key("2026-11-15", "USMF")))
        store = AuditStore(audit_url)
        run_id = result.dagster_run.run_id
        enqueue(store, blocked_alert(reference=run_id, run_id=run_id))
        alert_on_run_failure(_sensor_context(instance, result, audit_url))
        kinds = [row["kind"] for row in outbox_rows(store)]
        store.dispose()
    assert kinds == ["blocked"]


def test_the_delivery_sensor_does_nothing_without_a_channel(audit_url: str) -> None:
    store = AuditStore(audit_url)
    enqueue(store, blocked_alert())
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, resources={"connector": ConnectorResource(audit_url=audit_url)}
        )
        skipped = deliver_alerts(context)
    assert "no alert channel" in skipped.skip_message
    [row] = outbox_rows(store)
    store.dispose()
    assert row["teams_attempts"] == row["email_attempts"] == 0


def test_the_delivery_sensor_posts_to_the_configured_teams_webhook(
    audit_url: str, tls, monkeypatch
) -> None:
    store = AuditStore(audit_url)
    enqueue(store, blocked_alert())
    with webhook_receiver(tls) as hook, dg.instance_for_test() as instance:
        monkeypatch.setenv("ML_CONNECTOR_TEAMS_WEBHOOK_URL", hook.url("/hook?sig=s3cr3t-sig-123"))
        monkeypatch.setenv("ML_CONNECTOR_CA_BUNDLE", str(tls.ca_cert))
        context = dg.build_sensor_context(
            instance=instance, resources={"connector": ConnectorResource(audit_url=audit_url)}
        )
        said = deliver_alerts(context).skip_message
    [row] = outbox_rows(store)
    store.dispose()
    assert "1 sent" in said and len(hook.posts) == 1
    assert row["teams_delivered_at"] is not None and row["email_delivered_at"] is None
