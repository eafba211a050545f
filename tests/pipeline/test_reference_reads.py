"""F&O's reference data: read by the checks, then once more right before the first write of a
posting step, not again for every journal (issue 12). Counted at the sandbox."""

from pathlib import Path

import dagster as dg
import httpx
import pytest
from pipeline_support import materialize, pipeline_env

from ml_connector_dagster.posting import poster
from ml_connector_sandbox.server import Sandbox

COMPANY = "USMF"
FORMATS = "GET /data/DimensionIntegrationFormats"
HEADERS = "POST /data/LedgerJournalHeaders"


@pytest.fixture
def env(fresh_sandbox: Sandbox, sandbox_env, tmp_path: Path, monkeypatch) -> dict:
    return pipeline_env(fresh_sandbox, tmp_path, monkeypatch)


def _dynamics_counts(sandbox: Sandbox) -> dict[str, int]:
    with httpx.Client(verify=sandbox.client_ssl_context()) as admin:
        answer = admin.get(sandbox.urls["dynamics"] + "/_sandbox/requests")
    answer.raise_for_status()
    return answer.json()["requests"].get("dynamics", {})


def _post(env) -> dict[str, int]:
    with dg.instance_for_test() as instance:
        assert materialize(instance, env["resources"], env["period"], COMPANY).success
    return _dynamics_counts(env["sandbox"])


def test_one_preflight_read_serves_the_journals_of_a_posting_step(env) -> None:
    assert len(env["runs"]) >= 2, "the newest USMF period must post two journals"
    counts = _post(env)
    assert counts[HEADERS] == len(env["runs"])  # one header per journal: all were written
    assert counts[FORMATS] == 2  # the checks' read and the preflight's, whatever the journals


def test_a_stale_preflight_read_is_read_again_before_the_next_journal(env, monkeypatch) -> None:
    monkeypatch.setattr(poster, "PREFLIGHT_FRESH_SECONDS", -1.0)  # every read is already stale
    counts = _post(env)
    assert counts[HEADERS] == len(env["runs"])
    assert counts[FORMATS] == 1 + len(env["runs"])  # the checks', then one per journal
