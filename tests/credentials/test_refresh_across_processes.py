"""Two OS processes refreshing one Rippling OAuth install at the same moment.

The sandbox rotates the refresh token on every refresh and answers ``invalid_grant`` for a used
one, as Rippling does. Both processes share one credentials store file and one audit database
(the lock's home). Ordering comes from marker files (``refresh_worker.py``), never from timers:
both read the refresh token before either posts, and in the coordinated case the first refresh
is held until the other process is provably waiting for the lock.
"""

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from ml_connector_dagster.connections import Connection, configured_refresh_token
from ml_connector_dagster.credentials.keys import KeyRing
from ml_connector_dagster.credentials.store import CredentialStore
from ml_connector_dagster.rippling.auth import OAuthAuth
from ml_connector_sandbox.server import Sandbox

WORKER = Path(__file__).with_name("refresh_worker.py")


@pytest.fixture
def audit_url(
    request: pytest.FixtureRequest, empty_database: Callable[[str], AbstractContextManager[str]]
) -> Iterator[str]:
    """A new audit database (the lock's home) of the backend the test is parametrized with."""
    with empty_database(request.param) as url:
        yield url


def _oauth_client(sandbox: Sandbox) -> tuple[dict[str, Any], str]:
    info = sandbox.rippling.credentials()
    return info["oauth_clients"][0], info["token_url"]


def _environment(
    sandbox: Sandbox, tmp_path: Path, audit_url: str, start: str
) -> tuple[dict[str, str], list[str]]:
    """The workers' environment, and every secret that must not appear in their output.

    ``start="env"``: the install's refresh token is in the environment, no store file yet (the
    first rotation creates it). ``start="store"``: an operator stored it with ``credentials set``.
    """
    client, token_url = _oauth_client(sandbox)
    key = Fernet.generate_key().decode()
    env = {
        # A clean environment, except what runs the interpreter under a pinned calendar
        # (libfaketime's LD_PRELOAD and FAKETIME*): the workers must share the test's clock,
        # or the sandbox's certificate is "not yet valid" to them.
        **{k: v for k, v in os.environ.items() if k == "LD_PRELOAD" or k.startswith("FAKETIME")},
        **{k: v for k, v in sandbox.env().items() if k != "RIPPLING_API_TOKEN"},
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "ML_CONNECTOR_CREDENTIALS_KEY": key,
        "ML_CONNECTOR_AUDIT_URL": audit_url,
        "RIPPLING_OAUTH_CLIENT_ID": client["client_id"],
        "RIPPLING_OAUTH_CLIENT_SECRET": client["client_secret"],
        "RIPPLING_OAUTH_TOKEN_URL": token_url,
    }
    if start == "env":
        env["RIPPLING_OAUTH_REFRESH_TOKEN"] = client["refresh_token"]
    else:
        store = CredentialStore(
            tmp_path / "dagster_home" / "ml-connector" / "credentials.enc",
            KeyRing([key.encode()], source="test"),
        )
        store.update(
            lambda s: s.merged(
                "rippling", {"oauth_refresh_token": SecretStr(client["refresh_token"])}
            )
        )
    secrets = [client["refresh_token"], client["client_secret"], key]
    return env, secrets


