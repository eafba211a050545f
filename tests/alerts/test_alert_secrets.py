"""The webhook URL and the SMTP password never reach the outbox, the logs or the sensor's words,
even when the receivers fail and a server quotes back what it was sent."""

import logging

import dagster as dg
from alert_support import blocked_alert, smtp_server, webhook_receiver

from ml_connector_dagster.alerts import enqueue
from ml_connector_dagster.alerts.configure import configured_channels
from ml_connector_dagster.alerts.outbox import outbox_rows
from ml_connector_dagster.audit.store import AuditStore
from ml_connector_dagster.config.settings import ConnectorSettings
from ml_connector_dagster.defs.alerts.sensors import deliver_alerts
from ml_connector_dagster.defs.resources import ConnectorResource

SIG = "sig=Ty8Ui3Mn5Bv8Cx2Zl7Ak4Sj9"
PATH = f"/workflows/c0ffee/triggers/manual/paths/invoke?api-version=2016-06-01&{SIG}"
PASSWORD = "smtp-Gh2Jk5LXc4Vb7Nm1As6Df9"


def test_failing_channels_store_and_log_no_secret(
    tls, clean_env, empty_database, monkeypatch, caplog, capsys
) -> None:
    caplog.set_level(logging.DEBUG)
    with (
        empty_database("sqlite") as url,
        webhook_receiver(tls) as hook,
        smtp_server(tls, password="the-right-one") as box,
        dg.instance_for_test() as instance,
    ):
        hook.status, hook.answer = 500, f"could not route POST {PATH}"  # quotes the secret
        for name, value in {
            "ML_CONNECTOR_TEAMS_WEBHOOK_URL": hook.url(PATH),
            "ML_CONNECTOR_CA_BUNDLE": str(tls.ca_cert),
            "ML_CONNECTOR_SMTP_HOST": "127.0.0.1",
            "ML_CONNECTOR_SMTP_PORT": str(box.port),
            "ML_CONNECTOR_SMTP_FROM": "connector@acme.test",
            "ML_CONNECTOR_SMTP_TO": "finance@acme.test",
            "ML_CONNECTOR_SMTP_USER": box.user,
            "ML_CONNECTOR_SMTP_PASSWORD": PASSWORD,
        }.items():
            monkeypatch.setenv(name, value)
        store = AuditStore(url)
        enqueue(store, blocked_alert())
        context = dg.build_sensor_context(
            instance=instance, resources={"connector": ConnectorResource(audit_url=url)}
        )
        said = deliver_alerts(context).skip_message
        channels = configured_channels(ConnectorSettings.from_env())
        [row] = outbox_rows(store)
        store.dispose()
    assert len(hook.posts) == 1 and set(box.logins) == {box.user}  # both were really tried
    assert "HTTP 500" in row["teams_last_error"] and "535" in row["email_last_error"]
    assert "2 failed" in said
    captured = capsys.readouterr()
    everything = "\n".join(
        [str(row), said, repr(channels), caplog.text, captured.out, captured.err]
        + [record.getMessage() for record in caplog.records]
    )
    assert "not sent to teams" in everything  # the sensor did log the failures
    for secret in (SIG, PATH, hook.url(PATH), PASSWORD, "c0ffee"):
        assert secret not in everything
