"""Writes that cannot duplicate: late commits, changed splits, moved dates, lost stores, racers.

Each test ends by reading F&O back: one journal per payroll run and identity, every line once.
"""

import datetime as dt
import os
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest
import yaml
from pipeline_support import (
    PAYROLL,
    admin,
    lines_by_batch,
    materialize,
    pipeline_env,
)

from ml_connector_dagster.audit.store import AuditStore, Outcome
from ml_connector_dagster.connections import Connection
from ml_connector_dagster.defs.payroll.assets import labor_cost_journals, payroll_cost_snapshot
from ml_connector_dagster.defs.payroll.partitions import legal_entities, pay_periods
from ml_connector_dagster.ledger.journal import JournalIdentity, JournalType
from ml_connector_sandbox.mapping import sandbox_mapping
from ml_connector_sandbox.server import Sandbox

COMPANY = "USMF"


@pytest.fixture
def env(fresh_sandbox: Sandbox, sandbox_env, tmp_path: Path, monkeypatch) -> dict:
    return pipeline_env(fresh_sandbox, tmp_path, monkeypatch)


def _run(env) -> dg.ExecuteInProcessResult:
    with dg.instance_for_test() as instance:
        return materialize(instance, env["resources"], env["period"], COMPANY)


def _faults(env, config: dict) -> None:
    with admin(env["sandbox"], "dynamics") as fo:
        assert fo.put("/_sandbox/faults", json=config).status_code == 200


def _max_lines(env, limit: int) -> None:
    data = sandbox_mapping(env["sandbox"].company)
    data["journal"]["max_lines_per_journal"] = limit
    env["mapping"].write_text(yaml.safe_dump(data, sort_keys=False))


def _ledger() -> tuple[list[dict], dict[str, list[dict]]]:
    with Connection.from_environment().dynamics() as client:
        return client.list_entities("LedgerJournalHeaders"), lines_by_batch(client)


def _identity_keys(env) -> dict[str, str]:
    return {
        JournalIdentity("default", run["id"], COMPANY, JournalType.SETTLEMENT).integration_key: run[
            "id"
        ]
        for run in env["runs"]
    }


def _assert_each_run_once(env, parts: int | None = 1) -> list[dict]:
    """Every paid run of the period is in F&O exactly once: its journals, each line once."""
    headers, lines = _ledger()
    keys = _identity_keys(env)
    by_key = Counter(h["IntegrationKey"] for h in headers)
    if parts is None:  # split: any number of journals per identity, but every identity
        assert set(by_key) == set(keys), headers
    else:
        assert by_key == dict.fromkeys(keys, parts), headers
    for header in headers:
        numbers = [int(line["LineNumber"]) for line in lines[header["JournalBatchNumber"]]]
        assert numbers and len(numbers) == len(set(numbers)), header
        debit = sum(line["DebitAmount"] for line in lines[header["JournalBatchNumber"]])
        assert header["JournalTotalDebit"] == debit == header["JournalTotalCredit"]
    for key in keys:  # line numbers of an identity run 1..n across its journals, once each
        numbers = sorted(
            int(line["LineNumber"])
            for h in headers
            if h["IntegrationKey"] == key
            for line in lines[h["JournalBatchNumber"]]
        )
        assert numbers == list(range(1, len(numbers) + 1))
    return headers


def _trail(env) -> list[dict]:
    store = AuditStore(f"sqlite:///{env['tmp'] / 'audit.sqlite'}")
    try:
        return store.attempts()
    finally:
        store.dispose()


