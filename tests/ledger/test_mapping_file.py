"""The mapping file: what loads, and errors that name the line and key."""

from pathlib import Path

import pytest
from ledger_factories import MAPPING_YAML, mapping

from ml_connector_dagster.config.mapping import MappingError, parse_mapping, read_mapping_file


def test_valid_mapping_loads_with_lookups() -> None:
    m = mapping()
    assert m.companies == ("USMF",)
    assert m.company_for_legal_entity("le_us").company == "USMF"
    assert m.company_for_company_entity("cle_us").company == "USMF"
    assert m.company_for_company_entity("le_us") is None  # the two Rippling ids are distinct
    assert m.dimension_format.financial_dimensions == ("BusinessUnit", "Department", "CostCenter")


def _error(text: str) -> str:
    with pytest.raises(MappingError) as caught:
        parse_mapping(text, source="m.yaml")
    return str(caught.value)


def test_unknown_key_is_reported_with_its_line() -> None:
    text = MAPPING_YAML.replace("  name: PAYROLL\n", "  name: PAYROLL\n  nmae: typo\n")
    line = text.splitlines().index("  nmae: typo") + 1
    assert f"m.yaml:{line}: journal.nmae" in _error(text)


def test_unknown_dimension_in_a_department_is_named() -> None:
    text = MAPPING_YAML.replace("D100: {Department: D100}", "D100: {Departmnt: D100}")
    message = _error(text)
    assert "departments.D100" in message and "Departmnt" in message


def test_wrong_trigger_state_and_missing_account_are_both_listed() -> None:
    text = MAPPING_YAML.replace("  name: PAYROLL\n", "  name: PAYROLL\n  trigger_state: DRAFT\n")
    text = text.replace('  net_pay_clearing: "220400"\n', "")
    message = _error(text)
    assert "journal.trigger_state" in message
    assert "accounts.net_pay_clearing" in message


def test_format_must_start_with_main_account_and_company_keys_are_plain() -> None:
    assert "MainAccount" in _error(
        MAPPING_YAML.replace("[MainAccount, BusinessUnit", "[BusinessUnit, MainAccount")
    )
    assert "plain dataAreaId" in _error(MAPPING_YAML.replace("company: USMF", "company: 'US|MF'"))


def test_one_rippling_id_cannot_feed_two_companies() -> None:
    text = MAPPING_YAML.replace(
        "accounts:\n",
        "  - company: GBSI\n    currency: GBP\n    rippling_legal_entity_ids: [le_us]\naccounts:\n",
    )
    assert "maps to both" in _error(text)


def test_not_yaml_and_missing_file() -> None:
    assert "not valid YAML" in _error("a: [")
    with pytest.raises(MappingError, match="cannot read"):
        read_mapping_file(Path("/nonexistent/mapping.yaml"))


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        (
            "D200: {Department: D200, CostCenter: CCGEN}",
            "D200: {Department: D-200}",
            "departments.D200.Department",
        ),
        (
            "CC-ENG: {CostCenter: CCENG}",
            "CC-ENG: {CostCenter: CC-ENG}",
            "job_codes.CC-ENG.CostCenter",
        ),
        ('default: "600190"', 'default: "600-190"', "accounts.earnings.default"),
        ('OVERTIME: "600120"', 'OVERTIME: "600-120"', "accounts.earnings.by_category.OVERTIME"),
    ],
)
def test_a_value_containing_the_delimiter_is_refused_with_file_line_and_key(
    old: str, new: str, key: str
) -> None:
    assert old in MAPPING_YAML
    text = MAPPING_YAML.replace(old, new)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if new in row)
    message = _error(text)
    assert f"m.yaml:{line}: {key}: " in message
    assert "segment delimiter '-'" in message


def test_the_same_values_load_under_another_delimiter() -> None:
    text = MAPPING_YAML.replace("D100: {Department: D100}", "D100: {Department: D-100}")
    text = text.replace('  delimiter: "-"\n', "  delimiter: '.'\n")
    assert parse_mapping(text).departments["D100"]["Department"] == "D-100"


def test_content_hash_changes_with_any_value_and_not_with_reloading() -> None:
    first, again = parse_mapping(MAPPING_YAML), parse_mapping(MAPPING_YAML)
    changed = parse_mapping(
        MAPPING_YAML.replace("D100: {Department: D100}", "D100: {Department: D101}")
    )
    assert first.content_hash == again.content_hash
    assert first.content_hash != changed.content_hash


def test_a_company_listed_twice_is_named_with_both_entries() -> None:
    text = MAPPING_YAML.replace(
        "accounts:\n",
        "  - company: usmf\n    currency: EUR\n    rippling_legal_entity_ids: [le_other]\n"
        "accounts:\n",
    )
    message = _error(text)
    line = MAPPING_YAML.splitlines().index("legal_entities:") + 1
    assert f"m.yaml:{line}: legal_entities: company USMF is listed twice" in message
    assert "legal_entities.0 and legal_entities.1" in message


def test_a_key_written_twice_is_refused_with_file_line_and_key_path() -> None:
    text = MAPPING_YAML.replace(
        'OVERTIME: "600120", BONUS: "600130"}',
        'OVERTIME: "600120", BONUS: "600130", SALARY: "600999"}',
    )
    line = text.splitlines().index(next(row for row in text.splitlines() if "600999" in row)) + 1
    message = _error(text)
    assert f"m.yaml:{line}: accounts.earnings.by_category.SALARY: duplicate key 'SALARY'" in message
    assert f"first on line {line}" in message  # a flow mapping: both on one line


def test_a_block_key_written_twice_names_both_lines() -> None:
    text = MAPPING_YAML + "departments:\n  D300: {Department: D300}\n"
    first = MAPPING_YAML.splitlines().index("departments:") + 1
    again = text.splitlines().index("departments:", first) + 1
    message = _error(text)
    assert f"m.yaml:{again}: departments: duplicate key 'departments', first on line {first}" in (
        message
    )


def test_merge_keys_may_still_be_overridden() -> None:
    text = MAPPING_YAML.replace(
        "departments:\n  D100: {Department: D100}\n",
        "departments:\n  D100: &base {Department: D100, CostCenter: CCGEN}\n"
        "  D150:\n    <<: *base\n    Department: D150\n",
    )
    m = parse_mapping(text, source="m.yaml")
    assert m.departments["D150"] == {"Department": "D150", "CostCenter": "CCGEN"}
