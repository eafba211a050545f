"""Reading a Ledger ``AccountDisplayValue`` the way F&O does, including its silent traps.

The display value is split with the delimiter from ``DimensionParameters`` and read in the order
of the ACTIVE ``DataEntityLedgerDimensionFormat``: segments beyond the format are dropped
without a word, missing trailing segments are blank. The first segment is the main account; it
must exist in the company's chart of accounts and be usable; every non-blank dimension value
must be known, not suspended and active on the transaction date. The values actually applied are
returned so the sandbox can show what F&O would have booked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ml_connector_sandbox.dynamics.edm import DEFAULT_DATETIME
from ml_connector_sandbox.dynamics.errors import ODataError, write_failed
from ml_connector_sandbox.dynamics.schema import Schema
from ml_connector_sandbox.dynamics.store import Store

DELIMITERS = {
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
LINE_TYPE = "LedgerJournalLine"


@dataclass
class AppliedDimensions:
    """What F&O would book for a display value: the format used and each segment's value."""

    format_name: str
    format: list[str]
    delimiter: str
    values: dict[str, str]
    dropped: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "format_name": self.format_name,
            "format": self.format,
            "delimiter": self.delimiter,
            "values": self.values,
            "dropped_segments": self.dropped,
        }


def _fail(text: str) -> ODataError:
    return write_failed(LINE_TYPE, text)


def active_ledger_format(store: Store, schema: Schema) -> tuple[str, list[str], str]:
    """(format name, ordered dimension names, delimiter text) as F&O has them configured now."""
    return active_format(store, schema, LEDGER_FORMAT, LINE_TYPE)


def active_format(
    store: Store, schema: Schema, format_type: str, entity_type: str
) -> tuple[str, list[str], str]:
    """The active integration format of a type (ledger, or default dimensions)."""
    fmt = schema.entities["DimensionIntegrationFormats"]
    rows = store.select(fmt, '"DimensionFormatType" = ? AND "IsActive" = ?', [format_type, "Yes"])
    if not rows:
        kind = "ledger" if format_type == LEDGER_FORMAT else "default"
        raise write_failed(
            entity_type,
            f"No active {kind} dimension integration format ({format_type}) is set up.",
        )
    params = store.select(schema.entities["DimensionParameters"], order='"Key"', limit=1)
    delimiter_name = params[0]["DimensionSegmentDelimiter"] if params else "Hyphen"
    delimiter = DELIMITERS.get(delimiter_name, "-")
    names = [n for n in re.split(r"[^A-Za-z0-9_]+", rows[0]["FinancialDimensionFormat"]) if n]
    return rows[0]["DimensionFormatName"], names, delimiter


def _within(date: str, start: str, end: str) -> bool:
    if start != DEFAULT_DATETIME and date < start:
        return False
    return not (end != DEFAULT_DATETIME and date[:10] > end[:10])


def resolve_ledger_account(
    store: Store, schema: Schema, company: str, display_value: str, trans_date: str
) -> AppliedDimensions:
    """Validate a Ledger display value for ``company`` on ``trans_date``; raise F&O's 400."""
    format_name, names, delimiter = active_ledger_format(store, schema)
    segments = display_value.split(delimiter)
    applied = AppliedDimensions(format_name, names, delimiter, {}, segments[len(names) :])
    for i, name in enumerate(names):
        applied.values[name] = segments[i].strip() if i < len(segments) else ""
    main = applied.values.get(names[0], "") if names else ""
    _check_main_account(store, schema, company, main, trans_date)
    for name in names[1:]:
        value = applied.values[name]
        if value:
            _check_dimension_value(store, schema, company, name, value, trans_date)
    return applied


