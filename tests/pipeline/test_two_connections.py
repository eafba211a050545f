"""Two connections (two customers' Rippling and F&O) in one Dagster instance, side by side.

Each sandbox is one customer: its own Rippling company, Entra tenant and F&O environment, with
the same company codes (USMF ...), so anything that crossed over would land in the wrong
ledger or be taken for the other's journal. The commands run as separate processes, as an
operator runs them, against one DAGSTER_HOME; the checks read both F&O environments back.
"""

import datetime as dt
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.instance.ref import InstanceRef
from pipeline_support import latest_paid_period, sandbox_writes

from ml_connector_dagster.instance import prepare_dagster_home
from ml_connector_sandbox.mapping import write_sandbox_mapping
from ml_connector_sandbox.server import Sandbox, SandboxConfig, running_sandbox

COMPANY = "USMF"
CLI = Path(sys.executable).parent / "ml-connector"
OTHER_COMPANY = {"workers": 30, "legal_entities": 3, "departments": 4, "pay_periods": 4}


@pytest.fixture(scope="module")
def other_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A second customer: another generated company (another seed) on its own ports."""
    config = SandboxConfig(
        data_dir=tmp_path_factory.mktemp("other-sandbox"),
        ports={"rippling": 0, "entra": 0, "dynamics": 0},
        as_of=dt.date(2026, 11, 20),
        seed=7,
        **OTHER_COMPANY,
    )
    with running_sandbox(config) as running:
        yield running


def _entry(sandbox: Sandbox, mapping: Path, secrets_from: str) -> dict[str, str]:
    """The connection's entry: non-secret values literally, secrets by reference."""
    env = sandbox.env()
    entry = {
        name: value
        for name, value in env.items()
        if name not in {"RIPPLING_API_TOKEN", "DYNAMICS_CLIENT_SECRET"}
        and name != "ML_CONNECTOR_CREDENTIALS_KEY"
    }
    entry["ML_CONNECTOR_MAPPING"] = str(mapping)
    entry["RIPPLING_API_TOKEN"] = "${" + secrets_from + "_RIPPLING_API_TOKEN}"
    return entry


@pytest.fixture
def deployment(fresh_sandbox: Sandbox, other_sandbox: Sandbox, tmp_path: Path) -> dict:
    """One DAGSTER_HOME serving acme (the session sandbox) and globex (the other one).

    acme's F&O client secret comes from the environment by reference; globex's is in
    globex's own credentials store (written by the command below). The shared environment
    also holds acme's credentials under their plain names, as a careless deployment might:
    globex must not pick them up.
    """
    other_sandbox.reset()
    home = prepare_dagster_home(tmp_path / "home", kind="sqlite")
    acme_mapping = write_sandbox_mapping(fresh_sandbox.company, tmp_path / "acme.yaml", "acme")
    globex_mapping = write_sandbox_mapping(
        other_sandbox.company, tmp_path / "globex.yaml", "globex"
    )
    acme = _entry(fresh_sandbox, acme_mapping, "ACME")
    acme["DYNAMICS_CLIENT_SECRET"] = "${ACME_DYNAMICS_CLIENT_SECRET}"
    globex = _entry(other_sandbox, globex_mapping, "GLOBEX")
    connections = tmp_path / "connections.yaml"
    connections.write_text(yaml.safe_dump({"connections": {"acme": acme, "globex": globex}}))
    a, b = fresh_sandbox.env(), other_sandbox.env()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RIPPLING_", "DYNAMICS_", "ML_CONNECTOR_"))
    }
    env.update(
        {
            "DAGSTER_HOME": str(home),
            "ML_CONNECTOR_CONNECTIONS": str(connections),
            "ML_CONNECTOR_CREDENTIALS_KEY": a["ML_CONNECTOR_CREDENTIALS_KEY"],
            "ACME_RIPPLING_API_TOKEN": a["RIPPLING_API_TOKEN"],
            "ACME_DYNAMICS_CLIENT_SECRET": a["DYNAMICS_CLIENT_SECRET"],
            "GLOBEX_RIPPLING_API_TOKEN": b["RIPPLING_API_TOKEN"],
            # A careless shared environment: acme's secrets under the plain names.
            "RIPPLING_API_TOKEN": a["RIPPLING_API_TOKEN"],
            "DYNAMICS_CLIENT_SECRET": a["DYNAMICS_CLIENT_SECRET"],
            "COLUMNS": "250",
        }
    )
    stored = _cli(
        env,
        "--connection",
        "globex",
        "credentials",
        "set",
        "dynamics",
        "--from-env",
        "--client-secret",
        b["DYNAMICS_CLIENT_SECRET"],
    )
    assert stored.returncode == 0, stored.stdout + stored.stderr
    return {
        "env": env,
        "home": home,
        "acme": fresh_sandbox,
        "globex": other_sandbox,
        "acme_period": latest_paid_period(fresh_sandbox)[0],
        "globex_period": latest_paid_period(other_sandbox)[0],
    }


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CLI), *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )


def _run_period(deployment: dict, connection: str) -> subprocess.CompletedProcess:
    """`ml-connector --connection NAME run` of the connection's newest paid USMF period."""
    period = deployment[f"{connection}_period"]
    return _cli(
        deployment["env"],
        "--connection",
        connection,
        "run",
        "--pay-period",
        period,
        "--legal-entity",
        COMPANY,
    )


def test_two_connections_post_side_by_side_and_nothing_crosses(deployment: dict) -> None:
    before = {name: sandbox_writes(deployment[name]) for name in ("acme", "globex")}
    acme = _run_period(deployment, "acme")
    assert acme.returncode == 0, acme.stdout + acme.stderr
    after_acme = {name: sandbox_writes(deployment[name]) for name in ("acme", "globex")}
    assert after_acme["acme"] > before["acme"]
    assert after_acme["globex"] == before["globex"], "acme's run wrote to globex's F&O"
    globex = _run_period(deployment, "globex")
    assert globex.returncode == 0, globex.stdout + globex.stderr
    assert sandbox_writes(deployment["acme"]) == after_acme["acme"], "globex wrote to acme's F&O"
    assert sandbox_writes(deployment["globex"]) > after_acme["globex"]
    # globex's F&O accepted its client secret: the one in globex's own store. The shared
    # environment's DYNAMICS_CLIENT_SECRET (acme's) would have been refused by globex's Entra.
    home = deployment["home"]
    assert (home / "ml-connector/connections/globex/credentials.enc").is_file()
    assert not (home / "ml-connector/connections/acme/credentials.enc").exists()
    assert not (home / "ml-connector/credentials.enc").exists()

    # Audit rows: each connection in its own database, under its own name only.
    for name in ("acme", "globex"):
        rows = _audit_rows(home, name)
        assert rows["journal_identities"] and rows["posting_attempts"]
        for table, connections in rows.items():
            assert connections == {name}, (name, table, connections)
    assert not (home / "ml-connector/audit.sqlite").exists()

    # The instance: runs of each connection's own job and code location; materializations
    # under each connection's asset key prefix, none under the one-connection keys.
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        runs = instance.get_runs()
        by_job = {run.job_name: run for run in runs}
        assert set(by_job) == {"acme__payroll_to_ledger", "globex__payroll_to_ledger"}
        for name in ("acme", "globex"):
            run = by_job[f"{name}__payroll_to_ledger"]
            assert run.status == dg.DagsterRunStatus.SUCCESS
            assert run.remote_job_origin.location_name == f"ml_connector_dagster__{name}"
            period = deployment[f"{name}_period"]
            posted = instance.get_latest_materialization_event(
                dg.AssetKey([name, "dynamics", "posted_journals"])
            )
            assert posted is not None and posted.run_id == run.run_id
            assert posted.dagster_event.partition == f"{COMPANY}|{period}"
        assert (
            instance.get_latest_materialization_event(dg.AssetKey(["dynamics", "posted_journals"]))
            is None
        )


