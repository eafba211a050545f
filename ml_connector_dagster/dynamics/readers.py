"""Typed reads of the F&O reference data the connector validates against before any write.

The dimension format matters most: F&O parses ``AccountDisplayValue`` by the *active* ledger
dimension integration format and silently drops extra segments, so the connector reads the
format and the delimiter here and compares them with its configuration before writing.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ml_connector_dagster.dynamics.client import DynamicsClient
from ml_connector_dagster.dynamics.odata import Enum, all_of, any_of, eq

# DimensionSegmentDelimiter enum -> the characters it stands for.
DELIMITERS: dict[str, str] = {
    "Hyphen": "-",
    "Period": ".",
    "Underscore": "_",
    "Bar": "|",
    "Tilde": "~",
    "DoubleHyphen": "--",
    "DoublePeriod": "..",
    "DoubleUnderscore": "__",
    "DoubleBar": "||",
    "DoubleTilde": "~~",
}
LEDGER_FORMAT = "DataEntityLedgerDimensionFormat"
DEFAULT_FORMAT = "DataEntityDefaultDimensionFormat"
YES = Enum("NoYes", "Yes")


class ReferenceDataError(ValueError):
    """F&O's reference data is missing something the connector needs (names what)."""


@dataclass(frozen=True)
class DimensionFormat:
    """An active dimension integration format: ordered dimension names and the delimiter."""

    name: str
    format_type: str
    dimensions: tuple[str, ...]
    delimiter: str

    @property
    def display(self) -> str:
        return self.delimiter.join(self.dimensions)


def segment_delimiter(client: DynamicsClient) -> str:
    rows = client.list_entities("DimensionParameters")
    if not rows:
        raise ReferenceDataError("DimensionParameters has no row: no segment delimiter is set")
    name = rows[0].get("DimensionSegmentDelimiter")
    if name not in DELIMITERS:
        raise ReferenceDataError(f"unknown DimensionSegmentDelimiter {name!r}")
    return DELIMITERS[name]


def active_format(client: DynamicsClient, format_type: str = LEDGER_FORMAT) -> DimensionFormat:
    """The active integration format of a type, split by the configured delimiter."""
    delimiter = segment_delimiter(client)
    rows = client.list_entities(
        "DimensionIntegrationFormats",
        filter=all_of(
            eq("IsActive", YES),
            eq("DimensionFormatType", Enum("DimensionHierarchyType", format_type)),
        ),
    )
    if not rows:
        raise ReferenceDataError(
            f"no active {format_type} in DimensionIntegrationFormats: set one up in F&O"
            " (General ledger > Chart of accounts > Dimensions > Financial dimension"
            " configuration for integrating applications)"
        )
    if len(rows) > 1:
        names = ", ".join(str(r.get("DimensionFormatName")) for r in rows)
        raise ReferenceDataError(f"more than one active {format_type}: {names}")
    row = rows[0]
    raw = str(row.get("FinancialDimensionFormat") or "")
    return DimensionFormat(
        name=str(row.get("DimensionFormatName")),
        format_type=format_type,
        dimensions=tuple(part for part in raw.split(delimiter) if part),
        delimiter=delimiter,
    )


def _company_filter(companies: Iterable[str] | None, field: str = "dataAreaId") -> str | None:
    values = sorted({c.lower() for c in companies or []})
    return any_of(field, list(values)) if values else None


def legal_entities(client: DynamicsClient) -> list[dict[str, Any]]:
    return client.list_entities("LegalEntities")


def ledgers(client: DynamicsClient) -> list[dict[str, Any]]:
    return client.list_entities("Ledgers")


def journal_names(
    client: DynamicsClient, companies: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    return client.list_entities("JournalNames", filter=_company_filter(companies))


def main_accounts(
    client: DynamicsClient, charts: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    values = sorted(set(charts or []))
    return client.list_entities(
        "MainAccounts", filter=any_of("ChartOfAccounts", list(values)) if values else None
    )


def financial_dimension_values(
    client: DynamicsClient, dimensions: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    values = sorted(set(dimensions or []))
    return client.list_entities(
        "FinancialDimensionValues",
        filter=any_of("FinancialDimension", list(values)) if values else None,
    )


def dimension_value_overrides(
    client: DynamicsClient,
    dimensions: Iterable[str] | None = None,
    companies: Iterable[str] | None = None,
) -> list[dict[str, Any]]:
    """Per-company suspensions and active dates of shared dimension values."""
    values = sorted(set(dimensions or []))
    return client.list_entities(
        "FinancialDimensionValueLegalEntityOverrides",
        filter=all_of(
            any_of("FinancialDimension", list(values)) if values else "",
            _company_filter(companies, "LegalEntityId") or "",
        )
        or None,
    )


def main_account_overrides(
    client: DynamicsClient, companies: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """``MainAccountLegalEntities``: a company's own suspension and dates of a main account."""
    return client.list_entities(
        "MainAccountLegalEntities", filter=_company_filter(companies, "LegalEntityId")
    )


def workers(client: DynamicsClient) -> list[dict[str, Any]]:
    return client.list_entities("Workers")


def employments(
    client: DynamicsClient, companies: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    return client.list_entities("EmploymentsV2", filter=_company_filter(companies, "LegalEntityId"))


def vendors(client: DynamicsClient, companies: Iterable[str] | None = None) -> list[dict[str, Any]]:
    return client.list_entities("VendorsV2", filter=_company_filter(companies))
