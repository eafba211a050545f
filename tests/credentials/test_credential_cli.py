"""``ml-connector credentials set|show|delete`` through click's CliRunner."""

import os
import stat

import pytest
from click.testing import CliRunner, Result
from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import strategies as st

from ml_connector_dagster.cli import main
from ml_connector_dagster.cli.credentials import MASK, mask
from ml_connector_dagster.credentials.locate import open_store
from ml_connector_dagster.credentials.resolve import resolve_credentials

DYNAMICS_OPTIONS = [
    "--environment-url", "https://contoso.operations.dynamics.com",
    "--tenant-id", "tenant-1",
    "--client-id", "client-1",
]  # fmt: skip


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, ["credentials", *args], input=input)


def set_both(secrets) -> None:
    result = run("set", "rippling", "--api-token", secrets.rippling_token)
    assert result.exit_code == 0, result.output
    result = run("set", "dynamics", *DYNAMICS_OPTIONS, "--client-secret", secrets.dynamics_secret)
    assert result.exit_code == 0, result.output


def test_set_then_show_masks_secrets_and_names_sources(paths, secrets) -> None:
    set_both(secrets)
    assert stat.S_IMODE(paths.store.stat().st_mode) == 0o600
    assert paths.key_file.is_file()

    result = run("show")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"store: {paths.store}" in out
    assert f"key file {paths.key_file}" in out
    assert MASK + secrets.rippling_token[-4:] in out
    assert MASK + secrets.dynamics_secret[-4:] in out
    for secret in secrets.all():
        assert secret not in result.output
        assert secret[:-4] not in result.output
    assert "tenant-1" in out
    row = next(line for line in out.splitlines() if "DYNAMICS_TENANT_ID" in line)
    assert "store" in row


def test_show_says_when_the_environment_wins(
    paths, secrets, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_both(secrets)
    monkeypatch.setenv("DYNAMICS_TENANT_ID", "tenant-from-env")
    out = run("show").stdout
    row = next(line for line in out.splitlines() if "DYNAMICS_TENANT_ID" in line)
    assert "tenant-from-env" in row
    assert "env (overrides the store)" in row


def test_show_lists_what_is_missing(paths) -> None:
    result = run("show")
    assert result.exit_code == 0
    assert "(not created yet)" in result.stdout
    assert "missing DYNAMICS_ENVIRONMENT_URL, DYNAMICS_TENANT_ID" in result.stdout


def test_missing_secrets_are_prompted_with_hidden_input(paths, secrets) -> None:
    result = run("set", "dynamics", *DYNAMICS_OPTIONS, input=secrets.dynamics_secret + "\n")
    assert result.exit_code == 0, result.output
    assert "DYNAMICS_CLIENT_SECRET" in result.output
    assert secrets.dynamics_secret not in result.output  # hidden: not echoed
    stored = open_store(os.environ).load()
    assert stored.dynamics.client_secret.get_secret_value() == secrets.dynamics_secret


def test_partial_oauth_prompts_for_the_rest_of_it(paths, secrets) -> None:
    result = run(
        "set", "rippling", "--oauth-client-id", "cid",
        input=f"{secrets.oauth_secret}\n{secrets.refresh_token}\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rippling = open_store(os.environ).load().rippling
    assert rippling.oauth_client_secret.get_secret_value() == secrets.oauth_secret
    assert rippling.oauth_refresh_token.get_secret_value() == secrets.refresh_token
    assert rippling.api_token is None


def test_invalid_values_fail_before_anything_is_written(paths, secrets) -> None:
    result = run(
        "set", "dynamics", "--environment-url", "https://erp.example.com/data",
        "--tenant-id", "t", "--client-id", "c", "--client-secret", secrets.dynamics_secret,
    )  # fmt: skip
    assert result.exit_code == 1
    assert "DYNAMICS_ENVIRONMENT_URL is the environment host only" in result.output
    assert "Traceback" not in result.output
    assert secrets.dynamics_secret not in result.output
    assert not paths.store.exists()
    assert not paths.key_file.exists()


def test_set_merges_into_the_existing_store(paths, secrets) -> None:
    set_both(secrets)
    result = run("set", "dynamics", "--tenant-id", "tenant-2")
    assert result.exit_code == 0, result.output
    stored = open_store(os.environ).load()
    assert stored.dynamics.tenant_id == "tenant-2"
    assert stored.dynamics.client_secret.get_secret_value() == secrets.dynamics_secret
    assert stored.rippling.api_token.get_secret_value() == secrets.rippling_token


def test_set_from_env_copies_the_documented_variables(
    paths, secrets, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DYNAMICS_ENVIRONMENT_URL", "https://sandbox.local:8443")
    monkeypatch.setenv("DYNAMICS_TENANT_ID", "tenant-env")
    monkeypatch.setenv("DYNAMICS_CLIENT_ID", "client-env")
    monkeypatch.setenv("DYNAMICS_CLIENT_SECRET", secrets.dynamics_secret)
    monkeypatch.setenv("DYNAMICS_ALLOW_ANY_HOST", "true")
    result = run("set", "dynamics", "--from-env", "--client-id", "client-option")
    assert result.exit_code == 0, result.output
    stored = open_store(os.environ).load().dynamics
    assert stored.environment_url == "https://sandbox.local:8443"
    assert stored.allow_any_host is True
    assert stored.client_id == "client-option"  # options override the environment
    assert "DYNAMICS_TENANT_ID is set in this environment and wins" in result.stderr


def test_wrong_key_is_a_clear_error_and_leaves_the_store(
    paths, secrets, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_both(secrets)
    before = paths.store.read_bytes()
    monkeypatch.setenv("ML_CONNECTOR_CREDENTIALS_KEY", Fernet.generate_key().decode())
    for args in (("show",), ("set", "dynamics", "--tenant-id", "x"), ("delete", "dynamics", "-y")):
        result = run(*args)
        assert result.exit_code == 1, args
        assert "cannot decrypt the credentials store" in result.output
        assert "Traceback" not in result.output
    assert paths.store.read_bytes() == before


def test_delete_asks_for_confirmation(paths, secrets) -> None:
    set_both(secrets)
    declined = run("delete", "rippling", input="n\n")
    assert declined.exit_code == 1
    assert open_store(os.environ).load().rippling is not None

    result = run("delete", "rippling", input="y\n")
    assert result.exit_code == 0, result.output
    stored = open_store(os.environ).load()
    assert stored.rippling is None
    assert stored.dynamics is not None

    result = run("delete", "all", "--yes")
    assert result.exit_code == 0, result.output
    assert not paths.store.exists()
    assert paths.key_file.exists()  # the key is not the store's to delete
    assert "nothing to delete" in run("delete", "all", "--yes").stderr


def test_store_written_by_the_cli_resolves(paths, secrets) -> None:
    set_both(secrets)
    creds = resolve_credentials(os.environ)
    assert creds.rippling.api_token.get_secret_value() == secrets.rippling_token
    assert creds.dynamics.client_id == "client-1"


def test_short_secrets_are_fully_masked() -> None:
    assert mask("abcdefghijk") == MASK
    assert mask("abcdefghijkl") == MASK + "ijkl"


@given(st.text(max_size=64))
def test_mask_never_shows_more_than_four_characters(secret: str) -> None:
    shown = mask(secret)
    assert shown.startswith(MASK)
    revealed = shown[len(MASK) :]
    assert len(revealed) == (4 if len(secret) >= 12 else 0)
    assert secret.endswith(revealed)