def test_a_header_that_commits_after_a_gateway_timeout_is_found_not_created_again(env) -> None:
    late = {"kind": "late_commit", "nth": 1, "delay_ms": 1500}
    _faults(env, {"dynamics": [{**late, "path_prefix": "/data/LedgerJournalHeaders"}]})
    result = _run(env)
    assert result.success
    headers = _assert_each_run_once(env)
    assert all(h["Description"].endswith(h["IntegrationKey"]) for h in headers)
    assert "[" not in "".join(h["Description"] for h in headers)  # no LIKE character class
    assert {a["outcome"] for a in _trail(env)} == {Outcome.CREATED}


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "late_commit", "nth": 1, "delay_ms": 1500, "status": 504},
        {"kind": "server_error", "nth": 1, "when": "after", "status": 504},
        {"kind": "drop", "nth": 1, "when": "after"},
    ],
    ids=["commits-late", "504-after-commit", "dropped-after-commit"],
)
def test_a_batch_whose_answer_was_lost_is_not_written_twice(env, fault) -> None:
    _faults(env, {"dynamics": [{**fault, "path_prefix": "/data/$batch"}]})
    assert _run(env).success
    _assert_each_run_once(env)
    if fault["kind"] == "late_commit":
        # The run may end before the late commit lands (it re-read F&O, found nothing yet and
        # wrote the lines itself): wait until it has, then F&O must still hold each line once
        # (it collided on the line numbers).
        late: dict = {}
        for _ in range(200):  # 20 s at most; the commit is due 1.5 s after the 504
            with admin(env["sandbox"], "dynamics") as fo:
                late = fo.get("/_sandbox/faults").json()["dynamics"]["late_commits"]
            if late["pending"] == 0:
                break
            threading.Event().wait(0.1)
        assert late["pending"] == 0, late
        assert sum(late["answered"].values()) + late["failed"] == 1, late  # it really ran
        _assert_each_run_once(env)


def test_lowering_max_lines_after_posting_creates_no_second_split(env) -> None:
    assert _run(env).success
    before = _assert_each_run_once(env)
    _max_lines(env, 12)  # vouchers have up to 10 lines: every journal would now split
    again = _run(env)
    assert again.success
    assert _assert_each_run_once(env) == before
    assert _trail(env)[-1]["outcome"] == Outcome.SKIPPED_DUPLICATE


def test_a_moved_check_date_and_a_lost_audit_store_write_nothing_new(env) -> None:
    assert _run(env).success
    before = _assert_each_run_once(env)
    run = env["runs"][0]
    moved = (dt.date.fromisoformat(run["check_date"]) + dt.timedelta(days=1)).isoformat()
    with admin(env["sandbox"], "rippling") as rippling:
        answer = rippling.patch(f"/_sandbox/payroll-runs/{run['id']}", json={"check_date": moved})
        assert answer.status_code == 200, answer.text
    (env["tmp"] / "audit.sqlite").unlink()
    again = _run(env)
    assert again.success
    assert _assert_each_run_once(env) == before
    [attempt] = [a for a in _trail(env) if a["payroll_run_id"] == run["id"]]
    assert attempt["outcome"] == Outcome.SKIPPED_DUPLICATE
    assert "check date moved" in attempt["dynamics_answer"] and moved in attempt["dynamics_answer"]


def test_a_split_journal_interrupted_between_parts_is_finished_without_new_headers(env) -> None:
    _max_lines(env, 12)  # vouchers here have up to 10 lines
    # every $batch fails before F&O runs it: headers are created, lines never land
    _faults(
        env, {"dynamics": [{"kind": "server_error", "share": 1.0, "path_prefix": "/data/$batch"}]}
    )
    assert not _run(env).success
    created, _ = _ledger()
    assert created and all(h["JournalTotalDebit"] == 0 for h in created)
    _faults(env, {})
    (env["tmp"] / "audit.sqlite").unlink()  # F&O alone must be enough
    assert _run(env).success
    headers = _assert_each_run_once(env, parts=None)
    assert max(Counter(h["IntegrationKey"] for h in headers).values()) > 1  # really split
    assert {h["JournalBatchNumber"] for h in created} <= {h["JournalBatchNumber"] for h in headers}


