"""The Dynamics 365 F&O side of the company, consistent with the Rippling side.

Only property names that F&O's metadata has for each entity are used (the Dynamics stand-in
rejects unknown ones when seeding). ``dataAreaId`` is lowercase ("usmf") as F&O stores it;
``LegalEntityId`` is shown uppercase ("USMF").

Workers and employments exist for everyone whose first start is before the connector's start
date (the state a first sync would have left); hires, terminations and the rehire after that
date are the connector's work. Employments of people who left before that date are closed, at
the end of their last day (``T23:59:59Z``) as F&O's UI stores it.

One person hired after that date is already in F&O under HR's own numbering (``000123``, not
``RP-123``), with the same work e-mail and the hire entered: a tenant that had its people
before the connector. The first sync must link that worker by e-mail, not create a duplicate.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ml_connector_sandbox.company import catalog
from ml_connector_sandbox.company.ids import dynamics_datetime
from ml_connector_sandbox.company.org import Org
from ml_connector_sandbox.company.staff import Person


def personnel_number(number: int) -> str:
    """The product's PersonnelNumber scheme: "RP-" + Rippling worker number."""
    return f"RP-{number}"


def legacy_personnel_number(number: int) -> str:
    """HR's own numbering of a worker entered in F&O before the connector: ``000123``."""
    return f"{number:06d}"


def _end_of_day(day: dt.date) -> str:
    return f"{day.isoformat()}T23:59:59Z"


