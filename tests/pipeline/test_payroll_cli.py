"""`ml-connector run`, `replay` and `audit` end to end on the sandbox, through a real instance."""

import os
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from pipeline_support import admin, latest_paid_period

from ml_connector_dagster.cli import main
from ml_connector_dagster.connections import Connection
from ml_connector_sandbox.mapping import write_sandbox_mapping
from ml_connector_sandbox.server import Sandbox


@pytest.fixture
def env(fresh_sandbox: Sandbox, sandbox_env, tmp_path: Path, monkeypatch) -> dict:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    mapping = write_sandbox_mapping(fresh_sandbox.company, tmp_path / "mapping.yaml")
    monkeypatch.setenv("ML_CONNECTOR_MAPPING", str(mapping))
    monkeypatch.delenv("ML_CONNECTOR_AUDIT_URL", raising=False)
    period, _ = latest_paid_period(fresh_sandbox)
    return {"sandbox": fresh_sandbox, "period": period}


def _invoke(*args: str):
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "250"}, catch_exceptions=False)


def test_run_posts_then_audit_shows_the_trail(env) -> None:
    result = _invoke("run", "--pay-period", env["period"], "--legal-entity", "USMF")
    assert result.exit_code == 0, result.output
    assert "created in F&O, not posted" in result.output  # never "posted" before F&O says so
    with Connection.from_environment().dynamics() as client:
        numbers = [h["JournalBatchNumber"] for h in client.list_entities("LedgerJournalHeaders")]
    assert numbers and all(n in result.output for n in numbers)
    trail = _invoke("audit", "--pay-period", env["period"])
    assert trail.exit_code == 0
    assert "created" in trail.output and numbers[0] in trail.output


def test_failed_post_exits_non_zero_and_replay_finishes_it(env) -> None:
    with admin(env["sandbox"], "dynamics") as fo:
        fo.put(
            "/_sandbox/faults",
            json={
                "dynamics": [{"kind": "server_error", "share": 1.0, "path_prefix": "/data/$batch"}]
            },
        )
    failed = _invoke("run", "--pay-period", env["period"], "--legal-entity", "USMF")
    assert failed.exit_code == 1
    assert "FAILED" in failed.output
    with admin(env["sandbox"], "dynamics") as fo:
        fo.delete("/_sandbox/faults")
    replayed = _invoke("replay")
    assert replayed.exit_code == 0, replayed.output
    assert "USMF" in replayed.output and env["period"] in replayed.output
    with Connection.from_environment().dynamics() as client:
        headers = client.list_entities("LedgerJournalHeaders")
        assert all(h["JournalTotalDebit"] == h["JournalTotalCredit"] > 0 for h in headers)
    assert "Nothing to replay" in _invoke("replay").output


def test_blocked_check_exits_non_zero_naming_the_check(env) -> None:
    mapping = Path(os.environ["ML_CONNECTOR_MAPPING"])
    data = yaml.safe_load(mapping.read_text())
    data["dimension_format"]["dimensions"] = [
        "MainAccount",
        "CostCenter",
        "Department",
        "BusinessUnit",
    ]
    mapping.write_text(yaml.safe_dump(data))
    result = _invoke("run", "--pay-period", env["period"], "--legal-entity", "USMF")
    assert result.exit_code == 1
    assert "valid_in_dynamics" in result.output


def _partitions_created() -> list[str]:
    import dagster as dg

    from ml_connector_dagster.defs.payroll.partitions import pay_periods

    with dg.DagsterInstance.get() as instance:
        return instance.get_dynamic_partitions(pay_periods.name)


@pytest.mark.parametrize(
    ("day", "message"),
    [("2026-11-31", "not a calendar date"), ("2026-11-12", "no Rippling pay period ends on")],
)
def test_run_refuses_a_date_that_is_no_pay_period_end_before_creating_a_partition(
    env, day: str, message: str
) -> None:
    from ml_connector_dagster.instance import prepare_dagster_home

    prepare_dagster_home(Path(os.environ["DAGSTER_HOME"]))
    result = CliRunner().invoke(
        main, ["run", "--pay-period", day, "--legal-entity", "USMF"], env={"COLUMNS": "250"}
    )
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "created" not in result.output and "posted" not in result.output
    assert _partitions_created() == []
    with Connection.from_environment().dynamics() as client:
        assert client.list_entities("LedgerJournalHeaders") == []


