"""`ml-connector ping` against the sandbox: a verdict per line and the exit status."""

import httpx
import pytest
from click.testing import CliRunner

from ml_connector_dagster.cli import main
from ml_connector_sandbox.server import Sandbox


def _limited_token(sandbox: Sandbox) -> str:
    return next(
        t["token"] for t in sandbox.rippling.credentials()["api_tokens"] if t["label"] == "limited"
    )


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("ML_CONNECTOR_MAPPING", raising=False)


def test_ping_passes_on_the_sandbox(fresh_sandbox: Sandbox, sandbox_env, isolated) -> None:
    result = CliRunner().invoke(main, ["ping"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for check in (
        "token valid",
        "payroll records",
        "token issued",
        "legal entities visible",
        "active ledger dimension format",
    ):
        assert check in result.output
    assert "MainAccount-BusinessUnit-Department-CostCenter" in result.output
    assert "FAIL" not in result.output
    # A line per endpoint with its scope and entitlement, and the company's entitlements.
    for check in ("job assignments", "compensations", "company activity (v1)", "entitlements"):
        assert check in result.output
    assert "scope payroll-runs.read, entitlement Global_Payroll: 200" in result.output
    assert "scope job-codes.read, entitlement API_Tier_2: 200" in result.output
    assert "the company has API_Tier_1, API_Tier_2, Global_Payroll" in result.output


def test_ping_fails_and_says_which_scope_is_missing(
    fresh_sandbox: Sandbox, sandbox_env, isolated, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RIPPLING_API_TOKEN", _limited_token(fresh_sandbox))
    result = CliRunner().invoke(main, ["ping"], env={"COLUMNS": "250"})
    assert result.exit_code == 1
    assert "payroll-runs.read" in result.output
    assert "redacted on this page: compensation" in result.output or "WARN" in result.output


def test_ping_names_a_missing_entitlement(fresh_sandbox: Sandbox, sandbox_env, isolated) -> None:
    with httpx.Client(verify=fresh_sandbox.client_ssl_context()) as admin:
        admin.put(
            fresh_sandbox.urls["rippling"] + "/_sandbox/entitlements",
            json={"entitlements": ["API_Tier_1", "API_Tier_2"]},
        ).raise_for_status()
    result = CliRunner().invoke(main, ["ping"], env={"COLUMNS": "400"})
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    payroll = next(line for line in lines if "payroll runs" in line)
    assert "FAIL" in payroll and "lacks the entitlement 'Global_Payroll'" in payroll
    assert "needs the scope" not in payroll
    records = next(line for line in lines if "payroll records" in line)
    assert "Global_Payroll" in records
    held = next(line for line in lines if "the company has" in line)
    assert "FAIL" in held and "missing Global_Payroll" in held
    assert "FAIL" not in next(line for line in lines if "job codes" in line)


def test_ping_fails_on_a_wrong_dynamics_secret(
    fresh_sandbox: Sandbox, sandbox_env, isolated, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DYNAMICS_CLIENT_SECRET", "not-it")
    result = CliRunner().invoke(main, ["ping"], env={"COLUMNS": "250"})
    assert result.exit_code == 1
    assert "AADSTS7000215" in result.output
    assert "not-it" not in result.output


def test_ping_reports_missing_settings_by_name(isolated, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "RIPPLING_API_TOKEN",
        "DYNAMICS_ENVIRONMENT_URL",
        "DYNAMICS_TENANT_ID",
        "DYNAMICS_CLIENT_ID",
        "DYNAMICS_CLIENT_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(main, ["ping"])
    assert result.exit_code != 0
    assert "DYNAMICS_ENVIRONMENT_URL" in result.output
