"""The running sandbox: separate origins, info files, faults on demand through real HTTPS."""

import json
import ssl
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from ml_connector_dagster.config.mapping import read_mapping_file
from ml_connector_sandbox.server import Sandbox


def test_each_service_has_its_own_origin_and_fo_url_has_no_path(sandbox: Sandbox) -> None:
    origins = {(urlsplit(u).hostname, urlsplit(u).port) for u in sandbox.urls.values()}
    assert len(origins) == 3
    dynamics = urlsplit(sandbox.urls["dynamics"])
    assert dynamics.scheme == "https" and dynamics.path == ""


def test_info_and_env_files_point_clients_at_the_sandbox(sandbox: Sandbox) -> None:
    data_dir = sandbox.config.data_dir
    info = json.loads((data_dir / "sandbox.json").read_text())
    assert info["ca_file"] == str(sandbox.tls.ca_cert)
    assert info["urls"]["dynamics"] == sandbox.urls["dynamics"]
    env_lines = dict(
        line.split("=", 1) for line in (data_dir / "sandbox.env").read_text().splitlines()
    )
    assert env_lines["DYNAMICS_ENVIRONMENT_URL"] == sandbox.urls["dynamics"]
    assert env_lines["ML_CONNECTOR_CA_BUNDLE"] == str(sandbox.tls.ca_cert)
    assert env_lines["RIPPLING_API_TOKEN"]
    assert (data_dir / "sandbox.env").stat().st_mode & 0o777 == 0o600
    mapping = read_mapping_file(Path(env_lines["ML_CONNECTOR_MAPPING"]))
    assert set(mapping.companies) == {
        row["LegalEntityId"].upper() for row in sandbox.company["dynamics"]["LegalEntities"]
    }


def test_plain_system_trust_refuses_the_sandbox_certificate(sandbox: Sandbox) -> None:
    with pytest.raises(httpx.ConnectError), httpx.Client(verify=ssl.create_default_context()) as c:
        c.get(sandbox.urls["dynamics"] + "/data/")


def _put_faults(sandbox: Sandbox, ssl_ctx: ssl.SSLContext, config: dict) -> None:
    with httpx.Client(verify=ssl_ctx) as admin:
        answer = admin.put(sandbox.urls["dynamics"] + "/_sandbox/faults", json=config)
        assert answer.status_code == 200, answer.text


def test_dynamics_throttles_with_retry_after_and_rippling_without(
    fresh_sandbox: Sandbox, sandbox_ssl: ssl.SSLContext
) -> None:
    _put_faults(
        fresh_sandbox,
        sandbox_ssl,
        {
            "dynamics": [{"kind": "throttle", "nth": 1, "retry_after": 7}],
            "rippling": [{"kind": "throttle", "nth": 1}],
        },
    )
    with httpx.Client(verify=sandbox_ssl) as client:
        fo = client.get(fresh_sandbox.urls["dynamics"] + "/data/LegalEntities")
        rippling = client.get(fresh_sandbox.urls["rippling"] + "/workers/")
        fo_again = client.get(fresh_sandbox.urls["dynamics"] + "/data/LegalEntities")
    assert fo.status_code == 429 and fo.headers["retry-after"] == "7"
    assert rippling.status_code == 429 and "retry-after" not in rippling.headers
    assert fo_again.status_code == 401  # the fault fired once; then the real service answers


def test_server_error_on_nth_request_and_dropped_connection(
    fresh_sandbox: Sandbox, sandbox_ssl: ssl.SSLContext
) -> None:
    _put_faults(
        fresh_sandbox,
        sandbox_ssl,
        {
            "rippling": [
                {"kind": "server_error", "nth": 2, "status": 502},
                {"kind": "drop", "nth": 3},
            ]
        },
    )
    url = fresh_sandbox.urls["rippling"] + "/workers/"
    with httpx.Client(verify=sandbox_ssl) as client:
        assert client.get(url).status_code == 401
        assert client.get(url).status_code == 502
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(url)
        assert client.get(url).status_code == 401


def test_latency_delays_the_answer(fresh_sandbox: Sandbox, sandbox_ssl: ssl.SSLContext) -> None:
    _put_faults(
        fresh_sandbox, sandbox_ssl, {"entra": [{"kind": "latency", "nth": 1, "latency_ms": 400}]}
    )
    tenant = fresh_sandbox.entra.tenant_id
    url = f"{fresh_sandbox.urls['entra']}/{tenant}/v2.0/.well-known/openid-configuration"
    with httpx.Client(verify=sandbox_ssl) as client:
        started = time.monotonic()
        assert client.get(url).status_code == 200
        assert time.monotonic() - started >= 0.4


def test_expire_tokens_fault_kills_a_live_fo_token(
    fresh_sandbox: Sandbox, sandbox_ssl: ssl.SSLContext
) -> None:
    client_cfg = next(
        c for c in fresh_sandbox.entra.credentials()["clients"] if c["registered_in_dynamics"]
    )
    with httpx.Client(verify=sandbox_ssl) as client:
        token = client.post(
            f"{fresh_sandbox.urls['entra']}/{fresh_sandbox.entra.tenant_id}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_cfg["client_id"],
                "client_secret": client_cfg["client_secret"],
                "scope": f"{fresh_sandbox.urls['dynamics']}/.default",
            },
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        url = fresh_sandbox.urls["dynamics"] + "/data/LegalEntities?cross-company=true"
        assert client.get(url, headers=headers).status_code == 200
        _put_faults(fresh_sandbox, sandbox_ssl, {"dynamics": [{"kind": "expire_tokens", "nth": 1}]})
        assert client.get(url, headers=headers).status_code == 401
        assert client.get(url, headers=headers).status_code == 401  # stays dead


def test_admin_paths_are_never_faulted_and_reset_clears_faults(
    fresh_sandbox: Sandbox, sandbox_ssl: ssl.SSLContext
) -> None:
    _put_faults(fresh_sandbox, sandbox_ssl, {"dynamics": [{"kind": "server_error", "share": 1.0}]})
    with httpx.Client(verify=sandbox_ssl) as client:
        assert client.get(fresh_sandbox.urls["dynamics"] + "/data/").status_code == 503
        info = client.get(fresh_sandbox.urls["dynamics"] + "/_sandbox/info")
        assert info.status_code == 200
        assert client.post(fresh_sandbox.urls["dynamics"] + "/_sandbox/reset").status_code == 200
        described = client.get(fresh_sandbox.urls["dynamics"] + "/_sandbox/faults").json()
    assert described["dynamics"]["rules"] == []


def test_listening_sockets_say_tcp_so_answers_are_not_held_for_a_delayed_ack(
    sandbox: Sandbox,
) -> None:
    """asyncio sets TCP_NODELAY on an accepted connection only when its socket's protocol is
    IPPROTO_TCP (inherited from the listener); a listener made without it held every small
    answer ~40 ms (Nagle meeting the client's delayed ACK), which no real service adds."""
    import socket

    for name, listener in sandbox.sockets.items():
        assert listener.proto == socket.IPPROTO_TCP, name
