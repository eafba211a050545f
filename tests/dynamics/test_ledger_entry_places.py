"""Where a posted F&O account entry sits: read from LedgerDimensionValuesJson, or from
LedgerAccount split by the active ledger format when the JSON is missing or unreadable."""

import pytest

from ml_connector_dagster.dynamics.ledger_entries import LedgerEntryError, place_of, split_display
from ml_connector_dagster.dynamics.readers import DimensionFormat

FORMAT = DimensionFormat(
    name="PayrollLedgerFormat",
    format_type="DataEntityLedgerDimensionFormat",
    dimensions=("MainAccount", "BusinessUnit", "Department", "CostCenter"),
    delimiter="-",
)


def test_json_list_of_one_entry_objects_in_any_case():
    row = {
        "SourceKey": 7,
        "LedgerDimensionValuesJson": '[{"MAINACCOUNT": "600100"}, {"department": "022"},'
        ' {"BusinessUnit": "001"}, {"CostCenter": ""}]',
        "LedgerAccount": "999999-x-y-z",  # ignored when the JSON reads
    }
    assert place_of(row, FORMAT) == (
        "600100",
        (("BusinessUnit", "001"), ("Department", "022")),
    )


def test_json_single_object_form():
    row = {"LedgerDimensionValuesJson": '{"MainAccount": "600100", "CostCenter": "CC7"}'}
    assert place_of(row, FORMAT) == ("600100", (("CostCenter", "CC7"),))


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[1, 2]",
        '[{"Department": "022"}]',
        '[{"MainAccount": "1"}, {"MainAccount": "2"}]',
    ],
)
def test_unreadable_json_falls_back_to_the_display_value(raw):
    row = {"LedgerDimensionValuesJson": raw, "LedgerAccount": "600100-001--CC7"}
    assert place_of(row, FORMAT) == ("600100", (("BusinessUnit", "001"), ("CostCenter", "CC7")))


def test_display_value_with_blank_trailing_segments():
    assert split_display("600100-001-022-", FORMAT) == (
        "600100",
        (("BusinessUnit", "001"), ("Department", "022")),
    )
    assert split_display("600100", FORMAT) == ("600100", ())


def test_an_entry_naming_no_account_is_refused_by_its_key():
    with pytest.raises(LedgerEntryError, match="account entry 42"):
        place_of({"SourceKey": 42, "LedgerAccount": ""}, FORMAT)