def test_a_period_with_only_an_approved_run_says_nothing_to_post_and_why(env) -> None:
    sandbox = env["sandbox"]
    usmf = next(
        e["id"]
        for e in sandbox.company["rippling"]["company_legal_entities"]
        if e["legal_name"] == "Northwind Advisory Inc."
    )
    runs = [
        r for r in sandbox.company["rippling"]["payroll_runs"] if r["company_entity_id"] == usmf
    ]
    approved = next(r for r in runs if r["run_state"] == "APPROVED")
    period = approved["pay_period"]["end_date"]
    assert all(r["run_state"] != "PAID" for r in runs if r["pay_period"]["end_date"] == period)
    result = _invoke("run", "--pay-period", period, "--legal-entity", "USMF")
    assert result.exit_code == 3, result.output
    assert "nothing to post" in result.output and "APPROVED" in result.output
    assert "created in F&O" not in result.output
    with Connection.from_environment().dynamics() as client:
        assert client.list_entities("LedgerJournalHeaders") == []


def test_replay_offers_a_blocked_partition_once_the_cause_is_fixed(env) -> None:
    mapping = Path(os.environ["ML_CONNECTOR_MAPPING"])
    good = mapping.read_text()
    data = yaml.safe_load(good)
    data["journal"]["name"] = "NOSUCHJRN"
    mapping.write_text(yaml.safe_dump(data))
    blocked = _invoke("run", "--pay-period", env["period"], "--legal-entity", "USMF")
    assert blocked.exit_code == 1 and "BLOCKED" in blocked.output
    unfinished = _invoke("audit")
    assert f"USMF|{env['period']}" in unfinished.output and "blocked" in unfinished.output
    mapping.write_text(good)
    replayed = _invoke("replay")
    assert replayed.exit_code == 0, replayed.output
    assert "created in F&O, not posted" in replayed.output
    with Connection.from_environment().dynamics() as client:
        headers = client.list_entities("LedgerJournalHeaders")
    assert headers and all(h["JournalTotalDebit"] == h["JournalTotalCredit"] > 0 for h in headers)
    assert "Nothing to replay" in _invoke("replay").output
    assert "final state" in _invoke("audit").output


# --- the root cause on screen, not Dagster's wrapper ---------------------------------------------


def _why_cell(output: str) -> str:
    """The table's text with the borders and wrapping taken out, to search a folded cell."""
    return " ".join("".join(c for c in output if c not in "│┃┏┓┗┛┡┩└┘━─╇┳┻╋┼").split())


def test_a_mapping_error_shows_file_line_and_key_not_the_dagster_wrapper(env) -> None:
    mapping = Path(os.environ["ML_CONNECTOR_MAPPING"])
    mapping.write_text(mapping.read_text().replace("journal:", "journal:\n  bogus_key: 1", 1))
    result = _invoke("run", "--pay-period", env["period"], "--legal-entity", "USMF")
    assert result.exit_code == 1
    table = result.output[result.output.index("payroll to ledger") :]
    assert "FAILED" in table
    assert "Error occurred while executing op" not in table
    assert "DagsterExecutionStepExecutionError" not in table
    text = _why_cell(table)
    assert "invalid mapping" in text and "journal.bogus_key" in text
    assert f"{mapping.name}:" in text  # file and line: ".../mapping.yaml:13: journal.bogus_key"


def test_a_corrupt_credential_store_says_what_to_do(env, tmp_path: Path, monkeypatch) -> None:
    from cryptography.fernet import Fernet

    store = tmp_path / "credentials.enc"
    store.write_text('{"format": "ml-connector-credentials/1", "token": "gAAAA-not-a-token"}\n')
    store.chmod(0o600)
    monkeypatch.setenv("ML_CONNECTOR_CREDENTIALS_FILE", str(store))
    monkeypatch.setenv("ML_CONNECTOR_CREDENTIALS_KEY", Fernet.generate_key().decode())
    # replay with a partition reads no credentials before the run: the step meets the store.
    result = _invoke("replay", "--partition", f"USMF|{env['period']}")
    assert result.exit_code == 1
    table = result.output[result.output.index("payroll to ledger") :]
    assert "Error occurred while executing op" not in table
    text = _why_cell(table)
    assert "credentials store" in text and "is damaged" in text
    assert "ml-connector credentials set" in text
    assert "CorruptStoreError" not in text  # the project's own words, without its class path


def test_root_cause_skips_dagster_and_prefers_the_connectors_innermost_words() -> None:
    from dagster._utils.error import SerializableErrorInfo

    from ml_connector_dagster.defs.failures import root_cause

    def info(qualified: str, text: str, cause=None) -> SerializableErrorInfo:
        return SerializableErrorInfo(
            f"{qualified}: {text}\n", [], qualified.rsplit(".", 1)[-1], cause
        )

    ssl_error = info("ssl.SSLCertVerificationError", "certificate verify failed")
    ours = info("ml_connector_dagster.transport.tls.CaBundleError", "bad CA\nline two", ssl_error)
    wrapped = info(
        "dagster._core.errors.DagsterExecutionStepExecutionError", "Error occurred", ours
    )
    assert root_cause(wrapped) == "bad CA\nline two"
    library = info("dagster._core.errors.DagsterExecutionStepExecutionError", "x", ssl_error)
    assert root_cause(library) == "SSLCertVerificationError: certificate verify failed"