def resolve_default_dimensions(
    store: Store,
    schema: Schema,
    company: str,
    display_value: str,
    entity_type: str,
    date: str,
) -> AppliedDimensions:
    """Validate a default-dimension display value (employments, vendors) for ``company``.

    Read in the order of the active ``DataEntityDefaultDimensionFormat`` (its own format type,
    without a main account; Microsoft Learn, "Financial dimension configuration for integrating
    applications"), the same way as a ledger value: extra segments dropped, values known, not
    suspended, active on ``date``. A value written in another format's order fails here exactly
    when a segment names a value its position's dimension does not have.
    """
    format_name, names, delimiter = active_format(store, schema, DEFAULT_FORMAT, entity_type)
    segments = display_value.split(delimiter)
    applied = AppliedDimensions(format_name, names, delimiter, {}, segments[len(names) :])
    for i, name in enumerate(names):
        applied.values[name] = segments[i].strip() if i < len(segments) else ""
        if applied.values[name]:
            _check_dimension_value(
                store, schema, company, name, applied.values[name], date, entity_type
            )
    return applied


def _check_main_account(store: Store, schema: Schema, company: str, main: str, date: str) -> None:
    if not main:
        raise _fail("The main account must be filled in (first segment of AccountDisplayValue).")
    ledgers = store.select(schema.entities["Ledgers"], '"LegalEntityId" = ?', [company])
    if not ledgers:
        raise _fail(f"No ledger is set up for legal entity '{company}'.")
    chart = ledgers[0]["ChartOfAccounts"]
    accounts = store.select(
        schema.entities["MainAccounts"],
        '"ChartOfAccounts" = ? AND "MainAccountId" = ?',
        [chart, main],
    )
    if not accounts:
        raise _fail(f"The value '{main}' doesn't exist for MainAccount.")
    account = accounts[0]
    overrides = store.select(
        schema.entities["MainAccountLegalEntities"],
        '"ChartOfAccounts" = ? AND "MainAccountId" = ? AND "LegalEntityId" = ?',
        [chart, main, company],
    )
    suspended = account["IsSuspended"] == "Yes" or any(o["IsSuspended"] == "Yes" for o in overrides)
    if suspended:
        raise _fail(f"Main account {main} is suspended.")
    if account["DoNotAllowManualEntry"] == "Yes" or any(
        o["DoNotAllowManualEntry"] == "Yes" for o in overrides
    ):
        raise _fail(f"Main account {main} does not allow manual entry.")
    if not _within(date, account["ActiveFrom"], account["ActiveTo"]):
        raise _fail(f"Main account {main} is not active on {date[:10]}.")


def _check_dimension_value(
    store: Store,
    schema: Schema,
    company: str,
    dimension: str,
    value: str,
    date: str,
    entity_type: str = LINE_TYPE,
) -> None:
    def _fail(text: str) -> ODataError:
        return write_failed(entity_type, text)

    rows = store.select(
        schema.entities["FinancialDimensionValues"],
        '"FinancialDimension" = ? AND "DimensionValue" = ? AND "LegalEntityId" IN (?, ?)',
        [dimension, value, "", company],
        order='"LegalEntityId" DESC',  # a company-specific row wins over the shared one
    )
    if not rows:
        raise _fail(f"The value '{value}' doesn't exist for {dimension}.")
    row = rows[0]
    if row["IsSuspended"] == "Yes":
        raise _fail(f"{dimension} is suspended.")
    if not _within(date, row["ActiveFrom"], row["ActiveTo"]):
        raise _fail(f"The value '{value}' for {dimension} is not active on {date[:10]}.")
    # A shared value can be suspended or limited in time for one legal entity only (F&O's
    # "legal entity overrides" of a financial dimension value).
    for override in store.select(
        schema.entities["FinancialDimensionValueLegalEntityOverrides"],
        '"FinancialDimension" = ? AND "DimensionValue" = ? AND "LegalEntityId" = ?',
        [dimension, value, company],
    ):
        if override["IsSuspended"] == "Yes":
            raise _fail(f"{dimension} is suspended.")
        if not _within(date, override["ActiveFrom"], override["ActiveTo"]):
            raise _fail(
                f"The value '{value}' for {dimension} is not active on {date[:10]} in legal "
                f"entity {company}."
            )