def test_two_posters_on_separate_audit_stores_racing_to_create_end_with_one_journal(
    env, monkeypatch
) -> None:
    """No shared database: F&O alone (re-look-up, keeper, line-number collisions) decides.

    The posters run in threads (Dagster itself is not thread-safe within one process), each
    with its own audit store and client, and both create the first header at the same moment.
    """
    from ml_connector_dagster.config.mapping import read_mapping_file
    from ml_connector_dagster.dynamics.client import DynamicsClient
    from ml_connector_dagster.posting.poster import JournalPoster

    with dg.instance_for_test() as instance:
        built = dg.materialize(
            PAYROLL[:2],
            instance=_with_partitions(instance, env),
            resources=env["resources"],
            partition_key=f"{COMPANY}|{env['period']}",
        )
    key = f"{COMPANY}|{env['period']}"
    builds = built.asset_value(labor_cost_journals.key)[key]
    snapshot = built.asset_value(payroll_cost_snapshot.key)[key]
    mapping = read_mapping_file(env["mapping"])

    barrier = threading.Barrier(2, timeout=60)  # a poster that raised early fails, not hangs
    raced: set[str] = set()
    create = DynamicsClient.create

    def racing_create(self, entity_set, values):
        identity = values.get("IntegrationKey", "")
        if entity_set == "LedgerJournalHeaders" and identity not in raced:
            barrier.wait()  # both decided to create the journal; both create it at once
            raced.add(identity)
        return create(self, entity_set, values)

    monkeypatch.setattr(DynamicsClient, "create", racing_create)
    outcomes: dict[str, list[str]] = {}

    def one(name: str) -> None:
        audit = AuditStore(f"sqlite:///{env['tmp'] / (name + '.sqlite')}")
        with Connection.from_environment().dynamics() as client:
            poster = JournalPoster(client, audit, mapping)
            outcomes[name] = [
                poster.post(
                    build,
                    snapshot.records.get(build.journal.identity.run_id, []),
                    partition_key=key,
                    pay_period=env["period"],
                ).outcome
                for build in builds
            ]
        audit.dispose()

    threads = [threading.Thread(target=one, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(outcomes) == {"a", "b"}, "a poster raised"
    assert len(raced) == len(builds)  # the race really happened, for every journal
    for a, b in zip(outcomes["a"], outcomes["b"], strict=True):
        assert {a, b} <= {Outcome.CREATED, Outcome.SKIPPED_DUPLICATE}
    _assert_each_run_once(env)


def _with_partitions(instance: dg.DagsterInstance, env) -> dg.DagsterInstance:
    instance.add_dynamic_partitions(pay_periods.name, [env["period"]])
    instance.add_dynamic_partitions(legal_entities.name, [COMPANY])
    return instance


def test_two_instances_sharing_the_audit_database_post_each_journal_once(env) -> None:
    """Two `ml-connector run` processes, two DAGSTER_HOMEs, one audit database, same period."""
    audit_url = f"sqlite:///{env['tmp'] / 'shared-audit.sqlite'}"
    base = {
        **os.environ,
        "ML_CONNECTOR_MAPPING": str(env["mapping"]),
        "ML_CONNECTOR_AUDIT_URL": audit_url,
        "COLUMNS": "250",
    }
    cli = str(Path(sys.executable).parent / "ml-connector")
    procs = []
    for name in ("one", "two"):
        home = env["tmp"] / name
        home.mkdir()
        log = (home / "run.log").open("w")
        command = [cli, "run", "--pay-period", env["period"], "--legal-entity", COMPANY]
        procs.append(
            (
                subprocess.Popen(
                    command,
                    env={**base, "DAGSTER_HOME": str(home)},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                ),
                log,
                home / "run.log",
            )
        )
    for proc, log, _ in procs:
        proc.wait()  # no timeout: libfaketime breaks timed waits
        log.close()
    outputs = [path.read_text() for _, _, path in procs]
    assert [proc.returncode for proc, _, _ in procs] == [0, 0], [o[-4000:] for o in outputs]
    assert not any("Warning" in o for o in outputs)  # no Dagster preview notes for finance
    _assert_each_run_once(env)
    store = AuditStore(audit_url)
    outcomes = Counter(a["outcome"] for a in store.attempts())
    store.dispose()
    assert outcomes == {
        Outcome.CREATED: len(env["runs"]),
        Outcome.SKIPPED_DUPLICATE: len(env["runs"]),
    }
