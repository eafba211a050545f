"""The names finance knows accounts and departments by, next to the codes the ledger uses.

A journal line says ``600100`` and ``Department 022``; the reviewer thinks "Salaries" and
"Field Operations". Account names are F&O's (``MainAccounts.Name``, from the reference read the
checks already made: no extra request). A Department value is named by the Rippling
departments the mapping file sends to it (several departments may share one value: their names
are joined), else by F&O's description of the value; any other dimension value by F&O's
description. Names are for display only: nothing is matched or posted by them.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.ledger.checks import DynamicsReference
from ml_connector_dagster.ledger.inputs import WorkerContext

DEPARTMENT = "Department"


@dataclass(frozen=True)
class Names:
    """Display names of one company's accounts and dimension values ("" when unknown)."""

    accounts: dict[str, str] = field(default_factory=dict)  # MainAccountId -> name
    values: dict[tuple[str, str], str] = field(default_factory=dict)  # (dimension, value) -> name

    def account_name(self, account: str) -> str:
        return self.accounts.get(account, "")

    def dimension_name(self, dimension: str, value: str) -> str:
        return self.values.get((dimension, value), "")


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def names_for(
    mapping: PayrollMapping,
    workers: Iterable[WorkerContext],
    reference: DynamicsReference | None,
) -> Names:
    """The names of a company's accounts (``reference``: its F&O read) and of the dimension
    values the mapping gives the departments of ``workers``."""
    accounts: dict[str, str] = {}
    values: dict[tuple[str, str], str] = {}
    if reference is not None:
        accounts = {
            account: name
            for account, row in reference.main_accounts.items()
            if (name := _text(row.get("Name")))
        }
        values = {
            key: name
            for key, row in reference.dimension_values.items()
            if (name := _text(row.get("Description")))
        }
    departments: dict[str, set[str]] = defaultdict(set)  # Department value -> Rippling names
    for worker in workers:
        if not worker.department_key or not worker.department_name:
            continue
        value = mapping.departments.get(worker.department_key, {}).get(DEPARTMENT)
        if value:
            departments[value].add(worker.department_name.strip())
    for value, rippling in departments.items():
        values[(DEPARTMENT, value)] = " / ".join(sorted(rippling))
    return Names(accounts, values)