def _run_pair(env: dict[str, str], barrier: Path, mode: str) -> tuple[list[dict], str]:
    """Start both workers, let them run to the end; their results and everything they printed."""
    barrier.mkdir()
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), name, peer, str(barrier), mode],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, peer in (("a", "b"), ("b", "a"))
    ]
    try:
        outputs = [worker.communicate() for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    printed = "\n".join(out + err for out, err in outputs)
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, out + err
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    return results, printed


def _refreshes_now(sandbox: Sandbox, refresh_token: SecretStr) -> None:
    """A third refresh with ``refresh_token`` works (it is the one the sandbox accepts)."""
    client, token_url = _oauth_client(sandbox)
    auth = OAuthAuth(
        client["client_id"], SecretStr(client["client_secret"]), refresh_token, token_url
    )
    with httpx.Client(verify=sandbox.client_ssl_context()) as http:
        assert auth.token(http)


@pytest.mark.parametrize(
    ("audit_url", "start"),
    [("sqlite", "env"), ("sqlite", "store"), ("postgres", "env")],
    indirect=["audit_url"],
)
def test_overlapping_refreshes_both_succeed_and_the_store_keeps_the_live_token(
    fresh_sandbox: Sandbox, tmp_path: Path, audit_url: str, start: str
) -> None:
    env, secrets = _environment(fresh_sandbox, tmp_path, audit_url, start)

    results, printed = _run_pair(env, tmp_path / "barrier", "coordinated")

    assert [r["ok"] for r in results] == [True, True], results
    # The refreshes overlapped: exactly one process waited for the other's lock, and it then
    # refreshed with the token the other had just stored, not the one it started with.
    waited = [r for r in results if r["waited"]]
    assert len(waited) == 1, results
    assert waited[0]["adopted"], results
    live = fresh_sandbox.rippling.auth.current_refresh_token(env["RIPPLING_OAUTH_CLIENT_ID"])
    stored = configured_refresh_token(env)
    assert stored is not None and stored.get_secret_value() == live
    _refreshes_now(fresh_sandbox, stored)
    for secret in [*secrets, live]:
        assert secret not in printed


@pytest.mark.parametrize("audit_url", ["sqlite"], indirect=True)
def test_without_the_lock_the_second_refresh_meets_invalid_grant(
    fresh_sandbox: Sandbox, tmp_path: Path, audit_url: str
) -> None:
    """The control: the behaviour before the coordinator, same two processes, same token."""
    env, secrets = _environment(fresh_sandbox, tmp_path, audit_url, "env")

    results, printed = _run_pair(env, tmp_path / "barrier", "uncoordinated")

    assert sorted(r["ok"] for r in results) == [False, True], results
    (loser,) = [r for r in results if not r["ok"]]
    assert "invalid_grant" in loser["error"]
    for secret in secrets:
        assert secret not in printed


@pytest.mark.parametrize("audit_url", ["sqlite"], indirect=True)
def test_a_connection_client_refreshes_under_the_lock_and_stores_the_rotation(
    fresh_sandbox: Sandbox, tmp_path: Path, audit_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """``Connection.rippling`` wires the coordinator in: a 401 refresh goes through the lock."""
    env, secrets = _environment(fresh_sandbox, tmp_path, audit_url, "env")
    caplog.set_level(logging.DEBUG)
    connection = Connection.from_environment(env)
    with connection.rippling() as client:
        list(client.departments())
        fresh_sandbox.rippling.expire_tokens()
        list(client.departments())  # 401 -> refresh under the lock -> rotation stored
    live = fresh_sandbox.rippling.auth.current_refresh_token(env["RIPPLING_OAUTH_CLIENT_ID"])
    stored = configured_refresh_token(env)
    assert stored is not None and stored.get_secret_value() == live
    assert "took the lock 'ml-connector/rippling-oauth-refresh'" in caplog.text
    for secret in [*secrets, live]:
        assert secret not in caplog.text


@pytest.mark.parametrize("audit_url", ["sqlite"], indirect=True)
def test_without_a_credentials_key_the_rotation_is_kept_in_memory_and_logged(
    fresh_sandbox: Sandbox, tmp_path: Path, audit_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An environment-only container: the lock still serializes, the warning stays, and the
    process goes on with its own rotated token (not the environment's, which is now dead)."""
    env, secrets = _environment(fresh_sandbox, tmp_path, audit_url, "env")
    del env["ML_CONNECTOR_CREDENTIALS_KEY"]
    env["ML_CONNECTOR_CREDENTIALS_KEY_FILE"] = str(tmp_path / "absent.key")
    caplog.set_level(logging.DEBUG)
    connection = Connection.from_environment(env)
    with connection.rippling() as client:
        for _ in range(2):  # two rotations: the second must start from the first's token
            fresh_sandbox.rippling.expire_tokens()
            list(client.departments())
    assert caplog.text.count("no credentials key is configured") >= 2
    assert not (tmp_path / "dagster_home" / "ml-connector" / "credentials.enc").exists()
    for secret in secrets:
        assert secret not in caplog.text
