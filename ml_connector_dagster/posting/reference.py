"""Read what F&O says about a company's accounts, dimension values and journal names.

Per company: a value or account suspended (or out of its dates) for one legal entity only is
resolved for that entity (``ledger.company_reference``), and dates are checked against the
journal date by the check itself.

Shared by the ``valid_in_dynamics`` check and by the poster, which reads it again right
before it writes: the active format or a suspension can change between the check and the write,
and a format switch would otherwise post segments into the wrong dimensions without an error.

Both ask a ``ReferenceSource`` for a read no older than they accept. The checks take one up to
a few minutes old (``ML_CONNECTOR_DYNAMICS_REFERENCE_MAX_AGE_SECONDS``): one read names every
company of the mapping (F&O filters several in one request), so a 12-company pay period's runs
share it (``defs/payroll/fo_reference.py`` keeps it between processes) instead of each reading
eight entity sets (issue 12). The poster reads its own, right before its first write, and reads
again before a later journal once ``PREFLIGHT_MAX_AGE`` (a minute) has passed: a read made by
the checks or by another run may predate the change the write must see.
"""

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ml_connector_dagster import clock
from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.dynamics import readers
from ml_connector_dagster.dynamics.client import DynamicsClient
from ml_connector_dagster.ledger.checks import DynamicsReference
from ml_connector_dagster.ledger.company_reference import dimension_values_for, main_accounts_for
from ml_connector_dagster.posting.vouchers import VoucherSettings


def read_references(
    client: DynamicsClient, mapping: PayrollMapping, companies: Iterable[str]
) -> tuple[readers.DimensionFormat, dict[str, DynamicsReference], list[VoucherSettings]]:
    """The active ledger format and, per company (dataAreaId, upper case), its reference; and
    the voucher settings of every journal name read (the same JournalNames rows)."""
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
    vouchers = [
        VoucherSettings.from_row(n) for n in names if str(n.get("dataAreaId", "")).upper() in wanted
    ]
    return active, references, vouchers


# How old a read the poster accepts right before a write: the longest a format switch or a
# suspension can go unseen by the write (the checks accept older reads; the write does not).
PREFLIGHT_MAX_AGE = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class ReferenceRead:
    """One read of F&O's reference data for some companies, with when and for which mapping
    (the dimension values kept depend on the mapping's financial dimensions)."""

    read_at: dt.datetime
    mapping_hash: str
    active: readers.DimensionFormat
    references: dict[str, DynamicsReference] = field(default_factory=dict)  # by company
    # (company, journal name) -> its voucher settings: the poster takes them from its
    # preflight read instead of reading JournalNames once more per run.
    vouchers: dict[tuple[str, str], VoucherSettings] = field(default_factory=dict)

    def serves(
        self, companies: Iterable[str], mapping: PayrollMapping, max_age: dt.timedelta
    ) -> bool:
        """Whether this read may answer for ``companies`` under ``mapping`` now."""
        age = clock.now() - self.read_at
        return (
            self.mapping_hash == mapping.content_hash
            and dt.timedelta(0) <= age <= max_age
            and all(company.upper() in self.references for company in companies)
        )


# What the checks and the poster call for F&O's reference data: the companies they need and the
# oldest read they accept; the answer covers at least those companies.
ReferenceSource = Callable[[set[str], dt.timedelta], ReferenceRead]


def read_reference_set(
    client: DynamicsClient, mapping: PayrollMapping, companies: Iterable[str]
) -> ReferenceRead:
    """F&O's reference data for ``companies`` and every company of the mapping, read now."""
    read_at = clock.now()
    wanted = {c.upper() for c in companies} | {c.upper() for c in mapping.companies}
    active, references, vouchers = read_references(client, mapping, wanted)
    by_name = {(v.company, v.journal_name): v for v in vouchers}
    return ReferenceRead(read_at, mapping.content_hash, active, references, by_name)


def remembered_reads(client: DynamicsClient, mapping: PayrollMapping) -> ReferenceSource:
    """A source that keeps its last read in memory (one poster, one process)."""
    last: list[ReferenceRead] = []

    def source(companies: set[str], max_age: dt.timedelta) -> ReferenceRead:
        if last and last[0].serves(companies, mapping, max_age):
            return last[0]
        fresh = read_reference_set(client, mapping, companies)
        last[:] = [fresh]
        return fresh

    return source
