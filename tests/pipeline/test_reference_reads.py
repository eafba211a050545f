"""F&O's reference data: the checks' read shared by the runs of a pay period, the posting step's
own read right before its first write, not again for every journal (issue 12). Counted at the
sandbox."""

import datetime as dt
import math
from pathlib import Path

import dagster as dg
import httpx
import pytest
from pipeline_support import (
    lines_by_batch,
    materialize,
    period_companies,
    pipeline_env,
    sandbox_writes,
    switch_active_ledger_format,
)

from ml_connector_dagster.connections import Connection
from ml_connector_dagster.defs.failures import step_failure_messages
from ml_connector_dagster.posting import poster
from ml_connector_sandbox.server import Sandbox

COMPANY = "USMF"
FORMATS = "GET /data/DimensionIntegrationFormats"
HEADERS = "POST /data/LedgerJournalHeaders"
JOURNAL_NAMES = "GET /data/JournalNames"


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
    # the voucher settings come from the preflight's JournalNames rows: no read of their own
    assert counts[JOURNAL_NAMES] == 2


def test_a_stale_preflight_read_is_read_again_before_the_next_journal(env, monkeypatch) -> None:
    # every read is already stale
    monkeypatch.setattr(poster, "PREFLIGHT_MAX_AGE", dt.timedelta(seconds=-1))
    counts = _post(env)
    assert counts[HEADERS] == len(env["runs"])
    assert counts[FORMATS] == 1 + len(env["runs"])  # the checks', then one per journal


def _post_companies(env, companies: list[str]) -> dict[str, int]:
    with dg.instance_for_test() as instance:
        for company in companies:
            assert materialize(instance, env["resources"], env["period"], company).success
    return _dynamics_counts(env["sandbox"])


def test_the_runs_of_a_period_share_the_checks_read_but_not_the_preflight(env) -> None:
    companies = period_companies(env["sandbox"], env["period"])
    assert len(companies) >= 2
    counts = _post_companies(env, companies)
    # one checks' read for every company, then each posting step's own preflight
    assert counts[FORMATS] == 1 + len(companies)
    assert counts[JOURNAL_NAMES] == 1 + len(companies)
    assert counts[HEADERS] >= len(companies)


def test_without_sharing_each_runs_checks_read_their_own(env, monkeypatch) -> None:
    monkeypatch.setenv("ML_CONNECTOR_DYNAMICS_REFERENCE_MAX_AGE_SECONDS", "0")
    companies = period_companies(env["sandbox"], env["period"])
    counts = _post_companies(env, companies)
    assert counts[FORMATS] == 2 * len(companies)


def test_a_format_switched_after_a_shared_read_still_stops_the_next_write(env) -> None:
    """Company A's checks read (and share) F&O; the active format changes; company B's checks
    take the shared read and pass, but B's posting step reads again and writes nothing."""
    first, second = period_companies(env["sandbox"], env["period"])[:2]
    with dg.instance_for_test() as instance:
        assert materialize(instance, env["resources"], env["period"], first).success
        switch_active_ledger_format(env["sandbox"])
        before = sandbox_writes(env["sandbox"])
        refused = materialize(instance, env["resources"], env["period"], second)
    assert not refused.success
    checks = {c.check_name: c.passed for c in refused.get_asset_check_evaluations()}
    assert checks["valid_in_dynamics"] is True  # the shared read, made before the switch
    reasons = " ".join(step_failure_messages(refused.all_events))
    assert "valid_in_dynamics" in reasons and "active F&O ledger format" in reasons
    assert sandbox_writes(env["sandbox"]) == before


HEADER_READS = "GET /data/LedgerJournalHeaders"
LINE_READS = "GET /data/LedgerJournalLines"


def _line_pages(sandbox: Sandbox) -> tuple[int, int]:
    """(F&O journals, pages of their lines): the tests' F&O serves small pages, so reading one
    journal's lines costs ceil(lines / page size) requests."""
    page = sandbox.config.dynamics_page_size
    assert page
    with Connection.from_environment().dynamics() as client:
        grouped = lines_by_batch(client)
    return len(grouped), sum(math.ceil(len(lines) / page) for lines in grouped.values())


def test_a_new_journal_costs_three_header_reads_and_one_read_of_its_lines(env) -> None:
    """Per new journal: one read for the identity and its first correction together, the race
    read after creating the header (its own, empty lines are not read) and the read-back."""
    counts = _post(env)
    journals, pages = _line_pages(env["sandbox"])
    assert journals == counts[HEADERS] == len(env["runs"])
    assert counts[HEADER_READS] == 3 * journals
    assert counts[LINE_READS] == pages  # the read-back only


def test_a_journal_already_in_fo_costs_one_header_read_and_one_read_of_its_lines(env) -> None:
    first = _post(env)
    again = _post(env)  # a second materialization: every journal is present
    journals, pages = _line_pages(env["sandbox"])
    assert again[HEADERS] == first[HEADERS] == journals  # nothing created the second time
    assert again[HEADER_READS] - first[HEADER_READS] == journals
    assert again[LINE_READS] - first[LINE_READS] == pages
