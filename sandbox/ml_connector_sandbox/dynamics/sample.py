"""A small, hand-made ``company["dynamics"]`` seed for tests of the stand-in itself.

Two companies (usmf, demf), a four-segment ledger format, a suspended main account, a
suspended and a not-yet-active dimension value, a payroll journal name that only allows positive
amounts, a worker who may not be rehired, and keys with apostrophes.
"""

from __future__ import annotations

from typing import Any

FAR = "2154-12-31T23:59:59Z"


def sample_company() -> dict[str, Any]:
    def dim(dimension: str, value: str, **extra: Any) -> dict[str, Any]:
        return {
            "FinancialDimension": dimension,
            "LegalEntityId": "",
            "DimensionValue": value,
            **extra,
        }

    return {
        "dynamics": {
            "LegalEntities": [
                {"LegalEntityId": "USMF", "Name": "Contoso Entertainment System USA"},
                {"LegalEntityId": "DEMF", "Name": "Contoso Entertainment System Germany"},
            ],
            "Ledgers": [
                {"LegalEntityId": "USMF", "ChartOfAccounts": "Shared", "AccountingCurrency": "USD"},
                {"LegalEntityId": "DEMF", "ChartOfAccounts": "Shared", "AccountingCurrency": "EUR"},
            ],
            "MainAccounts": [
                {"ChartOfAccounts": "Shared", "MainAccountId": "600100", "Name": "Salaries"},
                {"ChartOfAccounts": "Shared", "MainAccountId": "600200", "Name": "Payroll tax"},
                {"ChartOfAccounts": "Shared", "MainAccountId": "200100", "Name": "Net pay"},
                {
                    "ChartOfAccounts": "Shared",
                    "MainAccountId": "600999",
                    "Name": "Old wages",
                    "IsSuspended": "Yes",
                },
                {
                    "ChartOfAccounts": "Shared",
                    "MainAccountId": "600300",
                    "Name": "System only",
                    "DoNotAllowManualEntry": "Yes",
                },
            ],
            "FinancialDimensionValues": [
                dim("BusinessUnit", "001"),
                dim("BusinessUnit", "002"),
                dim("Department", "022"),
                dim("Department", "023"),
                dim("Department", "099", IsSuspended="Yes"),
                dim("Department", "030", ActiveFrom="2027-01-01T00:00:00Z", ActiveTo=FAR),
                dim("CostCenter", "100"),
                dim("CostCenter", "200"),
            ],
            "DimensionIntegrationFormats": [
                {
                    "DimensionFormatName": "Ledger4",
                    "DimensionFormatType": "DataEntityLedgerDimensionFormat",
                    "FinancialDimensionFormat": "MainAccount-BusinessUnit-Department-CostCenter",
                    "IsActive": "Yes",
                },
                {
                    "DimensionFormatName": "Ledger2",
                    "DimensionFormatType": "DataEntityLedgerDimensionFormat",
                    "FinancialDimensionFormat": "MainAccount-Department",
                    "IsActive": "No",
                },
                {
                    "DimensionFormatName": "Default3",
                    "DimensionFormatType": "DataEntityDefaultDimensionFormat",
                    # Its own order: not the ledger format without MainAccount.
                    "FinancialDimensionFormat": "Department-BusinessUnit",
                    "IsActive": "Yes",
                },
            ],
            "DimensionParameters": [{"Key": 0, "DimensionSegmentDelimiter": "Hyphen"}],
            "JournalNames": [
                {
                    "dataAreaId": "usmf",
                    "Name": "PAYROLL",
                    "Description": "Payroll journal",
                    "VoucherSeriesCode": "PAYV",
                    "AllowOnlyPositiveDebitsAndCredits": "Yes",
                    "NewVoucher": "BalanceSheet",
                },
                {
                    "dataAreaId": "usmf",
                    "Name": "GenJrn",
                    "Description": "General journal",
                    "VoucherSeriesCode": "GNJL",
                    "AllowOnlyPositiveDebitsAndCredits": "No",
                    "NewVoucher": "OneVoucher",
                },
                {
                    "dataAreaId": "demf",
                    "Name": "PAYROLL",
                    "Description": "Lohnjournal",
                    "VoucherSeriesCode": "PAYV",
                },
            ],
            "Workers": [
                {
                    "PersonnelNumber": "RP-000123",
                    "FirstName": "Ada",
                    "LastName": "Lovelace",
                    "Name": "Ada Lovelace",
                    "AllowRehire": "Yes",
                },
                {
                    "PersonnelNumber": "RP-000200",
                    "FirstName": "Bob",
                    "LastName": "Stone",
                    "Name": "Bob Stone",
                    "AllowRehire": "No",
                },
                {
                    "PersonnelNumber": "RP-O'BRIEN",
                    "FirstName": "Aoife",
                    "LastName": "O'Brien",
                    "Name": "Aoife O'Brien",
                    "AllowRehire": "Yes",
                },
            ],
            "EmploymentsV2": [
                {
                    "PersonnelNumber": "RP-000123",
                    "LegalEntityId": "USMF",
                    "EmploymentId": "E-1",
                    "EmploymentStartDate": "2020-01-06T00:00:00Z",
                    "EmploymentEndDate": FAR,
                },
                {
                    "PersonnelNumber": "RP-000200",
                    "LegalEntityId": "USMF",
                    "EmploymentId": "E-2",
                    "EmploymentStartDate": "2019-03-01T00:00:00Z",
                    "EmploymentEndDate": "2021-06-30T23:59:59Z",
                },
            ],
            "VendorsV2": [
                {
                    "dataAreaId": "usmf",
                    "VendorAccountNumber": "V-1001",
                    "VendorGroupId": "CONTR",
                    "VendorOrganizationName": "Acme Consulting",
                    "CurrencyCode": "USD",
                },
                {
                    "dataAreaId": "usmf",
                    "VendorAccountNumber": "V-O'NEIL",
                    "VendorGroupId": "CONTR",
                    "PersonFirstName": "Pat",
                    "PersonLastName": "O'Neil",
                    "CurrencyCode": "USD",
                },
                {
                    "dataAreaId": "demf",
                    "VendorAccountNumber": "V-2001",
                    "VendorGroupId": "CONTR",
                    "VendorOrganizationName": "Beispiel GmbH",
                    "CurrencyCode": "EUR",
                },
            ],
        }
    }
