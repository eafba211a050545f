"""A whole client session at DEBUG, then alerts failing on both channels: no secret or bearer
token anywhere in what it printed or stored."""

import logging
import re
import socket

import httpx
import pytest

from ml_connector_dagster.alerts import Alert, AlertKind, enqueue
from ml_connector_dagster.alerts.configure import configured_channels
from ml_connector_dagster.alerts.outbox import Deliverer, outbox_rows
from ml_connector_dagster.audit.store import AuditStore
from ml_connector_dagster.config.settings import ConnectorSettings
from ml_connector_dagster.connections import Connection
from ml_connector_dagster.dynamics import readers
from ml_connector_sandbox.server import Sandbox


def test_no_secret_in_logs_reprs_or_errors(
    fresh_sandbox: Sandbox,
    sandbox_env: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    capsys,
    monkeypatch,
    tmp_path,
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    caplog.set_level(logging.DEBUG)
    secrets = {sandbox_env["RIPPLING_API_TOKEN"], sandbox_env["DYNAMICS_CLIENT_SECRET"]}
    seen: list[str] = []
    connection = Connection.from_environment()
    seen += [
        repr(connection),
        repr(connection.credentials),
        str(connection.credentials.model_dump()),
    ]
    with connection.rippling() as rippling, connection.dynamics() as dynamics:
        seen.append(repr(rippling) + repr(dynamics) + repr(dynamics.tokens))
        list(rippling.workers())
        readers.legal_entities(dynamics)
        secrets.add(dynamics.tokens.token())
        with httpx.Client(verify=fresh_sandbox.client_ssl_context()) as admin:
            admin.post(fresh_sandbox.urls["entra"] + "/_sandbox/tokens/expire")
        readers.legal_entities(dynamics)  # 401 -> refresh, logged at DEBUG
        secrets.add(dynamics.tokens.token())
        try:
            rippling.get_json("/no-such-endpoint/")
        except Exception as exc:  # an error message is output too
            seen.append(str(exc))
    # The alert channels' secrets: a Teams webhook URL and an SMTP password, both failing
    # (nothing listens on either port), the errors stored in the outbox and logged.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    hook_url = f"https://127.0.0.1:{closed}/workflows/ab12/invoke?sig=Lk5Jh2Gf4Po9Iu6Yt3Re8Wq1"
    smtp_password = "smtp-Nm1As6Df9Gh2Jk5LXc4Vb7"
    for name, value in {
        "ML_CONNECTOR_TEAMS_WEBHOOK_URL": hook_url,
        "ML_CONNECTOR_SMTP_HOST": "127.0.0.1",
        "ML_CONNECTOR_SMTP_PORT": str(closed),
        "ML_CONNECTOR_SMTP_FROM": "connector@acme.test",
        "ML_CONNECTOR_SMTP_TO": "finance@acme.test",
        "ML_CONNECTOR_SMTP_USER": "alerts@acme.test",
        "ML_CONNECTOR_SMTP_PASSWORD": smtp_password,
    }.items():
        monkeypatch.setenv(name, value)
    secrets |= {hook_url, "sig=Lk5Jh2Gf4Po9Iu6Yt3Re8Wq1", smtp_password}
    audit = AuditStore(f"sqlite:///{tmp_path / 'audit.sqlite'}")
    enqueue(audit, Alert(kind=AlertKind.RUN_FAILED, summary="a run failed", reference="r-1"))
    channels = configured_channels(ConnectorSettings.from_env())
    report = Deliverer(audit, channels).deliver()
    seen += [repr(channels), str(report), str(outbox_rows(audit))]
    audit.dispose()
    assert [name for _, name, _ in report.failed] == ["teams", "email"]

    captured = capsys.readouterr()
    seen += [caplog.text, captured.out, captured.err]
    seen += [str(record.args) for record in caplog.records]
    text = "\n".join(seen)
    assert caplog.records  # the session did log
    for secret in secrets:
        assert secret and secret not in text
    assert not re.search(r"Bearer\s+[\w.~+/-]{8,}", text)  # no Authorization value at all