def build_dynamics(org: Org, people: list[Person], connector_start: dt.date) -> dict[str, Any]:
    out: dict[str, list[dict[str, Any]]] = {
        "LegalEntities": [],
        "Ledgers": [],
        "MainAccounts": [],
        "FinancialDimensionValues": [],
        "DimensionIntegrationFormats": [],
        "DimensionParameters": [],
        "JournalNames": [],
        "Workers": [],
        "EmploymentsV2": [],
        "VendorsV2": [],
    }
    for spec in org.entities:
        company = spec.data_area_id.upper()
        out["LegalEntities"].append(
            {
                "LegalEntityId": company,
                "Name": spec.legal_name,
                "AddressCountryRegionId": spec.country_iso3,
            }
        )
        out["Ledgers"].append(
            {
                "LegalEntityId": company,
                "ChartOfAccounts": catalog.CHART_OF_ACCOUNTS,
                "AccountingCurrency": spec.currency,
                "Name": spec.legal_name,
                "Description": f"{spec.legal_name} ledger",
            }
        )
        out["JournalNames"].extend(
            [
                {
                    "dataAreaId": spec.data_area_id,
                    "Name": "PAYROLL",
                    "Description": "Payroll labor cost",
                    "Type": "Daily",
                    "AllowOnlyPositiveDebitsAndCredits": "Yes",
                    "VoucherSeriesCode": "GL_PAYR",
                },
                {
                    "dataAreaId": spec.data_area_id,
                    "Name": "GenJrn",
                    "Description": "General journal",
                    "Type": "Daily",
                    "AllowOnlyPositiveDebitsAndCredits": "No",
                    "VoucherSeriesCode": "GL_GEN",
                },
            ]
        )
    for account_id, name, kind, suspended, no_manual in catalog.MAIN_ACCOUNTS:
        out["MainAccounts"].append(
            {
                "ChartOfAccounts": catalog.CHART_OF_ACCOUNTS,
                "MainAccountId": account_id,
                "Name": name,
                "MainAccountType": kind,
                "IsSuspended": suspended,
                "DoNotAllowManualEntry": no_manual,
            }
        )

    def value(
        dimension: str,
        code: str,
        description: str,
        *,
        suspended: str = "No",
        active_to: str = catalog.OPEN_END,
    ) -> None:
        out["FinancialDimensionValues"].append(
            {
                "FinancialDimension": dimension,
                "LegalEntityId": "",
                "DimensionValue": code,
                "Description": description,
                "IsSuspended": suspended,
                "ActiveFrom": catalog.DIMENSION_ACTIVE_FROM,
                "ActiveTo": active_to,
            }
        )

    for spec in org.entities:
        value("BusinessUnit", spec.business_unit, spec.legal_name)
    for dept in org.departments:
        value("Department", dept["reference_code"], dept["name"])
    value("Department", *catalog.SUSPENDED_DEPARTMENT, suspended="Yes")
    for code in org.job_codes:
        value("CostCenter", catalog.cost_center_value(code["external_id"]), code["name"])
    value("CostCenter", *catalog.EXPIRED_COST_CENTER, active_to="2025-12-31T23:59:59Z")

    out["DimensionIntegrationFormats"] = [
        {
            "DimensionFormatName": "PayrollLedgerFormat",
            "DimensionFormatType": "DataEntityLedgerDimensionFormat",
            "FinancialDimensionFormat": "MainAccount-BusinessUnit-Department-CostCenter",
            "IsActive": "Yes",
        },
        {
            "DimensionFormatName": "DefaultDimensionFormat",
            "DimensionFormatType": "DataEntityDefaultDimensionFormat",
            # Its own order, not the ledger format minus MainAccount: employments and vendors
            # must follow this one (a value in the ledger order fails).
            "FinancialDimensionFormat": "Department-CostCenter-BusinessUnit",
            "IsActive": "Yes",
        },
        {
            "DimensionFormatName": "LegacyLedgerFormat",
            "DimensionFormatType": "DataEntityLedgerDimensionFormat",
            "FinancialDimensionFormat": "MainAccount-Department-BusinessUnit",
            "IsActive": "No",
        },
    ]
    out["DimensionParameters"] = [{"Key": 0, "DimensionSegmentDelimiter": "Hyphen"}]

    for p in people:
        if p.first_start >= connector_start:
            continue
        spec = org.entities[p.entity]
        contractor = p.pay_kind == "CONTRACTOR"
        number = personnel_number(p.number)
        out["Workers"].append(
            {
                "PersonnelNumber": number,
                "FirstName": p.given,
                "LastName": p.family,
                "Name": f"{p.given} {p.family}",
                "WorkerType": "Contractor" if contractor else "Employee",
                "AllowRehire": "Yes",
                "PrimaryContactEmail": p.email,
                "OriginalHireDateTime": dynamics_datetime(p.first_start),
            }
        )
        for n, (start, end) in enumerate(p.spans, start=1):
            if start >= connector_start:
                break
            closed = end is not None and end < connector_start
            out["EmploymentsV2"].append(
                {
                    "PersonnelNumber": number,
                    "LegalEntityId": spec.data_area_id.upper(),
                    "EmploymentId": f"E-{p.number}-{n}",
                    "WorkerType": "Contractor" if contractor else "Employee",
                    "EmploymentStartDate": dynamics_datetime(start),
                    "EmploymentEndDate": _end_of_day(end) if closed and end else catalog.OPEN_END,
                }
            )
        if contractor:
            out["VendorsV2"].append(
                {
                    "dataAreaId": spec.data_area_id,
                    "VendorAccountNumber": number,
                    "VendorGroupId": "CONTRACT",
                    "VendorPartyType": "Person",
                    "PersonFirstName": p.given,
                    "PersonLastName": p.family,
                    "CurrencyCode": spec.currency,
                    "OnHoldStatus": "No",
                    "PrimaryEmailAddress": p.email,
                }
            )
    legacy = next(
        (
            p
            for p in people
            if p.first_start >= connector_start
            and p.pay_kind != "CONTRACTOR"
            and p.email
            and len(p.spans) == 1
            and p.spans[0][1] is None
        ),
        None,
    )
    if legacy is not None:
        number = legacy_personnel_number(legacy.number)
        out["Workers"].append(
            {
                "PersonnelNumber": number,
                "FirstName": legacy.given,
                "LastName": legacy.family,
                "Name": f"{legacy.given} {legacy.family}",
                "WorkerType": "Employee",
                "AllowRehire": "Yes",
                "PrimaryContactEmail": legacy.email,
                "OriginalHireDateTime": dynamics_datetime(legacy.first_start),
            }
        )
        out["EmploymentsV2"].append(
            {
                "PersonnelNumber": number,
                "LegalEntityId": org.entities[legacy.entity].data_area_id.upper(),
                "EmploymentId": f"E-{legacy.number}-1",
                "WorkerType": "Employee",
                "EmploymentStartDate": dynamics_datetime(legacy.first_start),
                "EmploymentEndDate": catalog.OPEN_END,
            }
        )
    return out
