"""`ml-connector ping` against the sandbox: a verdict per line and the exit status."""

import json
import time

import httpx
import pytest
from click.testing import CliRunner

from ml_connector_dagster.cli import main
from ml_connector_dagster.connections import Connection
from ml_connector_dagster.dynamics import readers
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


# --- what ping settles on a tenant: formats, vouchers, IntegrationKey, webhooks, --json -----
def _checks(output: str) -> dict[str, dict]:
    data = json.loads(output)
    return {(c["system"], c["check"]): c for c in data["checks"]} | {("", "passed"): data}


@pytest.fixture
def mapped(fresh_sandbox: Sandbox, sandbox_env, isolated, monkeypatch) -> Sandbox:
    monkeypatch.setenv("ML_CONNECTOR_MAPPING", str(fresh_sandbox.mapping_path))
    return fresh_sandbox


def _fo_admin(sandbox: Sandbox) -> httpx.Client:
    return httpx.Client(
        base_url=sandbox.urls["dynamics"], verify=sandbox.client_ssl_context(), timeout=30
    )


def test_ping_json_reports_formats_vouchers_and_integration_key(mapped: Sandbox) -> None:
    result = CliRunner().invoke(main, ["ping", "--json"])
    assert result.exit_code == 0, result.output
    checks = _checks(result.output)
    assert checks[("", "passed")]["passed"] is True
    default = checks[("Dynamics", "active default dimension format")]
    ledger = checks[("Dynamics", "active ledger dimension format")]
    assert default["verdict"] == ledger["verdict"] == "ok"
    # Two formats of different types, read separately: the default one has no MainAccount.
    assert "MainAccount" in ledger["detail"] and "MainAccount" not in default["detail"]
    vouchers = checks[("Dynamics", "journal name vouchers")]
    assert vouchers["verdict"] == "ok"
    assert "new voucher BalanceSheet" in vouchers["detail"]
    assert "leaves Voucher to F&O" in vouchers["detail"]
    assert checks[("Dynamics", "IntegrationKey filterable")]["verdict"] == "ok"
    assert checks[("Rippling", "webhook secret")]["detail"].startswith("webhooks off")
    assert ("Dynamics", "write probe") not in checks  # read-only unless asked


def test_ping_reports_a_manual_journal_name_and_a_missing_default_format(mapped: Sandbox) -> None:
    with _fo_admin(mapped) as fo:
        fo.patch(
            "/_sandbox/entities/JournalNames",
            json={
                "key": {"dataAreaId": "usmf", "Name": "PAYROLL"},
                "values": {"NewVoucher": "Manually"},
            },
        ).raise_for_status()
    with Connection.from_environment().dynamics() as client:
        default_name = readers.active_format(client, readers.DEFAULT_FORMAT).name
    with _fo_admin(mapped) as fo:
        fo.patch(
            "/_sandbox/entities/DimensionIntegrationFormats",
            json={
                "key": {
                    "DimensionFormatName": default_name,
                    "DimensionFormatType": "DataEntityDefaultDimensionFormat",
                },
                "values": {"IsActive": "No"},
            },
        ).raise_for_status()
    result = CliRunner().invoke(main, ["ping", "--json"])
    assert result.exit_code == 1, result.output
    checks = _checks(result.output)
    assert checks[("", "passed")]["passed"] is False
    vouchers = checks[("Dynamics", "journal name vouchers")]["detail"]
    assert "PAYROLL in USMF: new voucher Manually" in vouchers
    assert "the connector supplies one voucher" in vouchers
    default = checks[("Dynamics", "active default dimension format")]
    assert default["verdict"] == "fail"
    assert "DataEntityDefaultDimensionFormat" in default["detail"]
    assert checks[("Dynamics", "active ledger dimension format")]["verdict"] == "ok"


def test_ping_write_probe_creates_finds_and_deletes_one_empty_journal(mapped: Sandbox) -> None:
    with Connection.from_environment().dynamics() as client:
        before = client.list_entities("LedgerJournalHeaders")
    result = CliRunner().invoke(main, ["ping", "--json", "--write-probe"])
    assert result.exit_code == 0, result.output
    probe = _checks(result.output)[("Dynamics", "write probe")]
    assert probe["verdict"] == "ok"
    assert "found by IntegrationKey and deleted" in probe["detail"]
    with Connection.from_environment().dynamics() as client:
        after = client.list_entities("LedgerJournalHeaders")
    assert after == before  # nothing left behind
    with _fo_admin(mapped) as fo:
        writes = fo.get("/_sandbox/stats").json()["writes"]["LedgerJournalHeaders"]
    assert writes["create"] == writes["delete"] == 1


def test_ping_checks_the_webhook_secret_without_showing_it(
    mapped: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ML_CONNECTOR_WEBHOOKS", "true")
    monkeypatch.setenv("ML_CONNECTOR_RIPPLING_COMPANY_IDS", "co_1")
    monkeypatch.delenv("ML_CONNECTOR_WEBHOOK_TOKEN", raising=False)
    monkeypatch.delenv("ML_CONNECTOR_WEBHOOK_PATH_SECRET", raising=False)
    result = CliRunner().invoke(main, ["ping", "--json"])
    assert result.exit_code == 1
    missing = _checks(result.output)[("Rippling", "webhook secret")]
    assert missing["verdict"] == "fail" and "ML_CONNECTOR_WEBHOOK_TOKEN" in missing["detail"]
    secret = "s3cret-webhook-token-value-123456"
    monkeypatch.setenv("ML_CONNECTOR_WEBHOOK_TOKEN", secret)
    result = CliRunner().invoke(main, ["ping", "--json"])
    held = _checks(result.output)[("Rippling", "webhook secret")]
    assert held["verdict"] == "ok" and "bearer token" in held["detail"]
    assert "safety-net poll" in held["detail"]
    assert secret not in result.output


def test_ping_without_the_ca_gives_a_verdict_not_a_traceback(
    fresh_sandbox: Sandbox, sandbox_env, isolated, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No ML_CONNECTOR_CA_BUNDLE: the sandbox's private CA is untrusted on both sides. Each
    side gets one FAIL line naming the host and the variable, at once (a refused certificate
    is not retried), and the command exits 1 without a traceback."""
    monkeypatch.delenv("ML_CONNECTOR_CA_BUNDLE")
    started = time.monotonic()
    result = CliRunner().invoke(main, ["ping"], env={"COLUMNS": "400"})
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.splitlines()
    rippling = next(line for line in lines if "token valid" in line)
    dynamics = next(line for line in lines if "token issued" in line)
    for line, url in ((rippling, "rippling"), (dynamics, "entra")):
        assert "FAIL" in line
        assert "certificate" in line and "ML_CONNECTOR_CA_BUNDLE" in line
        assert httpx.URL(fresh_sandbox.urls[url]).netloc.decode() in line
    assert time.monotonic() - started < 20  # no retry budget slept through