def _audit_rows(home: Path, name: str) -> dict[str, set[str]]:
    """Per audit table with a connection column: the connections its rows name."""
    path = home / "ml-connector" / "connections" / name / "audit.sqlite"
    with sqlite3.connect(path) as db:
        found = {
            table: {row[0] for row in db.execute(f"SELECT DISTINCT connection FROM {table}")}
            for table in ("journal_identities", "posting_attempts")
        }
        [(owner,)] = db.execute("SELECT connection FROM audit_owner").fetchall()
    assert owner == name
    return found


def test_a_blocked_connection_never_stops_the_other(deployment: dict, tmp_path: Path) -> None:
    """acme's mapping loses a department: acme's run blocks (nothing written to its F&O),
    globex's run of the same company code posts."""
    mapping = tmp_path / "acme.yaml"
    document = yaml.safe_load(mapping.read_text())
    rippling = deployment["acme"].company["rippling"]
    run_ids = {run["id"] for run in latest_paid_period(deployment["acme"])[1]}
    worker = next(
        r["worker_id"] for r in rippling["worker_payroll_records"] if r["run_id"] in run_ids
    )
    department = next(w["department_id"] for w in rippling["workers"] if w["id"] == worker)
    code = next(d["reference_code"] for d in rippling["departments"] if d["id"] == department)
    document["departments"].pop(code)
    mapping.write_text(yaml.safe_dump(document, sort_keys=False))
    before = {name: sandbox_writes(deployment[name]) for name in ("acme", "globex")}
    acme = _run_period(deployment, "acme")
    assert acme.returncode == 1, acme.stdout + acme.stderr
    assert "fully_mapped" in acme.stdout
    globex = _run_period(deployment, "globex")
    assert globex.returncode == 0, globex.stdout + globex.stderr
    assert sandbox_writes(deployment["acme"]) == before["acme"]
    assert sandbox_writes(deployment["globex"]) > before["globex"]


def test_the_workspace_serves_one_code_location_per_connection(deployment: dict) -> None:
    """`connections workspace` writes a workspace Dagster loads: two code locations, each
    with its connection's asset keys, groups, jobs and sensors, nothing shared."""
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget

    env = deployment["env"]
    output = deployment["home"] / "workspace.yaml"
    written = _cli(env, "connections", "workspace", "--output", str(output))
    assert written.returncode == 0, written.stdout + written.stderr
    assert f"dagster dev -w {output}" in written.stdout
    # The workspace's code servers get this process's environment (the launchers add the
    # connection): the shared environment of the deployment.
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        with (
            dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(deployment["home"]))) as instance,
            WorkspaceProcessContext(instance, WorkspaceFileTarget([str(output)])) as workspace,
        ):
            request = workspace.create_request_context()
            seen: dict[str, dict[str, set]] = {}
            for name in ("acme", "globex"):
                location_name = f"ml_connector_dagster__{name}"
                assert request.get_code_location_error(location_name) is None
                [repository] = request.get_code_location(location_name).get_repositories().values()
                nodes = repository.get_asset_node_snaps()
                seen[name] = {
                    "keys": {node.asset_key for node in nodes},
                    "groups": {node.group_name for node in nodes},
                    "jobs": {job.name for job in repository.get_all_jobs()},
                    "sensors": {sensor.name for sensor in repository.get_sensors()},
                }
    finally:
        os.environ.clear()
        os.environ.update(saved)
    for name, other in (("acme", "globex"), ("globex", "acme")):
        mine = seen[name]
        assert all(key.path[0] == name for key in mine["keys"]), mine["keys"]
        assert dg.AssetKey([name, "dynamics", "posted_journals"]) in mine["keys"]
        assert mine["groups"] >= {f"{name}__payroll", f"{name}__reference"}
        assert all(group.startswith(f"{name}__") for group in mine["groups"])
        assert f"{name}__payroll_to_ledger" in mine["jobs"]
        assert f"{name}__pay_run_sensor" in mine["sensors"]
        assert not mine["keys"] & seen[other]["keys"]
        assert not {j for j in mine["jobs"] if not j.startswith("__")} & seen[other]["jobs"]
        assert not mine["sensors"] & seen[other]["sensors"]
