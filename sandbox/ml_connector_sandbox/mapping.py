"""The complete finance mapping for a sandbox company, derived from its dataset.

A real customer's finance team writes this file by hand; for the sandbox it follows from the
generated company: Rippling legal entities and company legal entities to the F&O companies of
the same legal name, departments by reference code, job codes to cost centers, earning
categories to the chart's wage accounts.
"""

from pathlib import Path
from typing import Any

import yaml

from ml_connector_sandbox.company.catalog import cost_center_value

EARNING_ACCOUNTS = {
    "SALARY": "600100",
    "HOURLY": "600110",
    "OVERTIME": "600120",
    "BONUS": "600130",
    "COMMISSION": "600140",
    "PTO": "600150",
    "CONTRACTOR_PAYMENT": "600160",
}


def sandbox_mapping(company: dict[str, Any], connection: str = "default") -> dict[str, Any]:
    rippling, dynamics = company["rippling"], company["dynamics"]
    currency = {
        row["LegalEntityId"].upper(): row["AccountingCurrency"] for row in dynamics["Ledgers"]
    }
    business_units = {
        row["Description"]: row["DimensionValue"]
        for row in dynamics["FinancialDimensionValues"]
        if row["FinancialDimension"] == "BusinessUnit"
    }
    legal_entities = []
    for row in dynamics["LegalEntities"]:
        name = row["Name"]
        company_id = row["LegalEntityId"].upper()
        legal_entities.append(
            {
                "company": company_id,
                "currency": currency[company_id],
                "rippling_legal_entity_ids": [
                    le["id"] for le in rippling["legal_entities"] if le["legal_name"] == name
                ],
                "rippling_company_entity_ids": [
                    ce["id"]
                    for ce in rippling["company_legal_entities"]
                    if ce["legal_name"] == name
                ],
                "dimensions": {"BusinessUnit": business_units[name]},
            }
        )
    codes_by_department: dict[str, list[str]] = {}
    for code in rippling["job_codes"]:
        codes_by_department.setdefault(code.get("department_id") or "", []).append(
            code["external_id"]
        )
    departments = {}
    for department in rippling["departments"]:
        key = department.get("reference_code") or department["id"]
        values = {"Department": key}
        own_codes = sorted(codes_by_department.get(department["id"], []), key=len)
        if own_codes:  # staff without a job assignment land on the department's main cost center
            values["CostCenter"] = cost_center_value(own_codes[0])
        departments[key] = values
    active = next(
        row
        for row in dynamics["DimensionIntegrationFormats"]
        if row["IsActive"] == "Yes"
        and row["DimensionFormatType"] == "DataEntityLedgerDimensionFormat"
    )
    return {
        "version": 1,
        "connection": connection,
        "dimension_format": {
            "dimensions": active["FinancialDimensionFormat"].split("-"),
            "delimiter": "-",
        },
        "journal": {"name": "PAYROLL", "detail_level": "summary", "trigger_state": "PAID"},
        "legal_entities": legal_entities,
        "accounts": {
            "earnings": {"by_category": dict(EARNING_ACCOUNTS), "default": "600190"},
            "employer_taxes": "600200",
            "employer_benefits": "600300",
            "taxes_payable": "220100",
            "deductions_payable": "220200",
            "garnishments_payable": "220300",
            "net_pay_clearing": "220400",
            # The month-end accrual's credit (used once journal.month_end_accrual is on).
            "accrued_payroll": "220500",
        },
        "departments": departments,
        "job_codes": {
            code["external_id"]: {"CostCenter": cost_center_value(code["external_id"])}
            for code in rippling["job_codes"]
        },
    }


HEADER = """\
# Finance mapping for the sandbox company, generated from its dataset.
# A customer's own mapping has the same keys; README "The mapping file" explains each one.
"""


def write_sandbox_mapping(company: dict[str, Any], path: Path, connection: str = "default") -> Path:
    path.write_text(HEADER + yaml.safe_dump(sandbox_mapping(company, connection), sort_keys=False))
    return path
