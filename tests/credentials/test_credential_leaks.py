"""No secret, and no key, in logs, output, exceptions or reprs across a full round trip."""

import logging
import os
import traceback

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from pydantic import SecretStr

from ml_connector_dagster.alerts.configure import configured_channels
from ml_connector_dagster.cli import main
from ml_connector_dagster.config.settings import ConnectorSettings
from ml_connector_dagster.credentials.keys import parse_key_text
from ml_connector_dagster.credentials.locate import open_store
from ml_connector_dagster.credentials.resolve import (
    resolve_alerts,
    resolve_credentials,
    side_settings,
)


def test_full_round_trip_leaks_nothing_at_debug(
    paths,
    secrets,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    runner = CliRunner()
    seen: list[str] = []  # every text a user, a log or a traceback could show
    keys: set[str] = set()

    def cli(*args: str, input: str | None = None, ok: bool = True) -> None:
        result = runner.invoke(main, ["credentials", *args], input=input)
        seen.append(result.output)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            seen.append("".join(traceback.format_exception(result.exception)))
        assert (result.exit_code == 0) is ok, result.output
        if paths.key_file.exists():
            keys.update(k.decode() for k in parse_key_text(paths.key_file.read_text()))

    def fails(call) -> None:
        with pytest.raises(Exception) as caught:
            call()
        seen.append("".join(traceback.format_exception(caught.value)))
        seen.append(repr(caught.value))

    # set (options, then a hidden prompt), show, rotate-key
    cli("set", "rippling", "--oauth-client-id", "cid", "--oauth-client-secret",
        secrets.oauth_secret, input=secrets.refresh_token + "\n")  # fmt: skip
    cli("set", "dynamics", "--environment-url", "https://contoso.operations.dynamics.com",
        "--tenant-id", "t", "--client-id", "c",
        "--client-secret", secrets.dynamics_secret)  # fmt: skip
    cli("set", "dynamics", "--environment-url", "https://bad.example.com", ok=False)
    cli("set", "alerts", input=f"{secrets.teams_webhook_url}\n{secrets.smtp_password}\n")
    cli("set", "alerts", "--teams-webhook-url", "http://" + secrets.smtp_password, ok=False)
    cli("show")
    cli("rotate-key")
    cli("show")

    # resolve, and what a caller might log about it
    store = open_store(os.environ)
    creds = resolve_credentials(os.environ, store)
    stored = store.load()
    logging.getLogger("test").debug("resolved %r %s from %r: %r", creds, creds, store, stored)
    seen += [repr(creds), str(creds), creds.model_dump_json(), repr(stored), repr(store)]
    seen += [repr(store.keyring), str(side_settings("rippling", os.environ, stored))]
    alerts = resolve_alerts(os.environ, store)
    assert alerts.teams_webhook_url.get_secret_value() == secrets.teams_webhook_url
    seen += [
        repr(alerts),
        str(alerts.model_dump()),
        str(side_settings("alerts", os.environ, stored)),
    ]
    seen += [repr(configured_channels(ConnectorSettings.from_env({}), os.environ))]

    # the connector's refresh token rotation, then resolve again
    store.write_rotated_refresh_token(SecretStr(secrets.rotated_refresh_token))
    again = resolve_credentials(os.environ, store)
    assert again.rippling.oauth_refresh_token.get_secret_value() == secrets.rotated_refresh_token
    seen.append(repr(again))
    cli("show")

    # failures: a wrong key, missing settings, an invalid value
    wrong_key = Fernet.generate_key().decode()
    keys.add(wrong_key)
    monkeypatch.setenv("ML_CONNECTOR_CREDENTIALS_KEY", wrong_key)
    fails(lambda: resolve_credentials(os.environ))
    cli("show", ok=False)
    monkeypatch.delenv("ML_CONNECTOR_CREDENTIALS_KEY")
    fails(lambda: resolve_credentials({"DYNAMICS_CLIENT_SECRET": secrets.dynamics_secret}, None))
    bad_env = {"RIPPLING_API_TOKEN": secrets.rippling_token, "DYNAMICS_CLIENT_ID": "c",
               "DYNAMICS_ENVIRONMENT_URL": "http://x", "DYNAMICS_TENANT_ID": "t",
               "DYNAMICS_CLIENT_SECRET": secrets.dynamics_secret}  # fmt: skip
    fails(lambda: resolve_credentials(bad_env, store))

    captured = capsys.readouterr()
    seen += [caplog.text, captured.out, captured.err]
    seen += [record.getMessage() for record in caplog.records]
    everything = "\n".join(seen)
    assert "re-encrypted" in everything  # the round trip did happen
    assert len(keys) == 3  # the first key, the rotated one, the wrong one
    assert caplog.records, "DEBUG logging was not captured"
    for secret in [*secrets.all(), *keys]:
        assert secret not in everything, "a secret or key leaked"
