"""One rule finds and loads the mapping, for the resource and every command alike."""

from pathlib import Path

import pytest
from click.testing import CliRunner
from ledger_factories import MAPPING_YAML

from ml_connector_dagster.cli import main
from ml_connector_dagster.config.mapping import MappingError, load_mapping
from ml_connector_dagster.config.settings import ConnectorSettings
from ml_connector_dagster.config.workforce import WorkforceSettings
from ml_connector_dagster.defs.resources import ConnectorResource


def _write(tmp_path: Path, text: str = MAPPING_YAML, name: str = "mapping.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_without_a_path_or_variable_the_error_names_the_variable() -> None:
    with pytest.raises(MappingError, match="ML_CONNECTOR_MAPPING"):
        load_mapping(ConnectorSettings.from_env({}))


def test_an_explicit_path_wins_over_the_variable(tmp_path: Path) -> None:
    configured = _write(tmp_path, MAPPING_YAML.replace("name: PAYROLL", "name: FROMENV"), "e.yaml")
    given = _write(tmp_path)
    settings = ConnectorSettings.from_env(
        {"ML_CONNECTOR_MAPPING": str(configured), "ML_CONNECTOR_CONNECTION": "acme"}
    )
    assert load_mapping(settings).journal.name == "FROMENV"
    assert load_mapping(settings, given).journal.name == "PAYROLL"


def test_a_mapping_of_another_connection_is_refused(tmp_path: Path) -> None:
    settings = ConnectorSettings.from_env({"ML_CONNECTOR_MAPPING": str(_write(tmp_path))})
    with pytest.raises(MappingError, match="differs from ML_CONNECTOR_CONNECTION 'default'"):
        load_mapping(settings)


def test_the_workforce_section_is_typed_and_its_errors_name_line_and_key(tmp_path: Path) -> None:
    settings = ConnectorSettings.from_env({"ML_CONNECTOR_CONNECTION": "acme"})
    plain = load_mapping(settings, _write(tmp_path))
    assert plain.workforce == WorkforceSettings()
    text = MAPPING_YAML + "workforce:\n  vendor_group: FREELANCE\n  personnel_number_width: 6\n"
    typed = load_mapping(settings, _write(tmp_path, text, "w.yaml"))
    assert typed.workforce.vendor_group == "FREELANCE"
    assert typed.workforce.personnel_number("42") == "RP-000042"
    bad = MAPPING_YAML + "workforce:\n  vendor_grop: FREELANCE\n"
    line = bad.splitlines().index("  vendor_grop: FREELANCE") + 1
    with pytest.raises(MappingError, match=rf"b.yaml:{line}: workforce.vendor_grop"):
        load_mapping(settings, _write(tmp_path, bad, "b.yaml"))


def test_the_resource_reads_the_file_once_per_instance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Journals and the checks guarding them see one file, even if it is edited meanwhile."""
    monkeypatch.setenv("ML_CONNECTOR_CONNECTION", "acme")
    path = _write(tmp_path)
    resource = ConnectorResource(mapping_path=str(path))
    first = resource.mapping()
    path.write_text(MAPPING_YAML.replace("name: PAYROLL", "name: EDITED"))
    assert resource.mapping() is first and first.journal.name == "PAYROLL"
    assert ConnectorResource(mapping_path=str(path)).mapping().journal.name == "EDITED"


def test_every_command_reports_a_missing_mapping_in_the_same_words(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ML_CONNECTOR_MAPPING", raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    runner = CliRunner()
    outputs = [
        runner.invoke(main, ["run", "--pay-period", "2026-11-15"]),
        runner.invoke(main, ["workforce", "plan"]),
    ]
    for result in outputs:
        assert result.exit_code == 1, result.output
        assert "no mapping file: set ML_CONNECTOR_MAPPING or pass --mapping" in result.output


def test_a_duplicate_key_in_the_file_is_refused_with_its_path_and_line(tmp_path: Path) -> None:
    """``SALARY`` twice would silently re-route every salary: the loader refuses it."""
    text = MAPPING_YAML.replace(
        '    default: "600190"\n', '    default: "600190"\n    default: "600191"\n'
    )
    line = text.splitlines().index('    default: "600191"') + 1
    settings = ConnectorSettings.from_env({"ML_CONNECTOR_CONNECTION": "acme"})
    path = _write(tmp_path, text, "dup.yaml")
    with pytest.raises(MappingError, match=rf"dup.yaml:{line}: accounts.earnings.default"):
        load_mapping(settings, path)
    with pytest.raises(MappingError, match=rf"first on line {line - 1}"):
        load_mapping(settings, path)


def _hash(tmp_path: Path, text: str, name: str) -> str:
    settings = ConnectorSettings.from_env({"ML_CONNECTOR_CONNECTION": "acme"})
    return load_mapping(settings, _write(tmp_path, text, name)).content_hash


def test_month_end_settings_change_the_hash_only_when_used(tmp_path: Path) -> None:
    """Journals built and approved under a mapping keep their hash when month-end sections are
    absent or spelled out at their defaults; turning the accrual on is a different mapping."""
    plain = _hash(tmp_path, MAPPING_YAML, "plain.yaml")
    spelled = (
        MAPPING_YAML.replace(
            "  name: PAYROLL\n",
            "  name: PAYROLL\n  month_end_accrual: false\n  accrual_days: working\n",
        )
        + "reconciliation:\n  liability_accounts: true\n  extra_accounts: ['600900']\n"
    )
    assert _hash(tmp_path, spelled, "spelled.yaml") == plain
    on = MAPPING_YAML.replace(
        "  name: PAYROLL\n", "  name: PAYROLL\n  month_end_accrual: true\n"
    ).replace("  net_pay_clearing:", "  accrued_payroll: '220500'\n  net_pay_clearing:")
    assert _hash(tmp_path, on, "on.yaml") != plain


def test_month_end_accrual_needs_the_accrued_payroll_account(tmp_path: Path) -> None:
    text = MAPPING_YAML.replace("  name: PAYROLL\n", "  name: PAYROLL\n  month_end_accrual: true\n")
    with pytest.raises(MappingError, match=r"accounts\.accrued_payroll"):
        _hash(tmp_path, text, "missing.yaml")
