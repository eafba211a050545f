"""What the reconciliation step stores per month x company: the comparison and its basis.

Kept together so the workbook can be written again later (``ml-connector reconcile --export``)
exactly as the step saw it, with the runs behind the register and what made it incomplete.
"""

from dataclasses import dataclass

from ml_connector_dagster.ledger.reconciliation import PostedEntry, Reconciliation


@dataclass(frozen=True)
class RegisterRun:
    """One run in the register: what finance needs to find it in Rippling."""

    run_id: str
    pay_period: str
    check_date: str
    state: str
    lines: int


@dataclass(frozen=True)
class ReconciledMonth:
    reconciliation: Reconciliation
    runs: tuple[RegisterRun, ...]
    problems: tuple[str, ...]  # the register is incomplete (or places may not line up) when any
    dimension_order: tuple[str, ...]  # the mapping's financial dimensions, for the export
    # Entries of the connector's accrual journals in the month (estimates that reverse, not
    # the register): shown beside the comparison, never in it.
    accruals: tuple[PostedEntry, ...] = ()

    @property
    def reconciled(self) -> bool:
        """Every place matched and nothing made the register incomplete."""
        return self.reconciliation.reconciled and not self.problems

    def summary(self) -> str:
        text = self.reconciliation.summary()
        if self.problems:
            text += f" The register is incomplete: {self.problems[0]}"
            if len(self.problems) > 1:
                text += f" (and {len(self.problems) - 1} more)"
            text += "."
        return text
