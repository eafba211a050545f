"""Read what F&O says about a company's accounts, dimension values and journal names.

Per company: a value or account suspended (or out of its dates) for one legal entity only is
resolved for that entity (``ledger.company_reference``), and dates are checked against the
journal date by the check itself.

Shared by the ``valid_in_dynamics`` check and by the poster, which reads it again immediately
before the first write of each journal: the active format or a suspension can change between
the check and the write, and a format switch would otherwise post segments into the wrong
dimensions without an error.
"""

from collections.abc import Iterable

from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.dynamics import readers
from ml_connector_dagster.dynamics.client import DynamicsClient
from ml_connector_dagster.ledger.checks import DynamicsReference
from ml_connector_dagster.ledger.company_reference import dimension_values_for, main_accounts_for


def read_references(
    client: DynamicsClient, mapping: PayrollMapping, companies: Iterable[str]
) -> tuple[readers.DimensionFormat, dict[str, DynamicsReference]]:
    """The active ledger format and, per company (dataAreaId, upper case), its reference."""
    wanted = {company.upper() for company in companies}
    active = readers.active_format(client)
    charts = {
        str(row.get("LegalEntityId", "")).upper(): str(row.get("ChartOfAccounts"))
        for row in readers.ledgers(client)
        if str(row.get("LegalEntityId", "")).upper() in wanted
    }
    accounts_by_chart: dict[str, dict[str, dict]] = {}
    for row in readers.main_accounts(client, set(charts.values())):
        accounts_by_chart.setdefault(str(row.get("ChartOfAccounts")), {})[
            str(row["MainAccountId"])
        ] = row
    dimensions = mapping.dimension_format.financial_dimensions
    values = readers.financial_dimension_values(client, dimensions)
    value_overrides = readers.dimension_value_overrides(client, dimensions, wanted)
    account_overrides = readers.main_account_overrides(client, wanted)
    names = readers.journal_names(client, wanted)
    references = {
        company: DynamicsReference(
            ledger_format=active.dimensions,
            delimiter=active.delimiter,
            main_accounts=main_accounts_for(
                accounts_by_chart.get(charts.get(company, ""), {}).values(),
                account_overrides,
                company,
            ),
            dimension_values=dimension_values_for(values, value_overrides, company),
            journal_names=frozenset(
                str(n["Name"]) for n in names if str(n.get("dataAreaId", "")).upper() == company
            ),
        )
        for company in sorted(wanted)
    }
    return active, references
