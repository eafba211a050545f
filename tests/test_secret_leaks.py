"""A whole client session at DEBUG: no secret or bearer token anywhere in what it printed."""

import logging
import re

import httpx
import pytest

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
    captured = capsys.readouterr()
    seen += [caplog.text, captured.out, captured.err]
    seen += [str(record.args) for record in caplog.records]
    text = "\n".join(seen)
    assert caplog.records  # the session did log
    for secret in secrets:
        assert secret and secret not in text
    assert not re.search(r"Bearer\s+[\w.~+/-]{8,}", text)  # no Authorization value at all
